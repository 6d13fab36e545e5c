"""``resonance serve``: prints the URL, serves, stops on Ctrl-C and writes its results."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from resonance_engine.cli.main import main
from resonance_engine.cli.serve import security_notice


def start_serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "resonance_engine.cli.main",
        "serve",
        "--port",
        "0",
        "--size",
        "32",
        "--out",
        str(tmp_path),
        *extra,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stream = process.stderr if "--json" in extra else process.stdout
    assert stream is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = stream.readline()
        match = re.search(r" at (http://127\.0\.0\.1:\d+/\S*) \(Ctrl-C", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"no URL printed: {process.communicate()}")


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out, err


def test_serve_stores_the_run_and_replays_it(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    config = tmp_path / "pond.toml"
    config.write_text(
        "seed = 4\nmetrics_every = 10\n[simulation]\nnx = 32\nny = 32\ndx = 0.03\n"
        "damping = 0.1\n[[simulation.sources]]\nx = 0.3\ny = 0.4\namplitude = 50.0\n"
        "frequency = 3.0\n"
    )
    process, url = start_serve(
        tmp_path, "--json", "--token", "abc", "--db", db, "--config", str(config)
    )
    try:
        assert url.endswith("/?token=abc")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        state_url = url.replace("/?", "/api/state?")
        deadline = time.monotonic() + 60
        while json.load(urllib.request.urlopen(state_url, timeout=10))["step"] < 60:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        out, _ = stop(process)
    summary = json.loads(out)
    assert summary["grid"] == "32x32" and summary["steps"] >= 60
    assert "abc" not in summary["url"] and summary["db"] == db
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,t,D,G,C,tau,CI" and len(rows) > 6
    assert [int(r.split(",")[0]) for r in rows[1:4]] == [0, 10, 20]  # the config's metrics_every
    assert (tmp_path / "field.png").stat().st_size > 0

    process, url = start_serve(
        tmp_path, "--replay", str(summary["run_id"]), "--db", db, "--allow-host", "pond.lan"
    )
    try:
        state = json.load(urllib.request.urlopen(url + "api/state", timeout=10))
        named = urllib.request.Request(url + "api/state", headers={"Host": "pond.lan"})
        assert urllib.request.urlopen(named, timeout=10).status == 200
        foreign = urllib.request.Request(url + "api/state", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(foreign, timeout=10)
    finally:
        stop(process)
    assert state["replay"]["run"] == summary["run_id"]
    assert state["replay"]["status"] == "finished"
    assert 2 <= state["replay"]["moments"] <= len(rows) - 1


def test_security_notice() -> None:
    assert security_notice("127.0.0.1", None) is None
    assert security_notice("0.0.0.0", "t") is None
    notice = security_notice("0.0.0.0", None)
    assert notice is not None and "without authentication" in notice and "--token" in notice


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--swarm", "1"], "swarm"),
        (["--replay", "run-1"], "--replay"),
        (["--replay", "3", "--db", "missing.db"], "no database"),
        (["--port", "70000"], "--port"),
        (["--token", ""], "--token"),
        (["--fps", "0"], "fps"),
        (["--max-side", "2"], "max_side"),
        (["--config", "missing.toml"], "does not exist"),
    ],
)
def test_bad_options_are_one_line_errors(
    args: list[str],
    text: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["serve", "--size", "16", "--out", str(tmp_path), *args])
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err
    assert not (tmp_path / "resonance.db").exists()
