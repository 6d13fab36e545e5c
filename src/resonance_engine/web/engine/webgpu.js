// The WebGPU engine: the package's WGSL shaders (backends/wgpu_gpu/shaders, loaded as
// they are, the float32 prelude prepended as backends/wgpu_gpu/device.py does) assembled
// and dispatched the way backends/wgpu_gpu/field.py and metrics.py do it, through the
// WebGPU API. The fields stay on the GPU; only scalars come back, and the field when
// asked for. One field (batch 1), float32. Every form of the measures runs in the
// shaders, as in analysis.py ResidentMeasures: D over aligned or shifted box grids, base
// 2 or 3; C "local", "relative", "bounded" or "frame" with inward or renormalised edges;
// the recursive dwell or the ring. The host side (measures.js) is the CPU engine's too.

import { boxLayout, shiftedCounts } from "./measures.js";
import { coefficients, sourceDrive } from "./physics.js";

const LINE_GROUP = 64;     // workgroup size of add_sources and apply_mur
const REDUCE_GROUP = 256;  // workgroup size of the reductions
// Workgroups of the reductions that synchronise with workgroupBarrier (frame_sums,
// minmax_partial, normalize_frame, combine; each grid-strides over the frame). The
// Python backend takes up to 256; here at most 16: on SwiftShader a workgroup that meets
// a barrier is expensive beyond a dozen or so of them (a 256-wide tree reduction of a
// 128x128 frame: 33 ms in 64 workgroups, 3.9 ms in 16, 2.4 ms for the same pass without
// barriers), while a GPU does the grid-stride sums of 16 x 256 invocations in microseconds.
const BARRIER_GROUPS = 16;
const STEPS_PER_SUBMIT = 64;

const ceilDiv = (a, b) => Math.floor((a + b - 1) / b);

/** The largest float32 <= t (|u| > t for float32 u is |u| > that value). */
function float32AtMost(t) {
  const f = Math.fround(t);
  if (f <= t) return f;
  const bits = new Uint32Array(new Float32Array([f]).buffer);
  bits[0] += f > 0 ? -1 : 1;
  return new Float32Array(bits.buffer)[0];
}

/**
 * Load the WGSL sources: `url(name)` gives where `name.wgsl` is (an http(s) URL is
 * fetched, a file: URL is read from disk under Node).
 */
