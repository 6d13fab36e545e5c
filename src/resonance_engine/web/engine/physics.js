// The physics of the browser engine: a SimulationConfig (its JSON form) turned into the
// coefficients, source stencil and drive table of the leapfrog kernels, with the checks
// and messages of resonance_engine.field (solver.py, sources.py, stability.py). The
// kernels themselves are the package's WGSL shaders (webgpu.js) or cpu.js.

/** Integer codes of the kernels (backends/base.py). */
export const BOUNDARY_CODES = { fixed: 0, periodic: 1, absorbing: 2 };
export const FEEDBACK_CODES = { none: 0, cubic: 1, tanh: 2 };

/** A refused configuration: the message is the one the Python engine gives. */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConfigError";
  }
}

// ------------------------------------------------------------------ Python formatting
function trimZeros(text) {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** Python's format(x, ".{p}g"). */
export function formatG(x, p = 6) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const exp = Number(x.toExponential(p - 1).split("e")[1]);
  if (exp < -4 || exp >= p) {
    const [mantissa, e] = x.toExponential(p - 1).split("e");
    const n = Number(e);
    return `${trimZeros(mantissa)}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  return trimZeros(x.toFixed(Math.max(0, p - 1 - exp)));
}

/** Python's repr of a float (shortest round-trip digits, Python's exponent rules). */
export function pyFloat(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [digits, e] = x.toExponential().split("e");
  const exp = Number(e);
  if (exp < -4 || exp >= 16) {
    return `${digits}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const sign = x < 0 ? "-" : "";
  const mantissa = digits.replace("-", "").replace(".", "");
  let text;
  if (exp < 0) text = `0.${"0".repeat(-exp - 1)}${mantissa}`;
  else if (mantissa.length <= exp + 1) text = `${mantissa}${"0".repeat(exp + 1 - mantissa.length)}.0`;
  else text = `${mantissa.slice(0, exp + 1)}.${mantissa.slice(exp + 1)}`;
  return sign + text;
}

/** Python's repr of a value of a float field (JSON cannot tell 2 from 2.0). */
export function pyReal(value) {
  return typeof value === "number" ? pyFloat(value) : pyRepr(value);
}

/** Python's repr of a JSON value (ints stay ints: JSON cannot tell 2 from 2.0). */
export function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === "string") return `'${value}'`;
  return JSON.stringify(value);
}

// ------------------------------------------------------------------ checks
function isNumber(v) {
  return typeof v === "number";
}

function positive(name, value) {
  if (!isNumber(value) || !Number.isFinite(value)) {
    throw new ConfigError(`${name} must be a finite number, got ${pyReal(value)}`);
  }
  if (value <= 0) throw new ConfigError(`${name} must be > 0, got ${pyReal(value)}`);
  return value;
}

/** c dt sqrt(1/dx^2 + 1/dy^2) (stability.py). */
export function courantNumber(c, dt, dx, dy) {
  return c * dt * Math.sqrt(1 / dx ** 2 + 1 / dy ** 2);
}

/** The largest stable time step (s). */
export function maxStableDt(c, dx, dy) {
  return 1 / (c * Math.sqrt(1 / dx ** 2 + 1 / dy ** 2));
}

/** The CFLViolation message of errors.py. */
export function cflMessage(number, dt, maxDt) {
  return (
    "CFL condition violated: Courant number c*dt*sqrt(1/dx^2+1/dy^2) = " +
    `${formatG(number, 4)} > 1 for dt = ${formatG(dt, 6)}; the largest stable dt on this grid is ` +
    `${formatG(maxDt, 6)} (use dt=None for ${formatG(0.8 * maxDt, 6)}, i.e. courant=0.8)`
  );
}

/** SimulationConfig's defaults (config.py). */
export const SIMULATION_DEFAULTS = {
  nx: 512, ny: 512, dx: 1.0, dy: null, dt: null, wave_speed: 1.0, damping: 0.0,
  boundary: "absorbing", courant: 0.8, feedback: null, feedback_strength: 1.0, sources: [],
  dtype: "float32", backend: "auto", source_width: 1.5, check_interval: 100, energy_limit: null,
};
const SOURCE_DEFAULTS = { amplitude: 1.0, frequency: 1.0, phase: 0.0 };

