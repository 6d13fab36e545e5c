# wgpu backend (issue 8): a software Vulkan adapter (Mesa lavapipe) so that the wgpu tests
# run on CI's CPU-only machine. The Python package `wgpu` comes with the `test` extra.
# Under CI=true the tests in tests/backends/test_wgpu_*.py FAIL (not skip) without it.
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mesa-vulkan-drivers libvulkan1
# Mesa's Vulkan driver prints "XDG_RUNTIME_DIR is invalid" without this; harmless.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
