// resonance-engine live dashboard: WebSocket client, canvas heatmap and line charts.
// No dependencies, no build step. Protocol: see resonance_engine/web/protocol.py.
"use strict";

const HEADER_BYTES = 32;
const MAX_POINTS = 3000;          // points kept per chart
const CHART_INTERVAL_MS = 250;    // least time between two redraws of the charts
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- colour map
// Diverging blue - white - red (negative - zero - positive), 256 entries packed as
// little-endian RGBA words for a Uint32Array view of ImageData.
function buildColormap() {
  const stops = [
    [0.0, [5, 48, 97]], [0.25, [67, 147, 195]], [0.5, [247, 247, 247]],
    [0.75, [214, 96, 77]], [1.0, [103, 0, 31]],
  ];
  const rgb = [];
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && x > stops[k + 1][0]) k++;
    const [x0, c0] = stops[k];
    const [x1, c1] = stops[k + 1];
    const f = (x - x0) / (x1 - x0);
    rgb.push(c0.map((v, j) => Math.round(v + f * (c1[j] - v))));
  }
  const packed = new Uint32Array(256);
  const bytes = new Uint8ClampedArray(packed.buffer);
  rgb.forEach((c, i) => { bytes.set([c[0], c[1], c[2], 255], 4 * i); });
  return { rgb, packed };
}
const COLORMAP = buildColormap();

// ---------------------------------------------------------------- heatmap
class Heatmap {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.image = null;
    this.frames = 0;
  }

  // Draw one binary frame; returns its header.
  draw(buffer) {
    const view = new DataView(buffer);
    if (view.getUint8(0) !== 0x52 || view.getUint8(1) !== 0x46) throw new Error("not a field frame");
    const header = {
      version: view.getUint8(2), member: view.getUint16(4, true),
      width: view.getUint16(6, true), height: view.getUint16(8, true),
      factor: view.getUint16(10, true), step: Number(view.getBigUint64(12, true)),
      t: view.getFloat64(20, true), scale: view.getFloat32(28, true),
    };
    const { width: w, height: h } = header;
    if (!this.image || this.image.width !== w || this.image.height !== h) {
      // the canvas holds one pixel per frame cell; CSS scales it to the panel
      this.canvas.width = w;
      this.canvas.height = h;
      this.image = this.ctx.createImageData(w, h);
      this.pixels = new Uint32Array(this.image.data.buffer);
    }
    const q = new Uint8Array(buffer, HEADER_BYTES, w * h);
    const out = this.pixels;
    const lut = COLORMAP.packed;
    for (let row = 0; row < h; row++) {          // row 0 of the field is the bottom
      const src = (h - 1 - row) * w;
      const dst = row * w;
      for (let col = 0; col < w; col++) out[dst + col] = lut[q[src + col]];
    }
    this.ctx.putImageData(this.image, 0, 0);
    const c = this.canvas;
    this.frames += 1;
    c.dataset.frames = String(this.frames);
    c.dataset.step = String(header.step);
    c.dataset.member = String(header.member);
    return header;
  }
}

// ---------------------------------------------------------------- line charts
const PALETTE = ["#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f",
                 "#319795", "#d53f8c", "#4a5568", "#805ad5"];