/**
 * A checked simulation: the config's values plus what the kernels need.
 *
 * @param {object} config the JSON form of SimulationConfig (missing keys take its
 *   defaults; "backend", "check_interval" and "energy_limit" are accepted and ignored).
 * @returns {object} {nx, ny, dx, dy, dt, waveSpeed, damping, boundary, feedback,
 *   feedbackStrength, courantNumber, sources, stencil}
 * @throws {ConfigError} with the message of WaveSolver2D for the same values.
 */
export function checkConfig(config) {
  const known = new Set(Object.keys(SIMULATION_DEFAULTS));
  for (const key of Object.keys(config)) {
    if (!known.has(key)) {
      throw new ConfigError(
        `unknown configuration key ${pyRepr(key)}; the keys are ${[...known].join(", ")}`,
      );
    }
  }
  const c = { ...SIMULATION_DEFAULTS, ...config };
  for (const name of ["nx", "ny"]) {
    if (!Number.isInteger(c[name]) || c[name] < 3) {
      throw new ConfigError(`${name} must be an integer >= 3, got ${pyRepr(c[name])}`);
    }
  }
  if (!(c.boundary in BOUNDARY_CODES)) {
    throw new ConfigError(
      `unknown boundary ${pyRepr(c.boundary)}; choose one of ${Object.keys(BOUNDARY_CODES).join(", ")}`,
    );
  }
  if (c.dtype !== "float32" && c.dtype !== "float64") {
    throw new ConfigError(`dtype must be 'float32' or 'float64', got ${pyRepr(c.dtype)}`);
  }
  if (c.dtype !== "float32") {
    throw new ConfigError("the browser engine steps float32 fields; use dtype='float32'");
  }
  if (!isNumber(c.courant) || !(c.courant > 0 && c.courant <= 1)) {
    throw new ConfigError(`courant must be in (0, 1], got ${pyReal(c.courant)}`);
  }
  const dx = positive("dx", c.dx);
  const dy = positive("dy", c.dy === null ? c.dx : c.dy);
  const waveSpeed = positive("wave_speed", c.wave_speed);
  const dt = c.dt === null ? c.courant * maxStableDt(waveSpeed, dx, dy) : positive("dt", c.dt);
  const number = courantNumber(waveSpeed, dt, dx, dy);
  if (number > 1 + 1e-12) {
    throw new ConfigError(cflMessage(number, dt, maxStableDt(waveSpeed, dx, dy)));
  }
  const feedback = c.feedback === null ? "none" : c.feedback;
  if (!(feedback in FEEDBACK_CODES)) {
    throw new ConfigError(
      `unknown feedback ${pyRepr(c.feedback)}; use None, 'cubic', 'tanh' or a callable f(u)`,
    );
  }
  if (!isNumber(c.feedback_strength) || !Number.isFinite(c.feedback_strength)) {
    throw new ConfigError(`feedback_strength must be a finite number, got ${pyRepr(c.feedback_strength)}`);
  }
  const sources = (c.sources || []).map((s, number) => {
    const src = { ...SOURCE_DEFAULTS, ...s };
    for (const name of ["x", "y", "amplitude", "frequency", "phase"]) {
      if (!isNumber(src[name]) || !Number.isFinite(src[name])) {
        throw new ConfigError(`PointSource.${name} must be finite, got ${pyReal(src[name])}`);
      }
    }
    if (src.frequency < 0) {
      throw new ConfigError(`PointSource.frequency must be >= 0 Hz, got ${pyFloat(src.frequency)}`);
    }
    return { x: src.x, y: src.y, amplitude: src.amplitude, frequency: src.frequency, phase: src.phase, number };
  });
  const width = positive("source_width", c.source_width);
  const sim = {
    nx: c.nx, ny: c.ny, dx, dy, dt, waveSpeed, boundary: c.boundary, feedback,
    feedbackStrength: c.feedback_strength, courantNumber: number, sources, sourceWidth: width,
  };
  sim.stencil = sourceStencil(sources, sim.nx, sim.ny, dx, dy, width);
  sim.damping = checkDamping(c.damping);
  return sim;
}

