"""Console sessions in Chromium (SPEC 8): sign in once per browser; new tabs and shared
links open signed in where they point; sign-out ends it everywhere; a page of
another origin cannot make changes with the cookie."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import _page, _sign_in

URL = "/api/broadcast-messages/"


def _count(served: dict[str, Any]) -> int:
    answer = httpx.head(
        served["base"] + URL, headers={"Authorization": f"Token {served['token']}"}, timeout=30
    )
    return int(answer.headers["X-Result-Count"])


def test_a_new_tab_and_a_shared_link_open_signed_in_where_they_point(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    # The key is not kept by the page at all: the session's cookie is HttpOnly.
    assert page.evaluate("Object.keys(sessionStorage).length + document.cookie.length") == 0
    tab = page.context.new_page()
    tab.goto(served["base"] + "/#/?state=SENT&page_size=10")
    expect(tab.get_by_role("heading", name="Broadcasts")).to_be_visible()
    assert tab.url.endswith("/#/?state=SENT&page_size=10")
    expect(tab.get_by_label("API token")).to_have_count(0)

    # A shared link opened in a browser that is not signed in: sign in, land there.
    stranger = _page(browser, 1280)
    stranger.goto(served["base"] + "/#/templates")
    stranger.get_by_label("API token").fill(served["token"])
    stranger.get_by_role("button", name="Sign in").click()
    expect(stranger.get_by_role("heading", name="Templates")).to_be_visible()
    assert stranger.url.endswith("/#/templates")

    # Signing out ends the session on the server: the other tab is asked to sign in.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    tab.get_by_role("link", name="Templates").click()
    expect(tab.get_by_label("API token")).to_be_visible()


@pytest.fixture
def foreign_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Pages of another origin (same host, another port: same-site, cross-origin),
    served from the dictionary it yields."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def test_a_page_of_another_origin_cannot_change_anything_with_the_cookie(
    served: dict[str, Any], browser: Browser, foreign_site: tuple[str, dict[str, bytes]]
) -> None:
    site, pages = foreign_site
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    before = _count(served)
    target = served["base"] + URL
    attack = f"""<!doctype html><html><body>
      <form id="f" method="post" action="{target}" enctype="text/plain">
        <input name='{{"subject":"Pwned","body":"x","query":{{"all_users":true}},"z":"' value='"}}'>
      </form>
      <script>
        fetch("{target}", {{method: "POST", credentials: "include", mode: "no-cors",
          headers: {{"Content-Type": "text/plain"}},
          body: JSON.stringify({{subject: "Pwned", body: "x", query: {{all_users: true}}}})}})
          .finally(() => document.getElementById("f").submit());
      </script></body></html>"""
    pages["/attack"] = attack.encode()
    # Another tab of the same browser, which holds the session's cookie.
    evil = page.context.new_page()
    evil.goto(site + "/attack")
    # The form's navigation lands on Herald's refusal; the fetch was refused too.
    expect(evil.locator("body")).to_contain_text("Refused", timeout=15_000)
    assert evil.url.startswith(served["base"])
    assert _count(served) == before  # nothing was created
