// The engine under Node.js with the `webgpu` npm package (Dawn):
//   node node.mjs WEBGPU_MODULE_DIR bench CONFIG_JSON [MIN_SECONDS REPEATS FRAMES]
//   node node.mjs WEBGPU_MODULE_DIR run CONFIG_JSON STEPS EVERY
// prints one JSON object. Dawn needs a Vulkan driver: VK_ICD_FILENAMES may name
// chromium's SwiftShader (e.g. /usr/lib/chromium/vk_swiftshader_icd.json).
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { createResonance } from "./resonance.js";
import { stepsPerSecond } from "./bench.js";

const [modules, command, configText, a, b, c] = process.argv.slice(2);
const webgpu = await import(pathToFileURL(join(modules, "webgpu", "index.js")).href);
Object.assign(globalThis, webgpu.globals);
// kept referenced for the whole run: Dawn crashes when its GPU object is collected
globalThis.dawnGpu = webgpu.create([]);
const resonance = createResonance({ engine: "webgpu", gpu: globalThis.dawnGpu });
const config = JSON.parse(configText);
let result;
if (command === "bench") {
  result = await stepsPerSecond(resonance, config, Number(a || 0.5), Number(b || 3), Number(c || 5));
} else {
  await resonance.configure(config);
  const series = [];
  for (let done = 0; done < Number(a); done += Number(b)) {
    await resonance.step(Number(b));
    series.push(await resonance.metrics());
  }
  result = { u: Array.from(await resonance.field()), series, t: resonance.t, backend: resonance.backend, adapter: resonance.adapter };
}
// exit once written (a pipe takes large writes asynchronously); Dawn would keep Node alive
process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