/** The damping setter's check (1/s). */
export function checkDamping(value) {
  if (!isNumber(value) || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(`damping must be finite and >= 0 (1/s), got ${pyReal(value)}`);
  }
  return value;
}

/**
 * Cells each point source touches: a Gaussian bump of peak 1, `width` cells wide, cut
 * where it falls below exp(-4.5) (sources.py).
 *
 * @returns {{cells: Int32Array, weight: Float64Array, owner: Int32Array}}
 */
export function sourceStencil(sources, nx, ny, dx, dy, width) {
  const cells = [], weight = [], owner = [];
  const reach = Math.max(1, Math.ceil(3 * width));
  const cut = Math.exp(-4.5);
  // Python's round() rounds half to even
  const round = (v) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  for (const src of sources) {
    const cx = src.x / dx, cy = src.y / dy;
    if (!(cx >= -0.5 && cx <= nx - 0.5 && cy >= -0.5 && cy <= ny - 0.5)) {
      throw new ConfigError(
        `source ${src.number} at (${pyFloat(src.x)}, ${pyFloat(src.y)}) lies outside the grid ` +
        `[0, ${formatG((nx - 1) * dx)}] x [0, ${formatG((ny - 1) * dy)}]; move it inside`,
      );
    }
    const j0 = Math.max(0, round(cx) - reach), j1 = Math.min(nx, round(cx) + reach + 1);
    const i0 = Math.max(0, round(cy) - reach), i1 = Math.min(ny, round(cy) + reach + 1);
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) {
        const w = Math.exp(-((j - cx) ** 2 + (i - cy) ** 2) / (2 * width ** 2));
        if (w > cut) {
          cells.push(i * nx + j);
          weight.push(w);
          owner.push(src.number);
        }
      }
    }
  }
  return { cells: Int32Array.from(cells), weight: Float64Array.from(weight), owner: Int32Array.from(owner) };
}

/**
 * The leapfrog coefficients of one step (WaveSolver2D._coefficients, one member).
 *
 * @param {object} sim from checkConfig
 * @param {boolean} undamped for the start-at-rest step
 */
export function coefficients(sim, undamped = false) {
  const gdt2 = undamped ? 0 : (sim.damping * sim.dt) / 2;
  const cdt = sim.waveSpeed * sim.dt;
  return {
    cx2: (cdt / sim.dx) ** 2,
    cy2: (cdt / sim.dy) ** 2,
    prevCoef: 1 - gdt2,
    invDenom: 1 / (1 + gdt2),
    dt2: sim.dt ** 2,
    boundary: BOUNDARY_CODES[sim.boundary],
    murX: (cdt - sim.dx) / (cdt + sim.dx),
    murY: (cdt - sim.dy) / (cdt + sim.dy),
    feedback: FEEDBACK_CODES[sim.feedback],
    feedbackStrength: sim.feedbackStrength,
  };
}

/**
 * The drive table dt^2 inv_denom A sin(2 pi f t_n + phase) of `steps` steps from step
 * `first` (source_drive of sources.py), as float32, row-major (steps, n_sources).
 */
export function sourceDrive(sim, first, steps, invDenom, out) {
  const n = sim.sources.length;
  const table = out && out.length >= steps * n ? out : new Float32Array(steps * n);
  const scale = sim.dt * sim.dt * invDenom;
  const t0 = first * sim.dt;
  for (let s = 0; s < steps; s++) {
    const t = t0 + sim.dt * s;
    for (let k = 0; k < n; k++) {
      const src = sim.sources[k];
      table[s * n + k] = scale * src.amplitude * Math.sin(2 * Math.PI * src.frequency * t + src.phase);
    }
  }
  return table;
}
