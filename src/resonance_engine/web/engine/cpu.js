// The CPU fallback of the browser engine: the leapfrog step and the measure kernels in
// plain JavaScript over typed arrays. Fields are float32 (Float32Array); arithmetic is
// in double and rounded to float32 where it is stored, as the numpy reference
// (backends/numpy_ref) does in float64 for the measures. Same contracts as the WGSL
// shaders of the WebGPU engine (webgpu.js), so both give the same results.

import { shiftFactor, tightShifts } from "./measures.js";
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
    this.drive = null;
    this.frameKernels = null;
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
    // float32 arithmetic in numpy_ref's order (every operation rounded with fround, the
    // constants cast to float32 as numpy casts them), so the field follows numpy's
    // float32 run to the bit instead of drifting by float64 roundings
    const fk = fround(k.feedbackStrength), cx2 = fround(k.cx2), cy2 = fround(k.cy2);
    const pc = fround(k.prevCoef), inv = fround(k.invDenom), dt2 = fround(k.dt2);
    for (let i = i0; i < i1; i++) {
      const row = i * nx;
      const north = (i === 0 ? ny - 1 : i - 1) * nx;
      const south = (i === ny - 1 ? 0 : i + 1) * nx;
      for (let j = j0; j < j1; j++) {
        const c = cur[row + j];
        const c2 = 2 * c;  // exact in float32
        const west = j === 0 ? nx - 1 : j - 1;
        const east = j === nx - 1 ? 0 : j + 1;
        const lx = fround(cx2 * fround(fround(cur[row + west] + cur[row + east]) - c2));
        const ly = fround(cy2 * fround(fround(cur[north + j] + cur[south + j]) - c2));
        let f = 0;
        if (k.feedback === 1) f = fround(fround(fround(-fk * c) * c) * c);
        else if (k.feedback === 2) f = fround(fk * fround(Math.tanh(c)));
        let t = fround(c2 - fround(pc * nxt[row + j]));
        t = fround(t + fround(lx + ly));
        t = fround(t + fround(dt2 * f));
        nxt[row + j] = t * inv;  // the Float32Array store rounds the product
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
      // first-order Mur: the columns of the interior rows, then the full rows (float32)
      const mx = fround(k.murX), my = fround(k.murY);
      const mur = (edge, next, m, here) => edge + fround(m * fround(next - here));
      for (let i = 1; i < ny - 1; i++) {
        const r = i * nx;
        nxt[r] = mur(cur[r + 1], nxt[r + 1], mx, cur[r]);
        nxt[r + nx - 1] = mur(cur[r + nx - 2], nxt[r + nx - 2], mx, cur[r + nx - 1]);
      }
      const last = (ny - 1) * nx, inner = (ny - 2) * nx;
      for (let j = 0; j < nx; j++) {
        nxt[j] = mur(cur[nx + j], nxt[nx + j], my, cur[j]);
        nxt[last + j] = mur(cur[inner + j], nxt[inner + j], my, cur[last + j]);
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

  /** The dominant temporal frequency (Hz): the RMS angular frequency of u from the two
   *  fields one step apart, every 8th row (field_frequency of metrics/analyzer.py). */
  dominantFrequency() {
    const { nx, ny, dt } = this.sim;
    let total = 0, count = 0;
    for (let i = 0; i < ny; i += 8) for (let j = 0; j < nx; j++) { total += this.cur[i * nx + j]; count++; }
    const mean = total / count;
    let spread = 0, rate = 0;
    for (let i = 0; i < ny; i += 8) {
      for (let j = 0; j < nx; j++) {
        const c = this.cur[i * nx + j];
        spread += (c - mean) ** 2;
        rate += ((c - this.prev[i * nx + j]) / dt) ** 2;
      }
    }
    return spread > 0 ? Math.sqrt(rate / spread) / (2 * Math.PI) : null;
  }

  /** The measure kernels, over this engine's current field. */
  measureKernels() {
    if (!this.frameKernels) this.frameKernels = new FrameKernels(this.sim.nx, this.sim.ny);
    this.frameKernels.u = this.cur;
    return this.frameKernels;
  }
}

/**
 * The measure kernels on a float32 field in host memory (the contracts of
 * backends/base.py MetricKernels, computed as backends/numpy_ref/metrics.py does).
 * Set `u` to the frame before each call; the dwell state (ring or recursive) is kept here.
 */
export class FrameKernels {
  constructor(nx, ny) {
    this.nx = nx;
    this.ny = ny;
    this.u = null;
    this.scratch = null;
    this.ring = null;
    this.recursive = null;
  }

  frameStats() {
    const u = this.u;
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
    return this.u[0];
  }

  /**
   * Box counts of |u| > theta at sizes base^0 .. base^levels. With `shifted` the box grid
   * is shifted by multiples of size / shiftFactor (numpy_ref.metrics.shifted_box_counts):
   * occupancy keeps the mean count over the tight grids (those covering the mask's extent
   * with the fewest rows and columns of boxes: backends/box_grid.py), boundary the mean
   * over all the shifts.
   */
  boxCounts(theta, levels, boundary, base = 2, shifted = false) {
    const { nx, ny, u } = this;
    const mask = new Uint8Array(nx * ny);
    let active = 0;
    let r0 = ny, r1 = -1, c0 = nx, c1 = -1;
    for (let i = 0; i < u.length; i++) {
      if (Math.abs(u[i]) > theta) {
        mask[i] = 1; active++;
        const r = Math.floor(i / nx), c = i % nx;
        r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c);
      }
    }
    if (!active) [r0, r1, c0, c1] = [0, ny - 1, 0, nx - 1];
    const counts = [active];
    for (let level = 1; level <= levels; level++) {
      const s = base ** level;
      const step = shifted ? s / shiftFactor(s, base) : s;
      const ys = boundary ? null : tightShifts(r0, r1, s, step);
      const xs = boundary ? null : tightShifts(c0, c1, s, step);
      const found = [];
      for (let dy = 0; dy < s; dy += step) {
        if (ys && !ys.includes(dy)) continue;
        for (let dx = 0; dx < s; dx += step) {
          if (xs && !xs.includes(dx)) continue;
          const bx = Math.ceil((nx + dx) / s), by = Math.ceil((ny + dy) / s);
          const some = new Uint8Array(bx * by), every = new Uint8Array(bx * by).fill(1);
          for (let i = 0; i < ny; i++) {
            const row = Math.floor((i + dy) / s) * bx;
            for (let j = 0; j < nx; j++) {
              const box = row + Math.floor((j + dx) / s);
              if (mask[i * nx + j]) some[box] = 1; else every[box] = 0;
            }
          }
          let count = 0;
          for (let b = 0; b < some.length; b++) if (some[b] && (!boundary || !every[b])) count++;
          found.push(count);
        }
      }
      counts.push(found.reduce((a, b) => a + b, 0) / found.length);
    }
    return counts;
  }

  /**
   * G, C, tau and E = G C (1 - exp(-tau / gamma)) of the frame; returns their means.
   * p: window, weights, shift, inward, momentScale, local (C = m1^2 / m2), cohA, cohB,
   * normalize ("frame" rescales C by its min and max), undefinedC (C is NaN), gamma, and
   * the dwell: recursive {invH, decay, increment, rate} or the ring's {slots, lagWeights,
   * slotScale, invH, storeSlot, storeScale, quantized, history}.
   */
  measure(p) {
    const { nx, ny, u } = this;
    const n = nx * ny;
    if (!this.scratch) {
      this.scratch = { g: new Float64Array(n), a: new Float64Array(n), b: new Float64Array(n), c: new Float64Array(n) };
    }
    const { g, a, b, c } = this.scratch;
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
        g[i * nx + j] = total / ((hi - lo) * (Math.min(nx, j + r + 1) - Math.max(0, j - r)));
      }
    }
    // local moments of x = u - shift (in-grid weights renormalized; or moved inward)
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
      if (p.inward && nx >= 2 * rw + 1) {
        for (let j = 0; j < rw; j++) {
          a[i * nx + j] = a[i * nx + rw]; b[i * nx + j] = b[i * nx + rw];
          a[i * nx + nx - 1 - j] = a[i * nx + nx - 1 - rw]; b[i * nx + nx - 1 - j] = b[i * nx + nx - 1 - rw];
        }
      }
    }
    const inwardY = p.inward && ny >= 2 * rw + 1;
    const scale = p.momentScale;
    let cmin = Infinity, cmax = -Infinity;
    for (let i = 0; i < ny; i++) {
      const ci = inwardY ? Math.min(Math.max(i, rw), ny - 1 - rw) : i;
      for (let j = 0; j < nx; j++) {
        let m1 = 0, m2 = 0, norm = 0;
        for (let t = -rw; t <= rw; t++) {
          const y = ci + t;
          if (y >= 0 && y < ny) {
            m1 += w[t + rw] * a[y * nx + j];
            m2 += w[t + rw] * b[y * nx + j];
            norm += w[t + rw];
          }
        }
        m1 = (m1 / norm) * scale;
        m2 = (m2 / norm) * scale * scale;
        let value;
        if (p.local) value = m2 > 0 ? Math.min((m1 * m1) / m2, 1) : 1;
        else value = 1 / (p.cohA * Math.max(m2 - m1 * m1, 0) + p.cohB);
        c[i * nx + j] = value;
        if (value < cmin) cmin = value;
        if (value > cmax) cmax = value;
      }
    }
    if (p.undefinedC) c.fill(NaN);
    else if (p.normalize === "frame") {
      const inv = cmax > cmin ? 1 / (cmax - cmin) : 0;
      for (let i = 0; i < n; i++) c[i] = cmax > cmin ? (c[i] - cmin) * inv : 1;
    }
    const tau = a;
    if (p.recursive) this.recursiveDwell(p.recursive, tau);
    else this.ringDwell(p, tau);
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

  /** Weighted similarities to the ring's past frames, then the frame is stored. */
  ringDwell(p, tau) {
    const u = this.u, n = u.length;
    if (!this.ring || this.ring.length !== p.history * n || (this.ring instanceof Int16Array) !== p.quantized) {
      this.ring = p.quantized ? new Int16Array(p.history * n) : new Float32Array(p.history * n);
    }
    const ring = this.ring;
    tau.fill(0);
    for (let l = 0; l < p.slots.length; l++) {
      const slot = p.slots[l], weight = p.lagWeights[l], scale = p.slotScale[slot], base = slot * n;
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
  }

  /** The exact step of dtau/dt = 1 - k tau (numpy_ref.metrics.recursive_dwell); the
   *  state (previous frame and tau) is float32, like the field. */
  recursiveDwell(q, tau) {
    const u = this.u, n = u.length;
    if (!this.recursive) this.recursive = { prev: new Float32Array(n), tau: new Float32Array(n) };
    const state = this.recursive;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(u[i] - state.prev[i]) * q.invH;
      const e = q.decay * Math.exp(-a);
      const kdt = q.rate + a;
      const gain = kdt > 1e-6 ? (1 - e) / kdt : 1 - kdt / 2;
      tau[i] = e * state.tau[i] + q.increment * gain;
    }
    state.tau.set(tau);
    state.prev.set(u);
  }
}
