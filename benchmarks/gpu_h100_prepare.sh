#!/usr/bin/env bash
# Prepare, on the developer machine, what benchmarks/gpu_h100.sh needs on the bare GPU
# machine of the device tool (which reaches no package registry):
#   .whl/  Python wheels for its python3.12 that its image lacks (wgpu, pydantic, apsw,
#          sqlite-vec, ... and what they need)
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
# The project's dependencies that the GPU image lacks (it has numpy, numba, rich,
# matplotlib, scipy, pytest and hypothesis), plus wgpu, at the versions installed in this
# checkout's .venv when there is one, with their own dependencies resolved for python3.12.
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
wanted=$("$py" - <<'PYEOF'
import re, tomllib
from importlib import metadata
have = {"numpy", "numba", "rich", "matplotlib", "scipy"}
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"] + ["wgpu"]
for dep in deps:
    name = re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].strip()
    if name.lower() in have:
        continue
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(dep)
PYEOF
)
echo "wheels for: $wanted"
# shellcheck disable=SC2086
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d .whl $wanted
# The image's own numpy stays: its numba is built against it.
rm -f .whl/numpy-*.whl
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
apt-get $o update -qq
# shellcheck disable=SC2086
(cd .gl && apt-get $o download libvulkan1 >/dev/null)
ls .whl .gl
du -sh .whl .gl
