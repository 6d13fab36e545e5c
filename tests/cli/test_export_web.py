"""``resonance export-web``: the standalone site, refusals, --force."""

from __future__ import annotations

import json
from pathlib import Path

from resonance_engine.cli.main import main
from resonance_engine.web.site import SHADER_DIR


def test_export_writes_the_site_with_the_package_shaders(tmp_path: Path, capsys) -> None:
    out = tmp_path / "site"
    assert main(["export-web", str(out), "--size", "64", "--seed", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid"] == "64x64"
    html = (out / "index.html").read_text()
    assert 'src="engine/page.js"' in html and 'src="static/app.js"' in html
    assert html.index("engine/page.js") < html.index("static/app.js")
    site = json.loads((out / "config.json").read_text())
    assert site["simulation"]["nx"] == 64 and site["metrics_every"] == 50
    for shader in SHADER_DIR.glob("*.wgsl"):
        assert (out / "shaders" / shader.name).read_bytes() == shader.read_bytes()
    assert (out / "engine" / "resonance.js").is_file()


def test_a_non_empty_folder_is_refused_unless_forced(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["export-web", str(out), "--size", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["export-web", str(out), "--size", "32", "--force", "--quiet"]) == 0
    assert (out / "notes.txt").read_text() == "keep me"
    assert json.loads((out / "config.json").read_text())["simulation"]["nx"] == 32


def test_an_unstable_config_is_refused_with_the_engine_message(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[simulation]\nnx = 64\nny = 64\ndx = 0.01\ndt = 0.01\n")
    out = tmp_path / "site"
    assert main(["export-web", str(out), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "CFL condition violated" in err and err.count("\n") == 1
    assert not out.exists()
    assert main(["export-web", str(out), "--max-side", "2"]) == 2
    assert "--max-side" in capsys.readouterr().err