function formatNumber(v) {
  if (v === null || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace("e-", "e−");
  return v.toPrecision(4).replace(/\.?0+$/, "");
}

class LineChart {
  // A chart of one or several series sharing the x axis (simulated time, s).
  constructor(parent, title, seriesNames) {
    this.figure = document.createElement("figure");
    this.figure.className = "chart";
    const caption = document.createElement("figcaption");
    this.titleEl = document.createElement("span");
    this.titleEl.textContent = title;
    this.valueEl = document.createElement("span");
    this.valueEl.className = "value";
    caption.append(this.titleEl, this.valueEl);
    this.canvas = document.createElement("canvas");
    this.canvas.dataset.series = title;
    this.canvas.dataset.points = "0";
    this.canvas.dataset.total = "0";
    this.total = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `chart of ${title} over time`);
    this.figure.append(caption, this.canvas);
    parent.append(this.figure);
    this.names = seriesNames;
    this.maxPoints = MAX_POINTS;
    this.x = [];
    this.ys = seriesNames.map(() => []);
    this.dirty = true;
  }

  push(x, values) {
    this.x.push(x);
    values.forEach((v, i) => this.ys[i].push(v === null ? NaN : v));
    if (this.x.length > this.maxPoints) {
      const drop = this.x.length - this.maxPoints;
      this.x.splice(0, drop);
      this.ys.forEach((y) => y.splice(0, drop));
    }
    this.total += 1;
    this.canvas.dataset.points = String(this.x.length);
    this.canvas.dataset.total = String(this.total);
    this.dirty = true;
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 300, cssH = c.clientHeight || 120;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
      c.width = Math.round(cssW * dpr);
      c.height = Math.round(cssH * dpr);
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const left = 62, right = 8, top = 6, bottom = 18;
    const w = cssW - left - right, h = cssH - top - bottom;
    const n = this.x.length;
    let lo = Infinity, hi = -Infinity;
    for (const y of this.ys) for (const v of y) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#666";
    ctx.strokeStyle = "#ddd";
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, top + 0.5, w, h);
    if (n === 0 || lo === Infinity) {
      ctx.fillText("no data yet", left + 8, top + h / 2);
      this.valueEl.textContent = "";
      return;
    }
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) { hi += 0.5 * Math.max(1e-9, Math.abs(hi)); lo -= 0.5 * Math.max(1e-9, Math.abs(lo)); }
    const pad = 0.05 * (hi - lo);
    lo -= pad; hi += pad;
    const x0 = this.x[0], x1 = n > 1 ? this.x[n - 1] : this.x[0] + 1;
    const sx = (x) => left + ((x - x0) / (x1 - x0 || 1)) * w;
    const sy = (y) => top + (1 - (y - lo) / (hi - lo)) * h;
    // grid and labels
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i <= 3; i++) {
      const v = lo + (i / 3) * (hi - lo);
      const y = Math.round(sy(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
      ctx.fillText(formatNumber(v), left - 4, y);
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`t = ${formatNumber(x0)} s`, left, cssH - 4);
    ctx.textAlign = "right";
    ctx.fillText(`${formatNumber(x1)} s`, left + w, cssH - 4);
    // lines (at most ~2 points per pixel column)
    const stride = Math.max(1, Math.floor(n / (2 * w)));
    this.ys.forEach((y, k) => {
      ctx.strokeStyle = PALETTE[k % PALETTE.length];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < n; i += stride) {
        const v = y[i];
        if (!Number.isFinite(v)) { pen = false; continue; }
        if (pen) ctx.lineTo(sx(this.x[i]), sy(v)); else ctx.moveTo(sx(this.x[i]), sy(v));
        pen = true;
      }
      const last = n - 1;
      if (pen && Number.isFinite(y[last])) ctx.lineTo(sx(this.x[last]), sy(y[last]));
      ctx.stroke();
    });
    this.valueEl.textContent = this.names.length === 1
      ? formatNumber(this.ys[0][n - 1])
      : `${this.names.length} series`;
  }
}

// ---------------------------------------------------------------- dashboard
class Dashboard {
  constructor() {
    this.heatmap = new Heatmap($("field"));
    this.charts = new Map();          // series name -> LineChart
    this.series = [];
    this.slots = [];
    this.lastRowStep = -1;
    this.shownStep = -1;
    this.state = null;
    this.socket = null;
    this.pendingFrame = null;
    this.unacked = 0;
    this.nextId = 1;
    this.requests = new Map();
    this.frameTimes = [];
    this.chartsDrawnAt = 0;
    this.lastHeader = null;
    this.retryMs = 1000;
    this.bindControls();
    requestAnimationFrame(() => this.render());
  }

  url() {
    const loc = window.location;
    const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    const base = loc.pathname.replace(/[^/]*$/, "");
    return `${scheme}//${loc.host}${base}ws${loc.search}`;
  }

  connect() {
    this.setConnection("connecting");
    // the browser engine's page (web/engine/page.js) runs the simulation locally
    const socket = window.resonanceSocket ? window.resonanceSocket() : new WebSocket(this.url());
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => { this.retryMs = 1000; this.setConnection("live"); };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") this.onMessage(JSON.parse(event.data));
      else { this.pendingFrame = event.data; this.unacked += 1; }
    };
    socket.onclose = (event) => {
      this.socket = null;
      if (event.code === 1008) { this.setConnection("refused"); return; }
      this.setConnection("disconnected");
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(10000, this.retryMs * 2);
    };
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  setConnection(text) {
    const el = $("conn");
    el.textContent = text;
    el.dataset.state = text;
  }

