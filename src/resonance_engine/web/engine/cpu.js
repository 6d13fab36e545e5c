// The CPU fallback of the browser engine: the leapfrog step and the measure kernels in
// plain JavaScript over typed arrays. Fields are float32 (Float32Array); arithmetic is
// in double and rounded to float32 where it is stored, as the numpy reference
// (backends/numpy_ref) does in float64 for the measures. Same contracts as the WGSL
// shaders of the WebGPU engine (webgpu.js), so both give the same results.

import { coefficients, sourceDrive } from "./physics.js";

const fround = Math.fround;

export class CpuEngine {
  constructor() {
    this.kind = "cpu";
    this.description = "JavaScript (typed arrays)";
  }

  /** Allocate the fields of a checked simulation (physics.checkConfig) at rest. */
  configure(sim) {
    this.sim = sim;
    const n = sim.nx * sim.ny;
    this.cur = new Float32Array(n);
    this.prev = new Float32Array(n);
    this.scratch = null;
    this.ring = null;
    this.drive = null;
  }

  zero() {
    this.cur.fill(0);
    this.prev.fill(0);
  }

  /** Advance `steps` steps from step `first` (its time is first * dt). */
  step(first, steps) {
    const sim = this.sim;
    const k = coefficients(sim);
    this.drive = sourceDrive(sim, first, steps, k.invDenom, this.drive);
    for (let s = 0; s < steps; s++) this.leapfrog(k, this.drive, s * sim.sources.length);
  }

  leapfrog(k, drive, offset) {
    const { nx, ny, stencil } = this.sim;
    const cur = this.cur, nxt = this.prev;  // u[n+1] is written over u[n-1]
    const periodic = k.boundary === 1;
    const i0 = periodic ? 0 : 1, i1 = periodic ? ny : ny - 1;
    const j0 = periodic ? 0 : 1, j1 = periodic ? nx : nx - 1;
    const fk = k.feedbackStrength;
    for (let i = i0; i < i1; i++) {
      const row = i * nx;
      const north = (i === 0 ? ny - 1 : i - 1) * nx;
      const south = (i === ny - 1 ? 0 : i + 1) * nx;
      for (let j = j0; j < j1; j++) {
        const c = cur[row + j];
        const west = j === 0 ? nx - 1 : j - 1;
        const east = j === nx - 1 ? 0 : j + 1;
        const lap = k.cx2 * (cur[row + west] + cur[row + east] - 2 * c)
          + k.cy2 * (cur[north + j] + cur[south + j] - 2 * c);
        let f = 0;
        if (k.feedback === 1) f = -fk * c * c * c;
        else if (k.feedback === 2) f = fk * Math.tanh(c);
        nxt[row + j] = (2 * c - k.prevCoef * nxt[row + j] + lap + k.dt2 * f) * k.invDenom;
      }
    }
    const { cells, weight, owner } = stencil;
    for (let e = 0; e < cells.length; e++) {
      const at = cells[e];
      nxt[at] = nxt[at] + fround(weight[e] * drive[offset + owner[e]]);
    }
    if (k.boundary === 0) {
      for (let j = 0; j < nx; j++) { nxt[j] = 0; nxt[(ny - 1) * nx + j] = 0; }
      for (let i = 0; i < ny; i++) { nxt[i * nx] = 0; nxt[i * nx + nx - 1] = 0; }
    } else if (k.boundary === 2) {
      // first-order Mur: the columns of the interior rows, then the full rows
      for (let i = 1; i < ny - 1; i++) {
        const r = i * nx;
        nxt[r] = cur[r + 1] + k.murX * (nxt[r + 1] - cur[r]);
        nxt[r + nx - 1] = cur[r + nx - 2] + k.murX * (nxt[r + nx - 2] - cur[r + nx - 1]);
      }
      const last = (ny - 1) * nx, inner = (ny - 2) * nx;
      for (let j = 0; j < nx; j++) {
        nxt[j] = cur[nx + j] + k.murY * (nxt[nx + j] - cur[j]);
        nxt[last + j] = cur[inner + j] + k.murY * (nxt[inner + j] - cur[last + j]);
      }
    }
    this.prev = cur;
    this.cur = nxt;
  }

  /** Whether u[n] holds only finite values. */
  finite() {
    for (let i = 0; i < this.cur.length; i++) if (!Number.isFinite(this.cur[i])) return false;
    return true;
  }

  /** u[n], row-major (ny, nx): a copy. */
  field() {
    return this.cur.slice();
  }

  // ---------------------------------------------------------------- measures
  frameStats() {
    const u = this.cur;
    let total = 0, squares = 0, largest = 0;
    for (let i = 0; i < u.length; i++) {
      const x = u[i];
      total += x;
      squares += x * x;
      const a = Math.abs(x);
      if (a > largest || Number.isNaN(a)) largest = a;
    }
    return [total / u.length, squares / u.length, largest];
  }

  firstCell() {
    return this.cur[0];
  }

