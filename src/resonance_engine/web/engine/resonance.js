// resonance-engine in the browser (and under Node with the `webgpu` package): the
// public object that a page installs as `window.resonance`.
//
//   const r = createResonance({ engine: "auto" });   // or "cpu", "webgpu"
//   await r.ready;                                   // r.backend: "webgpu" or "cpu"
//   await r.configure({ nx: 128, ny: 128, damping: 0.1, sources: [...] });
//   await r.step(200);
//   const u = await r.field();                       // Float32Array, row-major ny x nx
//   const m = await r.metrics();                     // {fractal_dim, gain, coherence, dwell, ci, ...}
//
// configure() takes the JSON form of SimulationConfig (plus an optional "metrics" key
// holding the JSON form of MetricsConfig) and rejects what WaveSolver2D refuses, with its
// message. Calls are queued: each runs after the previous one has finished.

import { CpuEngine } from "./cpu.js";
import { checkConfig, checkDamping, ConfigError, courantNumber, formatG, pyRepr } from "./physics.js";
import { checkMetrics, Measures } from "./measures.js";
import { WebGpuEngine } from "./webgpu.js";

export { ConfigError } from "./physics.js";
export { MetricError } from "./measures.js";

/** The field became non-finite (DivergenceError of the Python engine). */
export class DivergenceError extends Error {
  constructor(message) {
    super(message);
    this.name = "DivergenceError";
  }
}

/** Where the .wgsl files are: ../shaders/ in a site; in the package (Node) the wgpu backend's. */
async function defaultShaders() {
  const site = new URL("../shaders/", import.meta.url);
  if (site.protocol !== "file:") return site;
  const fs = await import("node:fs/promises");
  try {
    await fs.access(new URL("leapfrog.wgsl", site));
    return site;
  } catch {
    return new URL("../../backends/wgpu_gpu/shaders/", import.meta.url);
  }
}

function number(name, value) {
  if (typeof value !== "number") throw new ConfigError(`${name} must be a number, got ${pyRepr(value)}`);
  if (!Number.isFinite(value)) throw new ConfigError(`${name} must be finite, got ${pyRepr(value)}`);
  return value;
}

export class Resonance {
  /**
   * @param {object} options
   * @param {"auto"|"webgpu"|"cpu"} [options.engine] "auto" uses WebGPU when there is a
   *   hardware adapter, else the CPU fallback (on a software adapter such as SwiftShader the
   *   JavaScript engine steps and measures several times faster); "webgpu" takes any
   *   adapter, software ones too, and fails without one.
   * @param {URL|string} [options.shaders] where the .wgsl files are (default ../shaders/
   *   next to this module).
   * @param {GPU} [options.gpu] the WebGPU entry point (default navigator.gpu).
   */
  constructor(options = {}) {
    this.backend = null;
    this.adapter = null;
    this.stepCount = 0;
    this.sim = null;
    this.measures = null;
    this.metricsConfig = null;
    this.queue = Promise.resolve();
    this.ready = this.init(options);
  }

  async init({ engine = "auto", shaders, gpu } = {}) {
    if (!["auto", "webgpu", "cpu"].includes(engine)) {
      throw new ConfigError(`engine must be 'auto', 'webgpu' or 'cpu', got ${pyRepr(engine)}`);
    }
    const entry = gpu || (globalThis.navigator && globalThis.navigator.gpu);
    let chosen = null;
    if (engine !== "cpu") {
      try {
        chosen = await WebGpuEngine.create(entry, shaders || (await defaultShaders()),
          engine === "webgpu");
        if (!chosen && entry) this.fallbackReason = "no hardware WebGPU adapter";
      } catch (error) {
        if (engine === "webgpu") throw error;
        this.fallbackReason = String(error);
      }
      if (!chosen && engine === "webgpu") throw new Error("WebGPU: no adapter (navigator.gpu missing or refused)");
    }
    this.engine = chosen || new CpuEngine();
    this.backend = this.engine.kind;
    this.adapter = this.engine.description;
    return this.backend;
  }

