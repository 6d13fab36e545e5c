#!/usr/bin/env bash
# The wgpu backend on the device tool's GPU machine (an H100), in one short call:
# the wgpu tests, then `resonance bench solver --backend wgpu` at 1024, 4096 and 8192
# (float32; float64 at 4096), with a PyTorch device-to-device copy as a cross-check of
# the copy bandwidth that the benchmark measures through wgpu.
#
# Prepare on the developer machine first (wheels and the Vulkan loader, ~7 MB):
#   bash benchmarks/gpu_h100_prepare.sh
# then, with the device tool:
#   run(command="bash benchmarks/gpu_h100.sh", carry=[".whl", ".gl"], timeout_s=480)
# It takes about 2-4 minutes once the machine is up. Results: $OUT/summary.txt (also
# printed), $OUT/tests.log, $OUT/bench_f32.json, $OUT/bench_f64.json, $OUT/gpu.txt.
# Environment: PYTHON (default python3), RESONANCE_WGPU_ADAPTER (default NVIDIA), SIZES
# (default 1024,4096,8192), F64_SIZE (default 4096), GPU_STEPS (steps per timed call,
# default 500). A dry run on lavapipe: RESONANCE_WGPU_ADAPTER=llvmpipe SIZES=64,128
# F64_SIZE=64 GPU_STEPS=20 bash benchmarks/gpu_h100.sh
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/resonance-gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

# Vulkan loader and the NVIDIA driver's ICD file.
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
    for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
    ldconfig
fi
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -e "$icd" ] && export VK_DRIVER_FILES="$icd"
fi
# Python packages the image lacks.
if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export RESONANCE_WGPU_ADAPTER=${RESONANCE_WGPU_ADAPTER-NVIDIA}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv 2>&1
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
    "$PY" -c 'import wgpu, numpy; print("wgpu", wgpu.__version__, "numpy", numpy.__version__)'
    "$PY" -c 'from resonance_engine.backends.wgpu_gpu import adapter_summaries as a
print("adapters:", *a(), sep="\n  ")' 2>&1 | grep -v XDG_RUNTIME_DIR
} >"$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt" | tee -a "$OUT/summary.txt"

log "wgpu tests on the GPU"
timeout 200 "$PY" -m pytest -q -p no:cacheprovider \
    tests/backends/test_wgpu_field.py tests/backends/test_wgpu_solver.py >"$OUT/tests.log" 2>&1
tail -n 3 "$OUT/tests.log" | tee -a "$OUT/summary.txt"

log "bench solver --backend wgpu, float32"
timeout 200 "$PY" benchmarks/bench_solver.py --backend wgpu --sizes "${SIZES:-1024,4096,8192}" \
    --gpu-steps "${GPU_STEPS:-500}" --json --quiet >"$OUT/bench_f32.json" 2>"$OUT/bench_f32.err"
"$PY" -m json.tool "$OUT/bench_f32.json" 2>&1 | tee -a "$OUT/summary.txt" \
    || tail -n 5 "$OUT/bench_f32.err" | tee -a "$OUT/summary.txt"

log "bench solver --backend wgpu, float64"
timeout 100 "$PY" benchmarks/bench_solver.py --backend wgpu --sizes "${F64_SIZE:-4096}" \
    --dtype float64 --gpu-steps "${GPU_STEPS:-500}" --json --quiet >"$OUT/bench_f64.json" 2>"$OUT/bench_f64.err"
"$PY" -m json.tool "$OUT/bench_f64.json" 2>&1 | tee -a "$OUT/summary.txt" \
    || tail -n 5 "$OUT/bench_f64.err" | tee -a "$OUT/summary.txt"

log "workgroup shapes of the interior step at ${F64_SIZE:-4096} (float32; default 64x4)"
for shape in 128x2 256x1 32x8 16x16; do
    RESONANCE_WGPU_WORKGROUP=$shape timeout 60 "$PY" benchmarks/bench_solver.py --backend wgpu \
        --sizes "${F64_SIZE:-4096}" --gpu-steps "${GPU_STEPS:-500}" --repeats 3 --json --quiet \
        2>/dev/null | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
n = next(k.split()[0] for k in d if k.endswith("steps/s"))
rate, ratio = d[n + " wgpu steps/s"], d[n + " wgpu / copy bandwidth"]
print(d[n + " wgpu workgroup"], "%.0f steps/s," % rate, "%.2f of copy" % ratio)' | tee -a "$OUT/summary.txt"
done

log "cross-check: PyTorch device-to-device copy of one 4096x4096 and 8192x8192 float32 field"
timeout 60 "$PY" - <<'PYEOF' 2>&1 | tee -a "$OUT/summary.txt"
try:
    import torch
except ImportError:
    raise SystemExit("torch not installed: no cross-check")
for n in (4096, 8192):
    a = torch.empty(n * n, dtype=torch.float32, device="cuda")
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(50):
        b.copy_(a)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / 50
    print(f"{n}: torch copy {2 * a.numel() * 4 / seconds / 1e9:.0f} GB/s (read+write)")
PYEOF