  /** Box counts of |u| > theta at sizes 1 .. 2^levels (pyramid of "some"/"every" flags). */
  boxCounts(theta, levels, boundary) {
    const { nx, ny } = this.sim;
    const u = this.cur;
    let flags = new Uint8Array(nx * ny);
    const counts = [0];
    for (let i = 0; i < u.length; i++) {
      if (Math.abs(u[i]) > theta) { flags[i] = 3; counts[0] += 1; }
    }
    let cx = nx, cy = ny;
    for (let level = 1; level <= levels; level++) {
      const bx = Math.ceil(cx / 2), by = Math.ceil(cy / 2);
      const parent = new Uint8Array(bx * by);
      let count = 0;
      for (let y = 0; y < by; y++) {
        for (let x = 0; x < bx; x++) {
          let some = false, every = true;
          for (let dy = 0; dy < 2; dy++) {
            for (let dx = 0; dx < 2; dx++) {
              const qx = 2 * x + dx, qy = 2 * y + dy;
              if (qx < cx && qy < cy) {
                const f = flags[qy * cx + qx];
                some = some || (f & 1) !== 0;
                every = every && (f & 2) !== 0;
              }
            }
          }
          parent[y * bx + x] = (some ? 1 : 0) | (every ? 2 : 0);
          if (some && (!boundary || !every)) count += 1;
        }
      }
      counts.push(count);
      flags = parent;
      cx = bx;
      cy = by;
    }
    return counts;
  }

  /** G, C, tau and their combination (numpy_ref.metrics), means over the cells. */
  measure(p) {
    const { nx, ny } = this.sim;
    const n = nx * ny;
    if (!this.scratch) {
      this.scratch = { g: new Float64Array(n), a: new Float64Array(n), b: new Float64Array(n), c: new Float64Array(n) };
    }
    const { g, a, b, c } = this.scratch;
    const u = this.cur;
    // gain: mean of |u| over the centred window, truncated at the edges
    const r = (p.window - 1) / 2;
    for (let i = 0; i < ny; i++) {
      for (let j = 0; j < nx; j++) {
        let total = 0;
        for (let x = Math.max(0, j - r); x < Math.min(nx, j + r + 1); x++) total += Math.abs(u[i * nx + x]);
        a[i * nx + j] = total;
      }
    }
    for (let i = 0; i < ny; i++) {
      const lo = Math.max(0, i - r), hi = Math.min(ny, i + r + 1);
      for (let j = 0; j < nx; j++) {
        let total = 0;
        for (let y = lo; y < hi; y++) total += a[y * nx + j];
        const cells = (hi - lo) * (Math.min(nx, j + r + 1) - Math.max(0, j - r));
        g[i * nx + j] = total / cells;
      }
    }
    // coherence from the Gaussian local variance of u - shift
    const w = p.weights, rw = (w.length - 1) / 2;
    for (let i = 0; i < ny; i++) {
      for (let j = 0; j < nx; j++) {
        let m1 = 0, m2 = 0, norm = 0;
        for (let t = -rw; t <= rw; t++) {
          const x = j + t;
          if (x >= 0 && x < nx) {
            const v = u[i * nx + x] - p.shift;
            m1 += w[t + rw] * v;
            m2 += w[t + rw] * v * v;
            norm += w[t + rw];
          }
        }
        a[i * nx + j] = m1 / norm;
        b[i * nx + j] = m2 / norm;
      }
    }
    let cmin = Infinity, cmax = -Infinity;
    for (let i = 0; i < ny; i++) {
      for (let j = 0; j < nx; j++) {
        let m1 = 0, m2 = 0, norm = 0;
        for (let t = -rw; t <= rw; t++) {
          const y = i + t;
          if (y >= 0 && y < ny) {
            m1 += w[t + rw] * a[y * nx + j];
            m2 += w[t + rw] * b[y * nx + j];
            norm += w[t + rw];
          }
        }
        m1 /= norm;
        m2 /= norm;
        const variance = Math.max(m2 - m1 * m1, 0);
        const value = p.normalize === "frame" ? 1 / (variance + p.eps) : 1 / (1 + variance / p.scale);
        c[i * nx + j] = value;
        if (value < cmin) cmin = value;
        if (value > cmax) cmax = value;
      }
    }
    if (p.normalize === "frame") {
      const inv = cmax > cmin ? 1 / (cmax - cmin) : 0;
      for (let i = 0; i < n; i++) c[i] = cmax > cmin ? (c[i] - cmin) * inv : 1;
    }
    // dwell from the ring of past frames, then the current frame is stored
    if (!this.ring || this.ring.length !== p.history * n || (this.ring instanceof Int16Array) !== p.quantized) {
      this.ring = p.quantized ? new Int16Array(p.history * n) : new Float32Array(p.history * n);
    }
    const ring = this.ring;
    const tau = a;
    tau.fill(0);
    for (let l = 0; l < p.slots.length; l++) {
      const slot = p.slots[l];
      const weight = p.lagWeights[l];
      const scale = p.slotScale[slot];
      const base = slot * n;
      for (let i = 0; i < n; i++) {
        tau[i] += weight * Math.max(0, 1 - Math.abs(u[i] - ring[base + i] * scale) * p.invH);
      }
    }
    const store = p.storeSlot * n;
    const s32 = fround(p.storeScale);
    for (let i = 0; i < n; i++) {
      if (p.quantized) {
        // floor(u * scale + 0.5) in float32, clipped (numpy_ref.metrics.quantize)
        const q = Math.floor(fround(fround(u[i] * s32) + 0.5));
        ring[store + i] = Math.min(32767, Math.max(-32767, q));
      } else {
        ring[store + i] = u[i] * s32;
      }
    }
    // E = G C (1 - exp(-tau / gamma)) and the means
    let sg = 0, sc = 0, st = 0, se = 0;
    for (let i = 0; i < n; i++) {
      sg += g[i];
      sc += c[i];
      st += tau[i];
      se += g[i] * c[i] * -Math.expm1(-tau[i] / p.gamma);
    }
    return [sg / n, sc / n, st / n, se / n];
  }
}
