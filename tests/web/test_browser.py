"""End to end in a real headless chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import chromium_path, require

sync_api = require("playwright.sync_api")

#: Flags for a quiet, sandbox-free headless chromium in containers and CI.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Opens the dashboard in a fresh page; fails the test on any JavaScript error."""
    pages: list[tuple[Any, list[str]]] = []

    def open_(url: str) -> Any:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append((page, errors))
        page.goto(url)
        return page

    yield open_
    for page, errors in pages:
        page.close()
        assert errors == [], errors


def frames(page: Any) -> int:
    return int(page.get_attribute("#field", "data-frames"))


def points(page: Any) -> list[int]:
    """Points ever added to each chart (the charts keep only the latest ones)."""
    return page.eval_on_selector_all("#charts canvas", "cs => cs.map(c => +c.dataset.total)")


def step(page: Any) -> int:
    return int(page.text_content("#step"))


def wait_live(page: Any) -> None:
    page.wait_for_selector('#conn[data-state="live"]')
    page.wait_for_function("document.querySelector('#field').dataset.frames >= 2")


def test_field_moves_and_charts_grow(served, open_page) -> None:
    page = open_page(served(size=64).url())
    wait_live(page)
    assert page.text_content("#title") == "resonance-engine"
    first_points = points(page)
    assert len(first_points) == 2  # rms and peak of the field-statistics source
    field = page.locator("#field")
    before, seen = field.screenshot(), frames(page)
    page.wait_for_function(f"document.querySelector('#field').dataset.frames >= {seen + 10}")
    after = field.screenshot()
    assert before != after
    page.wait_for_function(
        "pts => [...document.querySelectorAll('#charts canvas')]"
        ".every((c, i) => +c.dataset.total > pts[i] + 5)",
        arg=first_points,
    )
    assert float(page.text_content("#fps")) > 0


def test_pause_stops_field_and_charts(served, open_page) -> None:
    page = open_page(served(size=64).url())
    wait_live(page)
    page.click("#pause")
    page.wait_for_selector('#pause[data-paused="true"]')
    page.wait_for_timeout(300)  # frames already on the wire may still land
    held = (step(page), points(page), frames(page))
    assert len(held[1]) == 2 and min(held[1]) > 0
    page.wait_for_timeout(1000)
    assert (step(page), points(page), frames(page)) == held
    assert page.text_content("#pause") == "Resume"
    page.click("#pause")
    page.wait_for_selector('#pause[data-paused="false"]')
    page.wait_for_function(f"+document.querySelector('#step').textContent > {held[0]}")


@pytest.mark.parametrize(
    ("control", "value", "text"),
    [("damping", "-1", "negative"), ("wave_speed", "50", "largest stable wave speed")],
)
def test_unstable_values_show_the_reason_and_the_run_goes_on(
    served, open_page, control: str, value: str, text: str
) -> None:
    dash = served(size=64)
    page = open_page(dash.url())
    wait_live(page)
    page.fill(f"#{control}", value)
    page.click(f"#form-{control} button[type=submit]")
    message = page.wait_for_selector("#message.error")
    assert text in message.text_content()
    shown = step(page)
    page.wait_for_function(f"+document.querySelector('#step').textContent > {shown + 20}")
    assert dash.runner.solver.damping == 0.1 and dash.runner.solver.wave_speed == 1.0


def test_a_valid_change_is_applied(served, open_page) -> None:
    dash = served(size=64)
    page = open_page(dash.url())
    wait_live(page)
    page.fill("#frequency", "6.5")
    page.select_option("#source", "1")
    page.click("#form-frequency button[type=submit]")
    page.wait_for_selector("#message.ok")
    assert dash.runner.solver.drive_frequency[0].tolist() == [10.0, 6.5, 17.0]


def test_wrong_token_is_refused(served, open_page) -> None:
    dash = served(size=32, token="letmein")
    base = dash.url(with_token=False)
    page = open_page(base + "?token=wrong")
    assert "wrong token" in page.text_content("body")
    response = page.goto(base + "?token=wrong")
    assert response.status == 401
    page.goto(dash.url())
    wait_live(page)
    # a WebSocket with a wrong token is refused even from the page's own origin
    outcome = page.evaluate(
        """url => new Promise(done => {
             const ws = new WebSocket(url);
             ws.onopen = () => done("open");
             ws.onclose = () => done("closed");
           })""",
        base.replace("http://", "ws://") + "ws?token=wrong",
    )
    assert outcome == "closed"


def test_replay_shows_the_stored_history_read_only(open_page) -> None:
    from resonance_engine.web import Dashboard
    from resonance_engine.web.replay import ReplayRunner

    rows = [[10.0 * i, 0.1 * i, 1.5 + 0.01 * i, 0.2, 0.3, 1.0, 0.01 * i] for i in range(4000)]
    with Dashboard(ReplayRunner(rows, "run 7", {"run": 7})) as dash:
        page = open_page(dash.start("127.0.0.1", 0))
        page.wait_for_selector('#conn[data-state="live"]')
        page.wait_for_function("document.querySelectorAll('#charts canvas').length === 5")
        assert page.text_content("#mode") == "replay"
        assert points(page) == [4000] * 5  # every stored moment, not only the latest 3000
        assert page.is_hidden("#controls") and page.is_hidden("#field-panel")
        assert step(page) == 39990


def test_a_swarm_shows_cs_agents_and_the_chosen_field(open_page) -> None:
    swarm_layer = require("resonance_engine.swarm")
    from resonance_engine.web import Dashboard, SimulationRunner

    swarm = swarm_layer.Swarm(
        3, swarm_layer.SwarmConfig(size=32, steps_per_tick=5), coupling=0.3, seed=2
    )
    with Dashboard(SimulationRunner.for_swarm(swarm, fps=60.0)) as dash:
        page = open_page(dash.start("127.0.0.1", 0))
        wait_live(page)
        titles = page.eval_on_selector_all(
            "#charts figcaption span:first-child", "spans => spans.map(s => s.textContent)"
        )
        assert "CS (complexity synchronization)" in titles and "CI per agent" in titles
        assert page.is_visible("#member-control") and page.is_visible("#swarm-panel")
        page.select_option("#member", "2")
        page.wait_for_selector("#message.ok")
        page.wait_for_function("document.querySelector('#field').dataset.member === '2'")
        assert dash.runner.member == 2
