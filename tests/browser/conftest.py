"""Fixtures for browser tests: the real thing, as a user meets it.

A fresh instance folder with SQLite (migrated and given its accounts by the `antar` command), the courier simulator
(`antar courier-sim`) and the web application (`antar serve`, gunicorn with two workers, no SECRET_KEY in its
environment: the key is generated once in the instance folder) run as processes on free loopback ports, and
Chromium (Debian's, through Playwright) visits the pages. Every page a test visits is saved as a full-page
screenshot in tests/browser/artifacts/, named by test and step; the processes' logs go there too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator

import pytest
from browser_stack import (
    API_TOKEN,
    ARTIFACTS,
    CHROMIUM,
    GEOJSON,
    OFFICER_CARDS,
    OFFICER_KELURAHAN,
    OFFICER_USER,
    PASSWORD,
    STAFF_USER,
    Shots,
    Stack,
    Visit,
    free_port,
    start_process,
    stop_process,
    wait_ready,
)
from helpers import write_csv

from courier_sim.webhook import generate_secret


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("browser")
    instance = workdir / "instance"
    ARTIFACTS.mkdir(exist_ok=True)
    serve_port, sim_port = free_port(), free_port()
    base_url, sim_url = f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{sim_port}/"
    secret = generate_secret()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTAR_", "DATABASE_URL", "SECRET_KEY"))}
    env.update({
        "ANTAR_INSTANCE_PATH": str(instance), "ANTAR_PASSWORD": PASSWORD,
        "ANTAR_COURIER_BASE_URL": sim_url, "ANTAR_COURIER_API_TOKEN": API_TOKEN,
        "ANTAR_COURIER_WEBHOOK_SECRETS": secret,
        # "Not collected" may be recorded from the day a batch is received (the officer's day covers every kind).
        "ANTAR_COLLECTION_DEADLINE_DAYS": "0",
    })
    module = request.module.__name__.rsplit(".", 1)[-1]  # one stack per test module: logs of its own
    stack = Stack(base_url, sim_url, env, workdir, {"serve": ARTIFACTS / f"{module}-serve.log",
                                                     "courier-sim": ARTIFACTS / f"{module}-courier-sim.log"})
    stack.antar("db", "upgrade")
    # Kelurahan outlines for the dashboard's map: the development data of ../shared (read in place, never copied).
    if GEOJSON.exists():
        stack.antar("regions", "load-geo", str(GEOJSON), "--only", "32.16")
    stack.antar("users", "create", STAFF_USER, "--role", "staff", "--name", "Staf Uji")
    stack.antar("users", "create", OFFICER_USER, "--role", "officer", "--kelurahan", OFFICER_KELURAHAN,
                "--name", "Petugas Jatimulya")
    # The officer's batch, before anything else: a later print run's Jatimulya cards are withdrawn at import and
    # never touch this batch, so the staff and officer days do not depend on each other's order.
    stack.antar("import", str(write_csv(workdir / "jatimulya.csv", OFFICER_CARDS)))
    stack.antar("sorting", "withdraw", "--kelurahan", OFFICER_KELURAHAN, "--reason", "uji")
    built = stack.antar("returns", "build", "--kelurahan", OFFICER_KELURAHAN, "--dispatch").stdout
    assert re.search(rf"Jatimulya.*\b{len(OFFICER_CARDS)}\b.*Dikirim ke kelurahan", built), built

    # The simulator's clock does not tick on its own (a simulated day is a real day): the staff test moves it with
    # POST /_sim/advance, so that what arrives is decided by the test, not by how fast the machine is.
    sim = start_process(["courier-sim", "--port", str(sim_port), "--target", f"{base_url}/api/v1/courier/events",
                  "--secret", secret, "--token", API_TOKEN, "--seed", "5", "--seconds-per-day", "86400",
                         # its days lie in the past: an event dated after its arrival is refused as implausible
                         "--start", (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).isoformat(timespec="seconds")],
                 env, workdir, stack.logs["courier-sim"])
    serve = None
    try:
        wait_ready(sim_url + "_sim/state", sim, stack.logs["courier-sim"])
        serve = start_process(["serve", "--port", str(serve_port), "--workers", "2"], env, workdir, stack.logs["serve"])
        wait_ready(f"{base_url}/readyz", serve, stack.logs["serve"])
        assert (instance / "secret_key").exists(), "antar serve did not keep its secret key in the instance folder"
        yield stack
    finally:
        if serve is not None:
            stop_process(serve)
        stop_process(sim)


@pytest.fixture(scope="module", autouse=True)
def _chromium_present() -> None:
    """Debian's Chromium is what the browser tests drive: `.ci/run` installs it; CI fails without it, a developer's
    run skips these tests with the command to install it (as the suite does for PostgreSQL)."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} not found: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def _visit(browser, stack: Stack, request: pytest.FixtureRequest, **context_args) -> Iterator[Visit]:
    context = browser.new_context(base_url=stack.base_url, locale="id-ID", timezone_id="Asia/Jakarta",
                                  **context_args)
    context.set_default_timeout(15_000)
    page = context.new_page()
    visit = Visit(page, Shots(request.node.name.removeprefix("test_")), stack.base_url)

    def on_response(response) -> None:
        if response.request.resource_type == "document" and response.status >= 500:
            visit.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", on_response)
    # Every page passes the Content-Security-Policy: Chromium reports each refused inline script or style.
    csp_violations: list[str] = []
    page.on("console", lambda msg: csp_violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    yield visit
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        try:
            visit.shot("failure")
        except Exception:  # noqa: BLE001 - the screenshot is a courtesy, the failure is what matters
            pass
    context.close()
    assert not visit.server_errors, f"server errors: {visit.server_errors}\n{stack.tail('serve')}"
    assert not csp_violations, "\n".join(csp_violations[:20])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test, so that a fixture can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def desktop(browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Visit]:
    yield from _visit(browser, stack, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def mobile(browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Visit]:
    yield from _visit(browser, stack, request, viewport={"width": 360, "height": 740}, is_mobile=True,
                      has_touch=True, device_scale_factor=2)
