// The standalone page: the dashboard of static/app.js (field, charts, controls) driven by
// the engine running in this browser instead of a server. It installs
//   window.resonance        the engine (resonance.js), engine chosen by ?engine=cpu|webgpu
//   window.resonanceSocket  a factory app.js uses instead of a WebSocket: an object that
//                           speaks the dashboard protocol (web/protocol.py) locally
// The run is described by config.json next to the page ({"simulation": ...,
// "metrics": ..., "metrics_every": N, "steps_per_frame": N, "fps": F, "max_side": N,
// "store": URL or null}). ?run=0 installs the engine without starting the run.

import { createResonance } from "./resonance.js";

const params = new URLSearchParams(window.location.search);
const engineChoice = params.get("engine") || "auto";
const resonance = createResonance({ engine: engineChoice });
window.resonance = resonance;

const SERIES = ["D", "G", "C", "tau", "CI"];
const KEYS = { D: "fractal_dim", G: "gain", C: "coherence", tau: "dwell", CI: "ci" };
const HEADER_BYTES = 32;

/** Binary field frames as FrameEncoder (web/protocol.py) makes them. */
class FrameEncoder {
  constructor(maxSide, decay = 0.97) {
    this.maxSide = maxSide;
    this.decay = decay;
    this.scale = 0;
  }

  encode(u, nx, ny, step, t) {
    const k = Math.max(1, Math.ceil(Math.max(ny, nx) / this.maxSide));
    const w = Math.floor(nx / k), h = Math.floor(ny / k);
    const small = new Float32Array(w * h);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        let total = 0;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) total += u[(r * k + i) * nx + c * k + j];
        small[r * w + c] = Number.isFinite(total) ? total / (k * k) : 0;
      }
    }
    let peak = 0;
    for (const v of small) peak = Math.max(peak, Math.abs(v));
    this.scale = Math.max(peak, this.scale * this.decay);
    const scale = this.scale > 0 ? this.scale : 1;
    const buffer = new ArrayBuffer(HEADER_BYTES + w * h);
    const view = new DataView(buffer);
    view.setUint8(0, 0x52); view.setUint8(1, 0x46); view.setUint8(2, 1); view.setUint8(3, 0);
    view.setUint16(4, 0, true); view.setUint16(6, w, true); view.setUint16(8, h, true);
    view.setUint16(10, k, true); view.setBigUint64(12, BigInt(step), true);
    view.setFloat64(20, t, true); view.setFloat32(28, scale, true);
    const q = new Uint8Array(buffer, HEADER_BYTES);
    for (let i = 0; i < small.length; i++) q[i] = Math.min(255, Math.max(0, small[i] * (127.5 / scale) + 128));
    return { buffer, shape: [w, h] };
  }
}

/** A WebSocket look-alike for app.js: the run happens here, in this page. */
class LocalSocket {
  constructor() {
    this.readyState = 0;
    this.binaryType = "arraybuffer";
    this.paused = false;
    this.error = null;
    this.rate = 0;
    setTimeout(() => this.start().catch((e) => this.fail(e)), 0);
  }

  emit(data) {
    if (this.onmessage) this.onmessage({ data });
  }

  message(obj) {
    this.emit(JSON.stringify(obj, (k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v)));
  }

  fail(error) {
    this.error = String(error.message || error);
    document.body.dataset.engineError = this.error;
    this.message({ type: "state", state: this.state() });
  }

  async start() {
    const response = await fetch(new URL(`config.json${window.location.search}`, window.location.href));
    const site = await response.json();
    this.site = site;
    await resonance.ready;
    document.body.dataset.backend = resonance.backend;
    await resonance.configure({ ...site.simulation, metrics: site.metrics || {} });
    this.encoder = new FrameEncoder(site.max_side || 256);
    this.readyState = 1;
    if (this.onopen) this.onopen();
    const sim = resonance.simulation;
    const k = Math.max(1, Math.ceil(Math.max(sim.nx, sim.ny) / this.encoder.maxSide));
    this.message({
      type: "hello", protocol: 1, mode: "browser",
      title: "resonance-engine",
      series: SERIES, groups: SERIES.map((s) => ({ title: s, series: [s] })),
      metrics_source: `complexity measures (in this browser: ${resonance.backend}, ${resonance.adapter})`,
      frame: [Math.floor(sim.nx / k), Math.floor(sim.ny / k)],
      history: [], alerts: [], state: this.state(),
    });
    await this.sendFrame();
    if (params.get("run") !== "0") this.loop();
  }

