"""A real browser for the web tests: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from herald.core.db import Database
from tests.conftest import EXAMPLE_DIRECTORY, load_directory
from tests.delivery.helpers import wait_for
from tests.smtp_sink import SmtpSink, free_port

CHROMIUM = "/usr/bin/chromium"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
# `make screenshots` sets this to docs/screenshots/; the test run itself never
# rewrites tracked files, so by default the pictures go to a temporary folder.
SCREENSHOTS = Path(
    os.environ.get("HERALD_SCREENSHOTS") or tempfile.mkdtemp(prefix="herald-screenshots-")
)
PHYSICS_ADDRESSES = {
    "it@physics.example",
    "mia@physics.example",
    "olga@physics.example",
    "pavel@physics.example",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def served(
    db: Database, database_url: str, staff: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """`herald serve` with its delivery process, mailing to an aiosmtpd sink."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the console only talks to the API, which is tested on both databases")
    load_directory(db, json.loads(EXAMPLE_DIRECTORY.read_text()))
    sink = SmtpSink().start()
    port = free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SMTP_URL": sink.url,
        "HERALD_POLL_INTERVAL": "0.2",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stream:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("herald")), "serve", "--port", str(port)],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/api/schema/").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "herald serve")
        yield {"base": base, "token": staff["token"], "sink": sink}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        sink.stop()


def _page(browser: Browser, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "about:"))
            else None
        ),
    )
    page.outside_requests = outside  # type: ignore[attr-defined]
    return page


def _sign_in(page: Page, base: str, token: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Broadcasts")).to_be_visible()


def _shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
