// Throughput of an engine, for `resonance bench browser` (in chromium and under Node).

/**
 * Median steps per second of `resonance` on `config` over `repeats` timed rounds of at
 * least `minSeconds` each (each round ends with the finiteness check, a read-back that
 * waits for the GPU), then the median time of metrics() over `frames` frames one step
 * apart (the measures of config.metrics, MetricsConfig's defaults without it; each call
 * waits for its scalars, so the GPU work is counted).
 */
export async function stepsPerSecond(resonance, config, minSeconds = 0.5, repeats = 3, frames = 5) {
  await resonance.ready;
  await resonance.configure(config);
  await resonance.step(4);  // pipelines compiled, buffers touched
  let n = 4, seconds = 0;
  for (;;) {
    const start = performance.now();
    await resonance.step(n);
    seconds = (performance.now() - start) / 1000;
    if (seconds >= 0.05 || n >= 1 << 20) break;
    n *= 4;
  }
  n = Math.max(1, Math.ceil((n * minSeconds) / seconds));
  const rates = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await resonance.step(n);
    rates.push(n / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  await resonance.metrics();  // buffers made, pipelines used once
  const times = [];
  for (let f = 0; f < frames; f++) {
    await resonance.step(1);
    const start = performance.now();
    await resonance.metrics();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return {
    steps_per_s: rates[Math.floor(rates.length / 2)], steps: n,
    metrics_ms: times[Math.floor(times.length / 2)], backend: resonance.backend, adapter: resonance.adapter,
  };
}