export async function loadShaders(base) {
  const names = ["prelude_f32", "leapfrog", "readback", "boxcount", "gain", "moments", "dwell", "combine", "reduce"];
  const read = async (name) => {
    const url = new URL(`${name}.wgsl`, base);
    if (url.protocol === "file:") {
      const fs = await import("node:fs/promises");
      return fs.readFile(url, "utf8");
    }
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot load the shader ${url}: HTTP ${response.status}`);
    return response.text();
  };
  const texts = await Promise.all(names.map(read));
  return Object.fromEntries(names.map((n, i) => [n, texts[i]]));
}

export class WebGpuEngine {
  /**
   * @param {GPUDevice} device
   * @param {object} shaders WGSL sources by name (loadShaders)
   * @param {string} description the adapter, in words
   */
  constructor(device, shaders, description) {
    this.kind = "webgpu";
    this.device = device;
    this.description = description;
    this.usage = globalThis.GPUBufferUsage;
    this.storageAlign = device.limits.minStorageBufferOffsetAlignment;
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.buildPipelines(shaders);
    this.buffers = [];
    this.readBytes = 0;  // bytes copied to the host so far (read())
  }

  /** A WebGPU device on the default adapter, or null when there is none. */
  static async create(gpu, shaderBase) {
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return null;
    const limits = {};
    for (const key of ["maxStorageBufferBindingSize", "maxBufferSize"]) limits[key] = adapter.limits[key];
    const device = await adapter.requestDevice({ requiredLimits: limits });
    const info = adapter.info || {};
    const description = [info.vendor, info.architecture, info.device, info.description]
      .filter((s) => s).join(" ") || "WebGPU adapter";
    const shaders = await loadShaders(shaderBase);
    return new WebGpuEngine(device, shaders, description);
  }

  // ---------------------------------------------------------------- pipelines
  buildPipelines(src) {
    const device = this.device;
    const compute = globalThis.GPUShaderStage.COMPUTE;
    const layout = (kinds) => device.createBindGroupLayout({
      entries: kinds.map((kind, binding) => {
        const dynamic = kind.endsWith("+");
        const type = dynamic ? kind.slice(0, -1) : kind;
        return { binding, visibility: compute, buffer: { type, hasDynamicOffset: dynamic } };
      }),
    });
    const modules = {};
    const module = (name, real = true) => {
      if (!modules[name]) {
        modules[name] = device.createShaderModule({ label: name, code: real ? src.prelude_f32 + src[name] : src[name] });
      }
      return modules[name];
    };
    const pipeline = (shader, layouts, entry) => device.createComputePipeline({
      label: entry,
      layout: device.createPipelineLayout({ bindGroupLayouts: layouts }),
      compute: { module: module(shader, shader !== "reduce"), entryPoint: entry },
    });
    const ro = "read-only-storage", rw = "storage";
    const L = this.layouts = {
      params: layout(["uniform", ro]),
      fields: layout([ro, rw]),
      sources: layout([ro, ro, ro, ro, `${ro}+`]),
      readback: layout(["uniform", ro, ro, rw]),
      boxes: layout(["uniform+", ro, ro, ro, rw, rw]),
      gain: layout(["uniform", ro, rw]),
      moments: layout(["uniform", ro, ro, rw, rw]),
      dwell: layout(["uniform", ro, ro, ro, rw, rw, rw]),
      combine: layout(["uniform", ro, ro, ro, ro, rw, rw]),
      reduce: layout(["uniform", ro, rw]),
    };
    this.pipes = {
      interior: pipeline("leapfrog", [L.params, L.fields], "step_interior"),
      addSources: pipeline("leapfrog", [L.params, L.fields, L.sources], "add_sources"),
      mur: pipeline("leapfrog", [L.params, L.fields], "apply_mur"),
      frameSums: pipeline("readback", [L.readback], "frame_sums"),
      boxesLevel0: pipeline("boxcount", [L.boxes], "boxes_level0"),
      boxesLevel: pipeline("boxcount", [L.boxes], "boxes_level"),
      shiftedBoxes: pipeline("boxcount", [L.boxes], "shifted_boxes"),
      boxSumX: pipeline("gain", [L.gain], "box_sum_x"),
      boxMeanY: pipeline("gain", [L.gain], "box_mean_y"),
      smoothX: pipeline("moments", [L.moments], "smooth_x"),
      smoothY: pipeline("moments", [L.moments], "smooth_y"),
      minmaxPartial: pipeline("moments", [L.moments], "minmax_partial"),
      normalizeFrame: pipeline("moments", [L.moments], "normalize_frame"),
      dwellCodes: pipeline("dwell", [L.dwell], "dwell_codes"),
      dwellFloat: pipeline("dwell", [L.dwell], "dwell_float"),
      dwellRecursive: pipeline("dwell", [L.dwell], "dwell_recursive"),
      combine: pipeline("combine", [L.combine], "combine"),
      flagNonfinite: pipeline("reduce", [L.reduce], "flag_nonfinite"),
    };
  }

  // ---------------------------------------------------------------- buffers
  buffer(size, usage, label) {
    const b = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
    this.buffers.push(b);
    return b;
  }

  storage(size, label) {
    const U = this.usage;
    return this.buffer(size, U.STORAGE | U.COPY_SRC | U.COPY_DST, label);
  }

  /** A buffer holding `data` (a typed array), padded to 16 bytes. */
  upload(data, usage, label) {
    const U = this.usage;
    const b = this.buffer(data.byteLength, usage | U.COPY_DST, label);
    this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  uniform(words) {
    const padded = new Uint32Array(Math.ceil(words.length / 4) * 4 || 4);
    padded.set(words);
    return this.upload(padded, this.usage.UNIFORM, "uniform");
  }

  group(layout, buffers, sizes = []) {
    return this.device.createBindGroup({
      layout,
      entries: buffers.map((buffer, binding) => ({
        binding, resource: sizes[binding] ? { buffer, offset: 0, size: sizes[binding] } : { buffer },
      })),
    });
  }

  run(dispatches, before) {
    const encoder = this.device.createCommandEncoder();
    if (before) before(encoder);
    const pass = encoder.beginComputePass();
    for (const [pipeline, group, groups, offsets] of dispatches) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group, offsets || []);
      pass.dispatchWorkgroups(...groups);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Copy `size` bytes of a GPU buffer to the host (an ArrayBuffer). */
  async read(buffer, size, offset = 0) {
    const U = this.usage;
    this.readBytes += size;
    const staging = this.device.createBuffer({ size: Math.ceil(size / 4) * 4, usage: U.MAP_READ | U.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, Math.ceil(size / 4) * 4);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(globalThis.GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, size);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  // ---------------------------------------------------------------- fields
  /** Allocate the fields and the source table of a checked simulation, at rest. */
  configure(sim) {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
    this.sim = sim;
    const { nx, ny } = sim;
    const n = nx * ny;
    this.nbytes = 4 * n;
    this.fields = [this.storage(this.nbytes, "field 0"), this.storage(this.nbytes, "field 1")];
    this.newest = 0;
    const U = this.usage;
    this.grid = this.buffer(32, U.UNIFORM | U.COPY_DST, "grid");
    this.coef = this.storage(4 * 10, "coef");
    this.paramsGroup = this.group(this.layouts.params, [this.grid, this.coef]);
    this.pairs = [0, 1].map((k) => this.device.createBindGroup({
      layout: this.layouts.fields,
      entries: [{ binding: 0, resource: { buffer: this.fields[k] } },
        { binding: 1, resource: { buffer: this.fields[1 - k] } }],
    }));
    // the sources as a CSR table over distinct cells (field.py _set_sources)
    const { cells, weight, owner } = sim.stencil;
    const order = Array.from(cells.keys()).sort((a, b) => cells[a] - cells[b] || a - b);
    const unique = [], start = [0];
    order.forEach((e, k) => {
      if (k === 0 || cells[e] !== cells[order[k - 1]]) {
        if (k > 0) start.push(k);
        unique.push(cells[e]);
      }
    });
    start.push(order.length);
    this.nCells = unique.length;
    this.nSources = sim.sources.length;
    this.driveStride = ceilDiv(Math.max(this.nSources, 1) * 4, this.storageAlign) * this.storageAlign;
    this.driveRow = this.driveStride / 4;
    if (this.nCells > 0) {
      const S = U.STORAGE;
      const table = [
        Uint32Array.from(unique), Uint32Array.from(start),
        Float32Array.from(order.map((e) => weight[e])), Uint32Array.from(order.map((e) => owner[e])),
      ].map((a) => this.upload(a, S, "sources"));
      this.drive = this.storage(STEPS_PER_SUBMIT * this.driveStride, "drive");
      this.driveTable = new Float32Array(STEPS_PER_SUBMIT * this.driveRow);
      this.driveGroup = this.device.createBindGroup({
        layout: this.layouts.sources,
        entries: [...table.map((buffer, binding) => ({ binding, resource: { buffer } })),
          { binding: 4, resource: { buffer: this.drive, offset: 0, size: this.driveStride } }],
      });
    }
    this.flags = null;
    this.metricBuffers = null;
    this.frameKernels = null;
    this.zero();
  }

  zero() {
    this.run([], (encoder) => { for (const b of this.fields) encoder.clearBuffer(b); });
    this.newest = 0;
  }

  writeParameters(k) {
    const { nx, ny } = this.sim;
    const q = this.device.queue;
    q.writeBuffer(this.grid, 0, new Uint32Array([nx, ny, 1, k.boundary, k.feedback, this.nCells, this.nSources, 0]));
    q.writeBuffer(this.coef, 0, new Float32Array([
      k.cx2, k.cy2, k.dt2, k.feedbackStrength, k.murX, k.murY, 0, 0, k.prevCoef, k.invDenom,
    ]));
  }

  /** Record and submit `steps` steps from step `first`; returns without waiting. */
  step(first, steps) {
    const sim = this.sim;
    const k = coefficients(sim);
    this.writeParameters(k);
    const { nx, ny } = sim;
    const gridX = ceilDiv(nx, 64), gridY = ceilDiv(ny, 4);
    const sourceGroups = ceilDiv(this.nCells, LINE_GROUP);
    const ringGroups = ceilDiv(2 * (ny - 2) + 2 * nx, LINE_GROUP);
    for (let done = 0; done < steps; done += STEPS_PER_SUBMIT) {
      const chunk = Math.min(STEPS_PER_SUBMIT, steps - done);
      if (this.nCells > 0) {
        const drive = sourceDrive(sim, first + done, chunk, k.invDenom);
        const table = this.driveTable;
        for (let s = 0; s < chunk; s++) {
          for (let j = 0; j < this.nSources; j++) table[s * this.driveRow + j] = drive[s * this.nSources + j];
        }
        this.device.queue.writeBuffer(this.drive, 0, table.buffer, 0, chunk * this.driveStride);
      }
      const encoder = this.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setBindGroup(0, this.paramsGroup);
      let newest = this.newest;
      for (let s = 0; s < chunk; s++) {
        pass.setBindGroup(1, this.pairs[newest]);
        pass.setPipeline(this.pipes.interior);
        pass.dispatchWorkgroups(gridX, gridY, 1);
        if (this.nCells > 0) {
          pass.setPipeline(this.pipes.addSources);
          pass.setBindGroup(2, this.driveGroup, [s * this.driveStride]);
          pass.dispatchWorkgroups(sourceGroups, 1, 1);
        }
        if (k.boundary === 2) {
          pass.setPipeline(this.pipes.mur);
          pass.dispatchWorkgroups(ringGroups, 1, 1);
        }
        newest = 1 - newest;
      }
      pass.end();
      this.device.queue.submit([encoder.finish()]);
      this.newest = newest;
    }
  }

  get current() {
    return this.fields[this.newest];
  }

  /** Whether u[n] holds only finite values (reduce.wgsl: the exponent bits). */
  async finite() {
    if (!this.flags) {
      this.flags = this.storage(16, "nonfinite");
      this.flagWords = this.uniform([this.sim.nx * this.sim.ny, 1, 0, 0x7f800000]);
    }
    const group = this.group(this.layouts.reduce, [this.flagWords, this.current, this.flags]);
    const groups = Math.min(ceilDiv(this.sim.nx * this.sim.ny, REDUCE_GROUP), 1024);
    this.run([[this.pipes.flagNonfinite, group, [groups, 1, 1]]], (e) => e.clearBuffer(this.flags));
    return new Uint32Array(await this.read(this.flags, 4))[0] === 0;
  }

  /** u[n], row-major (ny, nx): a Float32Array read back from the GPU. */
  async field() {
    return new Float32Array(await this.read(this.current, this.nbytes));
  }

  // ---------------------------------------------------------------- measures
  /** The highest source frequency (Hz): the aliasing check's frequency, as the Python
   *  engine takes it for a field on the GPU (reading both fields back would cost more). */
  dominantFrequency() {
    const f = this.sim.sources.map((s) => s.frequency);
    return f.length ? Math.max(...f) : null;
  }

  /** The measure kernels: this engine, on its resident frame (nothing is read back
   *  but the scalars of each kernel). */
  measureKernels() {
    return this;
  }

  metricSetup() {
    if (this.metricBuffers) return this.metricBuffers;
    const n = this.nbytes;
    this.metricBuffers = {
      gain: this.storage(n, "gain"), coherence: this.storage(n, "coherence"),
      dwell: this.storage(n, "dwell"), ci: this.storage(n, "ci"),
      scratch: this.storage(2 * n, "moments"), dummy: this.storage(16, "unused"),
      boxFlags: [this.storage(n, "box flags"), this.storage(n, "box flags")],
      ring: null, ringKey: null,
    };
    return this.metricBuffers;
  }

  async frameStats() {
    const { nx, ny } = this.sim;
    const groups = Math.min(ceilDiv(nx * ny, REDUCE_GROUP), BARRIER_GROUPS);
    const result = this.storage(groups * 12, "frame sums");
    const group = this.group(this.layouts.readback, [this.uniform([nx, ny, 0, 1]), this.current, this.current, result]);
    this.run([[this.pipes.frameSums, group, [groups, 1, 1]]]);
    const parts = new Float32Array(await this.read(result, groups * 12));
    this.release(result);
    let total = 0, squares = 0, largest = 0;
    for (let g = 0; g < groups; g++) {
      total += parts[3 * g];
      squares += parts[3 * g + 1];
      largest = Math.max(largest, parts[3 * g + 2]);
      if (Number.isNaN(parts[3 * g + 2])) largest = NaN;
    }
    const cells = nx * ny;
    return [total / cells, squares / cells, largest];
  }

  async firstCell() {
    return new Float32Array(await this.read(this.current, 4))[0];
  }

  /**
   * Box counts of |u| > theta at sizes base^0 .. base^levels: the pyramid of boxcount.wgsl
   * and, with `shifted`, the counts of every shifted grid and the mask's extent
   * (WgpuFieldState._count_boxes); the mean over the tight grids is taken on the host
   * from those few numbers (measures.js shiftedCounts).
   */
  async boxCounts(theta, levels, boundary, base = 2, shifted = false) {
    const { nx, ny } = this.sim;
    const m = this.metricSetup();
    const layout = boxLayout(levels, base, shifted);
    const { slots, blocks, bySource } = layout;
    const dims = [[nx, ny]];
    for (let l = 0; l < levels; l++) dims.push([ceilDiv(dims[l][0], base), ceilDiv(dims[l][1], base)]);
    const extentAt = shifted ? levels + 1 : 0;
    const rows = [], entries = [];  // entries: [pipeline, row, workgroups, flags of group]
    for (let level = 0; level <= levels; level++) {
      const [bx, by] = dims[level];
      const [cx, cy] = level ? dims[level - 1] : [0, 0];
      rows.push([nx, ny, bx, by, cx, cy, level, slots, boundary ? 1 : 0, base, extentAt, 0]);
      entries.push([level ? this.pipes.boxesLevel : this.pipes.boxesLevel0, rows.length - 1,
        [ceilDiv(bx, 16), ceilDiv(by, 16), 1], level]);
      for (const [target, n] of bySource.get(level) || []) {
        const f = base ** (target - level);
        const [sx, sy] = dims[level];
        const mx = ceilDiv(sx + f - 1, f), my = ceilDiv(sy + f - 1, f);
        rows.push([nx, ny, mx, my, sx, sy, blocks.get(target)[0], slots, boundary ? 1 : 0, f, 0, n]);
        entries.push([this.pipes.shiftedBoxes, rows.length - 1,
          [ceilDiv(mx, 16), ceilDiv(my, 16), n * n], level + 1]);
      }
    }
    const stride = ceilDiv(48, this.uniformAlign) * this.uniformAlign;
    const words = new Uint32Array(rows.length * stride / 4);
    rows.forEach((r, k) => words.set(r, k * stride / 4));
    const uniform = this.upload(words, this.usage.UNIFORM, "levels");
    const thr = this.upload(new Float32Array([float32AtMost(theta)]), this.usage.STORAGE, "threshold");
    const counts = this.storage(4 * slots, "counts");
    // group k reads boxFlags[1 - k] and writes boxFlags[k]: level L writes flags[L % 2],
    // and the shifted counts from level L run with group L + 1, reading it
    const groups = [0, 1].map((k) => this.device.createBindGroup({
      layout: this.layouts.boxes,
      entries: [
        { binding: 0, resource: { buffer: uniform, offset: 0, size: 48 } },
        { binding: 1, resource: { buffer: this.current } },
        { binding: 2, resource: { buffer: thr } },
        { binding: 3, resource: { buffer: m.boxFlags[1 - k] } },
        { binding: 4, resource: { buffer: m.boxFlags[k] } },
        { binding: 5, resource: { buffer: counts } },
      ],
    }));
    this.run(entries.map(([pipeline, row, dispatch, g]) => [pipeline, groups[g % 2], dispatch, [row * stride]]),
      (e) => e.clearBuffer(counts));
    const row = new Uint32Array(await this.read(counts, 4 * slots));
    this.release(uniform, thr, counts);
    return shiftedCounts(row, layout, levels, boundary, base, nx, ny);
  }

  /** The dwell's state on the GPU: the ring of past frames, or the recursive dwell's
   *  previous frame and tau (zeroed when made). */
  dwellState(p) {
    const m = this.metricSetup();
    const n = this.sim.nx * this.sim.ny;
    const bytes = p.recursive ? 2 * 4 * n : p.history * (p.quantized ? ceilDiv(n, 2) * 4 : n * 4);
    const key = `${p.recursive ? "recursive" : p.quantized ? "codes" : "float"} ${bytes}`;
    if (m.ringKey !== key) {
      if (m.ring) this.release(m.ring);
      m.ring = this.storage(bytes, "dwell state");
      m.ringKey = key;
    }
    return m.ring;
  }

  /** G, C, tau and E = G C (1 - exp(-tau / gamma)); the means of the four (the
   *  parameters of cpu.js FrameKernels.measure, dispatched as analysis.py does). */
  async measure(p) {
    const { nx, ny } = this.sim;
    const n = nx * ny;
    const m = this.metricSetup();
    const grid = [ceilDiv(nx, 64), ceilDiv(ny, 4), 1];
    const made = [];
    const uniform = (w) => { const b = this.uniform(w); made.push(b); return b; };
    const floats = (values) => {
      const b = this.upload(Float32Array.from(values), this.usage.STORAGE, "params");
      made.push(b);
      return b;
    };
    const L = this.layouts, P = this.pipes;
    // gain (metrics.py WgpuMetricFields.gain)
    const gainGrid = uniform([nx, ny, (p.window - 1) / 2]);
    const dispatches = [
      [P.boxSumX, this.group(L.gain, [gainGrid, this.current, m.scratch]), grid],
      [P.boxMeanY, this.group(L.gain, [gainGrid, m.scratch, m.gain]), grid],
    ];
    // coherence (WgpuMetricFields.coherence as ResidentMeasures calls it: "local" (mode
    // 3) or 1 / (coh_a var + coh_b) (mode 4) of the moments of (u - shift) * momentScale,
    // rescaled by the min and max of the frame for "frame")
    const radius = (p.weights.length - 1) / 2;
    const groups = Math.min(ceilDiv(n, REDUCE_GROUP), BARRIER_GROUPS);
    const params = floats([...p.weights, p.shift, p.cohB, p.cohA, p.momentScale]);
    const options = (p.inward ? 1 : 0) | 2;
    const momentsGrid = uniform([nx, ny, radius, 1, p.local ? 3 : 4, groups, options]);
    const part = this.storage(8 * groups, "min max");
    made.push(part);
    const first = this.group(L.moments, [momentsGrid, this.current, params, m.scratch, part]);
    const second = this.group(L.moments, [momentsGrid, m.scratch, params, m.coherence, part]);
    dispatches.push([P.smoothX, first, grid], [P.smoothY, second, grid]);
    if (p.normalize === "frame") {
      dispatches.push([P.minmaxPartial, second, [groups, 1, 1]],
        [P.normalizeFrame, second, [groups, 1, 1]]);
    }
    // dwell: the state (ring or recursive) stays on the GPU
    const state = this.dwellState(p);
    let dwell;
    if (p.recursive) {
      const q = p.recursive;
      const slots = this.upload(new Uint32Array(4), this.usage.STORAGE, "slots");
      made.push(slots);
      const total = ceilDiv(n, REDUCE_GROUP), gx = Math.min(total, 32768);
      dwell = [P.dwellRecursive, this.group(L.dwell, [uniform([nx, ny, 1, 0, 0, 0, 0]), this.current,
        floats([q.invH, q.decay, q.increment, q.rate]), slots, m.dummy, state, m.dwell]),
      [gx, ceilDiv(total, gx), 1]];
    } else {
      const words = ceilDiv(n, 2);
      const lags = p.slots.length;
      const ringGrid = uniform([nx, ny, 1, p.history, lags, p.storeSlot, words]);
      const dwellParams = floats([p.invH, p.storeScale, ...p.lagWeights, ...p.slotScale]);
      const slotBuffer = this.upload(Uint32Array.from(lags ? p.slots : [0]), this.usage.STORAGE, "slots");
      made.push(slotBuffer);
      const [codes, frames] = p.quantized ? [state, m.dummy] : [m.dummy, state];
      const total = Math.max(ceilDiv(p.quantized ? words : n, REDUCE_GROUP), 1);
      const gx = Math.min(total, 32768);
      dwell = [p.quantized ? P.dwellCodes : P.dwellFloat,
        this.group(L.dwell, [ringGrid, this.current, dwellParams, slotBuffer, codes, frames, m.dwell]),
        [gx, ceilDiv(total, gx), 1]];
    }
    dispatches.push(dwell);
    // combine
    const sums = this.storage(16 * groups, "sums");
    made.push(sums);
    dispatches.push([P.combine, this.group(L.combine, [uniform([nx, ny]), floats([1 / p.gamma]),
      m.gain, m.coherence, m.dwell, m.ci, sums]), [groups, 1, 1]]);
    this.run(dispatches);
    const data = new Float32Array(await this.read(sums, 16 * groups));
    this.release(...made);
    const means = [0, 0, 0, 0];
    for (let g = 0; g < groups; g++) for (let c = 0; c < 4; c++) means[c] += data[4 * g + c];
    return means.map((v) => v / n);
  }

  release(...buffers) {
    for (const b of buffers) {
      b.destroy();
      const i = this.buffers.indexOf(b);
      if (i >= 0) this.buffers.splice(i, 1);
    }
  }
}