  state() {
    const sim = resonance.simulation;
    if (!sim) {
      return { paused: this.paused, running: false, error: this.error, step: 0, t: 0, dt: 0, grid: [0, 0],
        dx: 0, courant: 0, damping: 0, wave_speed: 0, frequencies: [], member: 0, members: 1,
        steps_per_s: 0, limits: { damping: { max: 0 }, wave_speed: { max: 0 }, frequency: { max: 0 } } };
    }
    return {
      paused: this.paused, running: this.error === null, error: this.error,
      step: resonance.stepCount, t: resonance.t, dt: sim.dt, grid: [sim.nx, sim.ny], dx: sim.dx,
      courant: sim.courantNumber, damping: sim.damping, wave_speed: sim.waveSpeed,
      frequencies: sim.sources.map((s) => s.frequency), member: 0, members: 1,
      steps_per_s: this.rate, limits: resonance.limits(),
    };
  }

  async sendFrame() {
    const sim = resonance.simulation;
    const u = await resonance.field();
    this.emit(this.encoder.encode(u, sim.nx, sim.ny, resonance.stepCount, resonance.t).buffer);
  }

  async loop() {
    const site = this.site;
    const every = site.metrics_every || 50;
    const chunk = site.steps_per_frame || 10;
    const frameMs = 1000 / (site.fps || 30);
    let lastFrame = 0, rateTime = performance.now(), rateStep = resonance.stepCount, lastState = 0;
    const pending = [];
    while (this.error === null) {
      if (this.paused) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // up to the next measured step, at most `chunk` steps
      const toMetric = every - (resonance.stepCount % every);
      await resonance.step(Math.min(chunk, toMetric));
      if (resonance.stepCount % every === 0) {
        const m = await resonance.metrics();
        const row = [m.step, m.t, ...SERIES.map((s) => m[KEYS[s]])];
        this.message({ type: "metrics", rows: [row] });
        pending.push(row);
      }
      const now = performance.now();
      if (now - lastFrame >= frameMs) {
        lastFrame = now;
        await this.sendFrame();
        await new Promise((r) => setTimeout(r, 0));  // let the page draw
      }
      if (now - lastState >= 500) {
        this.rate = (resonance.stepCount - rateStep) / ((now - rateTime) / 1000);
        rateStep = resonance.stepCount;
        rateTime = now;
        lastState = now;
        this.message({ type: "state", state: this.state() });
        if (site.store && pending.length) this.store(site.store, pending.splice(0));
      }
    }
  }

  store(url, rows) {
    fetch(new URL(url, window.location.href), {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ series: SERIES, rows }),
    }).catch(() => {});
  }

  async send(text) {
    const msg = JSON.parse(text);
    if (msg.type === "ack") return;
    try {
      if (msg.type === "pause" || msg.type === "resume") this.paused = msg.type === "pause";
      else if (msg.type === "set" && msg.param === "damping") await resonance.setDamping(msg.value);
      else if (msg.type === "set" && msg.param === "wave_speed") await resonance.setWaveSpeed(msg.value);
      else if (msg.type === "set" && msg.param === "frequency") await resonance.setFrequency(msg.value, msg.source ?? null);
      else throw new Error(`unknown request ${JSON.stringify(msg.type)} ${JSON.stringify(msg.param || "")}`);
      const state = this.state();
      this.message({ type: "result", id: msg.id, ok: true, state });
      this.message({ type: "state", state });
    } catch (error) {
      this.message({ type: "error", id: msg.id, param: msg.param, message: String(error.message || error) });
    }
  }

  close() {}
}

window.resonanceSocket = () => new LocalSocket();
