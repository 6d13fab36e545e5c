# Dashboard (web) tests: a real headless chromium from Debian, driven by Playwright for
# Python (pip's `playwright` comes with the `test` extra). The tests launch
# shutil.which("chromium") themselves and start/stop their own servers on 127.0.0.1.
# Playwright must never download its own browsers:
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
chromium --version