  onMessage(msg) {
    switch (msg.type) {
      case "hello": this.onHello(msg); break;
      case "state": this.onState(msg.state); break;
      case "metrics": this.addRows(msg.rows); break;
      case "result": this.onResult(msg); break;
      case "error": this.onError(msg); break;
      case "alert": this.onAlert(msg); break;
      default: break;
    }
  }

  onHello(msg) {
    this.mode = msg.mode;
    $("title").textContent = msg.title;
    $("mode").textContent = msg.mode;
    const replay = msg.mode === "replay";
    $("controls").hidden = replay;
    $("field-panel").hidden = replay;
    $("metrics-source").textContent = msg.metrics_source ? `· ${msg.metrics_source}` : "";
    const box = $("charts");
    box.replaceChildren();
    this.charts.clear();
    this.series = msg.series;
    this.lastRowStep = -1;
    this.slots = [];          // one per chart: the chart and the row columns it draws
    const groups = msg.groups || msg.series.map((name) => ({ title: name, series: [name] }));
    for (const group of groups) {
      const chart = new LineChart(box, group.title, group.series);
      this.charts.set(group.title, chart);
      this.slots.push({ chart, columns: group.series.map((name) => 2 + msg.series.indexOf(name)) });
    }
    if (replay) for (const chart of this.charts.values()) chart.maxPoints = Infinity;
    this.addRows(msg.history);
    $("alerts").replaceChildren();
    $("no-alerts").hidden = false;
    for (const alert of msg.alerts || []) this.onAlert(alert);
    this.onState(msg.state, true);
    if (replay) return;
    const [fw, fh] = msg.frame;
    const [nx, ny] = msg.state.grid;
    $("field-info").textContent = `grid ${nx}×${ny} cells, shown as ${fw}×${fh}`;
    const canvas = $("field");
    canvas.width = fw;
    canvas.height = fh;
  }

  onState(state, fillInputs = false) {
    const first = this.state === null;
    this.state = state;
    if (this.mode === "replay") {
      this.showClock(state.step, state.t);
      $("rate").textContent = "stored";
      return;
    }
    this.showClock(state.step, state.t);
    $("rate").textContent = state.paused ? "paused" : Math.round(state.steps_per_s).toLocaleString();
    const pause = $("pause");
    pause.disabled = !state.running || state.error !== null;
    pause.textContent = state.paused ? "Resume" : "Pause";
    pause.dataset.paused = String(state.paused);
    if (state.error) this.showMessage(state.error, true);
    const limits = state.limits;
    $("hint-damping").textContent = `0 … ${formatNumber(limits.damping.max)}`;
    $("hint-wave_speed").textContent = `> 0 … ${formatNumber(limits.wave_speed.max)} (CFL)`;
    $("hint-frequency").textContent = `0 … ${formatNumber(limits.frequency.max)}`;
    const swarm = state.members > 1;
    $("member-control").hidden = !swarm;
    $("swarm-panel").hidden = !swarm;
    const agents = $("member");
    if (swarm && agents.options.length !== state.members) {
      agents.replaceChildren();
      for (let i = 0; i < state.members; i++) agents.add(new Option(`agent ${i}`, String(i)));
    }
    if (swarm) agents.value = String(state.member);
    const select = $("source");
    if (select.options.length !== state.frequencies.length + 1) {
      select.replaceChildren(new Option("all sources", ""));
      state.frequencies.forEach((f, i) => select.add(new Option(`source ${i + 1}`, String(i))));
    }
    if (first || fillInputs) {
      const short = (v) => String(Number(v.toPrecision(6)));
      $("damping").value = short(state.damping);
      $("wave_speed").value = short(state.wave_speed);
      $("frequency").value = state.frequencies.length ? short(state.frequencies[0]) : "";
    }
    const params = $("params");
    const freq = state.frequencies.map((f) => formatNumber(f)).join(", ");
    params.innerHTML = "";
    for (const [k, v] of [["damping", `${formatNumber(state.damping)} 1/s`],
                          ["wave speed", `${formatNumber(state.wave_speed)} m/s`],
                          ["Courant", formatNumber(state.courant)],
                          ["sources", freq ? `${freq} Hz` : "none"],
                          ["dt", `${formatNumber(state.dt)} s`]]) {
      const div = document.createElement("div");
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      div.append(dt, dd);
      params.append(div);
    }
  }