  /** Run `fn` after every earlier call has finished (the engines are not reentrant). */
  enqueue(fn) {
    const result = this.queue.then(() => this.ready).then(fn);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Simulated time of the current field (s). */
  get t() {
    return this.sim ? this.stepCount * this.sim.dt : 0;
  }

  /** The checked simulation (dt, Courant number, ...) or null before configure(). */
  get simulation() {
    return this.sim;
  }

  configure(config) {
    return this.enqueue(() => {
      if (config === null || typeof config !== "object" || Array.isArray(config)) {
        throw new ConfigError(`a configuration is an object (SimulationConfig's JSON), got ${pyRepr(config)}`);
      }
      const { metrics = {}, ...simulation } = config;
      const sim = checkConfig(simulation);
      const metricsConfig = checkMetrics(metrics);
      this.engine.configure(sim);
      this.sim = sim;
      this.metricsConfig = metricsConfig;
      this.measures = null;  // made on the first metrics() (a small grid refuses there)
      this.stepCount = 0;
      return { dt: sim.dt, courant: sim.courantNumber };
    });
  }

  requireConfig() {
    if (!this.sim) throw new ConfigError("call configure(config) first");
  }

  step(n = 1) {
    return this.enqueue(async () => {
      this.requireConfig();
      if (!Number.isInteger(n) || n < 0) {
        throw new ConfigError(`step count must be an integer >= 0, got ${pyRepr(n)}`);
      }
      if (n === 0) return this.stepCount;
      this.engine.step(this.stepCount, n);
      this.stepCount += n;
      if (!(await this.engine.finite())) {
        throw new DivergenceError(
          `the field became non-finite by step ${this.stepCount} (t = ${formatG(this.t)} s, ` +
          `Courant number ${this.sim.courantNumber.toFixed(3)}); lower the feedback gain or ` +
          "the source amplitude, or add damping",
        );
      }
      return this.stepCount;
    });
  }

  field() {
    return this.enqueue(() => {
      this.requireConfig();
      return this.engine.field();
    });
  }

  metrics() {
    return this.enqueue(async () => {
      this.requireConfig();
      if (!this.measures) {
        this.measures = new Measures(this.engine, this.sim, this.metricsConfig);
      }
      const m = await this.measures.frame(this.t);
      return { ...m, step: this.stepCount, t: this.t };
    });
  }

  // ---------------------------------------------------------------- live controls
  // The checks and messages of web/controls.py: the time step stays, so the wave speed
  // is bounded by the CFL limit of that step.

  /** Largest values of the live controls (control_limits of web/controls.py). */
  limits() {
    const s = this.sim;
    return {
      damping: { min: 0, max: 2 / s.dt },
      wave_speed: { min: 0, max: s.waveSpeed / courantNumber(s.waveSpeed, s.dt, s.dx, s.dy) },
      frequency: { min: 0, max: Math.min(s.waveSpeed / (2 * Math.max(s.dx, s.dy)), 1 / (2 * s.dt)) },
    };
  }

  setDamping(value) {
    return this.enqueue(() => {
      this.requireConfig();
      const gamma = number("damping", value);
      if (gamma < 0) {
        throw new ConfigError(
          `damping ${formatG(gamma)} 1/s is negative: it feeds energy in and the field grows ` +
          "without bound; use a value >= 0",
        );
      }
      const limit = this.limits().damping.max;
      if (gamma > limit) {
        throw new ConfigError(
          `damping ${formatG(gamma)} 1/s exceeds 2/dt = ${formatG(limit)} 1/s: with damping*dt/2 > 1 ` +
          `the centred scheme flips the sign of the field every step; use a value <= ${formatG(limit)}`,
        );
      }
      this.sim.damping = checkDamping(gamma);
      return gamma;
    });
  }

  setWaveSpeed(value) {
    return this.enqueue(() => {
      this.requireConfig();
      const s = this.sim;
      const c = number("wave_speed", value);
      if (c <= 0) throw new ConfigError(`wave_speed must be > 0 m/s, got ${formatG(c)}`);
      const courant = courantNumber(c, s.dt, s.dx, s.dy);
      if (courant > 1 + 1e-12) {
        throw new ConfigError(
          `wave speed ${formatG(c)} m/s is unstable with this run's dt = ${formatG(s.dt)} s: ` +
          `Courant number c*dt*sqrt(1/dx^2+1/dy^2) = ${formatG(courant, 4)} > 1; the largest ` +
          `stable wave speed is ${formatG(s.waveSpeed / s.courantNumber)} m/s`,
        );
      }
      s.waveSpeed = c;
      s.courantNumber = courant;
      return courant;
    });
  }

  /** Set the frequency of one source (index) or of all (null), keeping each drive continuous. */
  setFrequency(value, source = null) {
    return this.enqueue(() => {
      this.requireConfig();
      const s = this.sim;
      const f = number("frequency", value);
      const n = s.sources.length;
      if (n === 0) throw new ConfigError("this simulation has no sources whose frequency could change");
      if (source !== null && !(Number.isInteger(source) && source >= 0 && source < n)) {
        throw new ConfigError(`source must be an index in [0, ${n - 1}] or null for all, got ${pyRepr(source)}`);
      }
      if (f < 0) throw new ConfigError(`frequency must be >= 0 Hz, got ${formatG(f)}`);
      const limit = this.limits().frequency.max;
      if (f > limit) {
        throw new ConfigError(
          `frequency ${formatG(f)} Hz is not resolved: the grid needs at least 2 cells per ` +
          `wavelength and 2 steps per period; the largest usable frequency is ${formatG(limit)} Hz`,
        );
      }
      for (const src of source === null ? s.sources : [s.sources[source]]) {
        const phase = src.phase + 2 * Math.PI * (src.frequency - f) * this.t;
        src.phase = ((phase % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
        src.frequency = f;
      }
      return s.sources.map((src) => src.frequency);
    });
  }
}

/** A new engine; `await engine.ready` before reading `engine.backend`. */
export function createResonance(options) {
  return new Resonance(options);
}
