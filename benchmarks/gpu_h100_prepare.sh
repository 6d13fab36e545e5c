#!/usr/bin/env bash
# Prepare, on the developer machine, what benchmarks/gpu_h100.sh needs on the bare GPU
# machine of the device tool (which reaches no package registry):
#   .whl/  Python wheels for its python3.12 that its image lacks (wgpu and its cffi,
#          pydantic with a recent typing-extensions for resonance_engine.config)
#   .gl/   the Vulkan loader (libvulkan1), in case the image has none
# Both folders are kept out of git through .git/info/exclude. Run from anywhere in the
# checkout that the device tool sends (the session's own checkout), then:
#   run(command="bash benchmarks/gpu_h100.sh", carry=[".whl", ".gl"], timeout_s=480)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
for pattern in /.whl/ /.gl/; do
    grep -qxF "$pattern" "$exclude" 2>/dev/null || echo "$pattern" >>"$exclude"
done
rm -rf .whl .gl
mkdir -p .whl .gl /tmp/amd64/partial
# Versions that work together (pydantic pins its pydantic-core exactly).
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
    wgpu==0.32.0 rendercanvas==2.7.2 cffi==2.1.1 pycparser==3.12 \
    pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    typing-extensions==4.16.0
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
apt-get $o update -qq
# shellcheck disable=SC2086
(cd .gl && apt-get $o download libvulkan1 >/dev/null)
ls .whl .gl
du -sh .whl .gl