  // Frames may lag behind state messages: the clock shown never goes backwards.
  showClock(step, t) {
    if (step < this.shownStep) return;
    this.shownStep = step;
    $("step").textContent = String(step);
    $("time").textContent = t.toFixed(3);
  }

  addRows(rows) {
    for (const row of rows) {
      if (row[0] <= this.lastRowStep) continue;     // already shown (history overlap)
      this.lastRowStep = row[0];
      const t = row[1];
      for (const { chart, columns } of this.slots) chart.push(t, columns.map((c) => row[c]));
    }
  }

  onResult(msg) {
    const request = this.requests.get(msg.id);
    this.requests.delete(msg.id);
    if (request && request.type === "set" && request.param === "member") {
      this.showMessage(`showing agent ${request.value}`, false);
    } else if (request && request.type === "set") {
      const name = request.param.replace("_", " ");
      this.showMessage(`${name} set to ${formatNumber(request.value)}`, false);
    } else if (request) {
      this.showMessage(request.type === "pause" ? "paused" : "running", false);
    }
    this.onState(msg.state);
  }

  onError(msg) {
    this.requests.delete(msg.id);
    this.showMessage(msg.message, true);
  }

  onAlert(msg) {
    const item = document.createElement("li");
    const when = msg.tick === null || msg.tick === undefined ? "" : `tick ${msg.tick}: `;
    item.textContent = `${when}${msg.message}`;
    item.className = "alert";
    $("no-alerts").hidden = true;
    $("alerts").prepend(item);
  }

  showMessage(text, isError) {
    const el = $("message");
    el.textContent = text;
    el.className = isError ? "error" : "ok";
    el.setAttribute("role", isError ? "alert" : "status");
  }

  request(message) {
    message.id = this.nextId++;
    this.requests.set(message.id, message);
    if (!this.send(message)) this.showMessage("not connected: the request was not sent", true);
  }

  bindControls() {
    $("pause").addEventListener("click", () => {
      this.request({ type: this.state && this.state.paused ? "resume" : "pause" });
    });
    $("member").addEventListener("change", (event) => {
      this.request({ type: "set", param: "member", value: Number(event.target.value) });
    });
    for (const form of document.querySelectorAll("form.control")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const param = form.dataset.param;
        const raw = form.querySelector("input").value;
        const value = Number(raw);
        if (raw.trim() === "" || !Number.isFinite(value)) {
          this.showMessage(`${param.replace("_", " ")}: enter a number`, true);
          return;
        }
        const message = { type: "set", param, value };
        if (param === "frequency") {
          const source = $("source").value;
          message.source = source === "" ? null : Number(source);
        }
        this.request(message);
      });
    }
  }

  render() {
    const now = performance.now();
    if (this.pendingFrame !== null) {
      const frame = this.pendingFrame;
      this.pendingFrame = null;
      try {
        this.lastHeader = this.heatmap.draw(frame);
        this.frameTimes.push(now);
      } finally {
        this.send({ type: "ack", n: this.unacked });
        this.unacked = 0;
      }
    }
    // text and charts a few times a second: repainting them on every frame costs the
    // browser more than the heatmap itself
    if (now - this.chartsDrawnAt >= CHART_INTERVAL_MS) {
      this.chartsDrawnAt = now;
      const header = this.lastHeader;
      if (header) {
        $("cb-min").textContent = formatNumber(-header.scale);
        $("cb-max").textContent = formatNumber(header.scale);
        this.showClock(header.step, header.t);
      }
      while (this.frameTimes.length && now - this.frameTimes[0] > 2000) this.frameTimes.shift();
      $("fps").textContent = (this.frameTimes.length / 2).toFixed(1);
      for (const chart of this.charts.values()) chart.draw();
    }
    requestAnimationFrame(() => this.render());
  }
}

const bar = document.querySelector("#colorbar .bar");
bar.style.background = `linear-gradient(to right, ${[0, 64, 128, 191, 255]
  .map((i) => `rgb(${COLORMAP.rgb[i].join(",")})`).join(", ")})`;
window.dashboard = new Dashboard();
window.dashboard.connect();
