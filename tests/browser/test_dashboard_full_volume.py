"""The dashboard and the map at the demo's full 132,289-card run, in Chromium, against `antar serve`.

The demo at full volume takes minutes, so this test runs when asked: `ANTAR_FULL_VOLUME=1` (it then makes the demo
itself, with the kelurahan outlines of ../shared) or `ANTAR_FULL_VOLUME=/path/to/instance` (an instance folder where
`antar demo --cards 132289 --geo ...` already ran). It writes the screenshots
tests/browser/artifacts/full_volume-*.png and checks, through HTTP, that the dashboard's figures are the
reconciliation's and that the page answers fast.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_stack import (
    ANTAR,
    ARTIFACTS,
    GEOJSON,
    Shots,
    Visit,
    free_port,
    start_process,
    stop_process,
    wait_ready,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.environ.get("ANTAR_FULL_VOLUME"),
                                                      reason="full volume: set ANTAR_FULL_VOLUME=1 (minutes)")]
CARDS = 132_289
DEMO_PASSWORD = "antar-demo"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ["ANTAR_FULL_VOLUME"]
    instance = Path(given) if given != "1" else tmp_path_factory.mktemp("full") / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTAR_", "DATABASE_URL", "SECRET_KEY"))}
    env["ANTAR_INSTANCE_PATH"] = str(instance)
    database = instance / "demo" / "antar-demo.sqlite"
    if not database.exists():
        demo = subprocess.run([ANTAR, "demo", "--cards", str(CARDS), "--geo", str(GEOJSON)], env=env,
                              capture_output=True, text=True, timeout=3600)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        (ARTIFACTS / "full_volume-demo.txt").write_text(demo.stdout)
    env["DATABASE_URL"] = f"sqlite:///{database}"
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "full_volume-serve.log"
    serve = start_process(["serve", "--port", str(port), "--workers", "2"], env, instance, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", serve, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(serve)


def test_dashboard_and_map_at_132289_cards(served: str, browser) -> None:
    context = browser.new_context(base_url=served, viewport={"width": 1366, "height": 900}, locale="id-ID",
                                  timezone_id="Asia/Jakarta")
    page = context.new_page()
    v = Visit(page, Shots("full_volume"), served)
    v.goto("/login")
    page.get_by_label("Nama pengguna").fill("staf")
    page.get_by_label("Kata sandi").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_url(re.compile(r"/dasbor$"))

    # the figures over HTTP (the browser's session): the dashboard's equal the reconciliation's count of the cards
    started = time.perf_counter()
    fig = page.request.get("/api/v1/dashboard").json()
    elapsed = time.perf_counter() - started
    rec = page.request.get("/api/v1/report").json()
    assert fig["printed"] == rec["printed"] == CARDS
    assert fig["by_state"] == rec["by_state"]
    assert elapsed < 2, f"/api/v1/dashboard took {elapsed:.2f} s at {CARDS} cards"

    expect(page.locator(".dash-stats .stat").first).to_have_text("132.289")
    v.shot("dashboard")
    assert page.locator("svg.map .map-area").count() >= 180
    page.locator("svg.map").scroll_into_view_if_needed()
    page.locator("svg.map").screenshot(path=str(ARTIFACTS / "full_volume-map-rate.png"))
    v.goto("/dasbor?peta=kembali", "map-returns")
    page.locator("svg.map").screenshot(path=str(ARTIFACTS / "full_volume-map-returns.png"))
    busiest = fig["most_returns"][0]["kode_wilayah"]
    page.locator(f'svg.map a.map-area[data-kode="{busiest}"]').click()
    expect(page).to_have_url(re.compile(rf"/dasbor/kelurahan/{re.escape(busiest)}"))
    v.shot("kelurahan-most-returns")
    context.close()
