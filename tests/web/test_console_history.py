"""A broadcast's history on its page (SPEC 8): who created, sent and paused it, when."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from tests.web.conftest import PHYSICS, _page, _sign_in

URL = "/api/broadcast-messages/"


def test_a_broadcasts_page_says_who_did_what_to_it(
    served: dict[str, Any], browser: Browser
) -> None:
    with httpx.Client(
        base_url=served["base"], headers={"Authorization": f"Token {served['token']}"}, timeout=30
    ) as api:
        body = {"subject": "Kept", "body": "b", "query": {"customers": [PHYSICS]}}
        uuid = api.post(URL, json=body).json()["uuid"]
        assert api.patch(f"{URL}{uuid}/", json={"subject": "Kept record"}).status_code == 200
        assert api.post(f"{URL}{uuid}/send/").status_code == 200
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.goto(f"{served['base']}/#/m/{uuid}")
    history = page.locator("#history")
    expect(history).to_contain_text("Created by Stella Staff at")
    expect(history).to_contain_text("edited by Stella Staff at")
    expect(history).to_contain_text("sent by Stella Staff at")


def test_a_templates_page_says_who_made_and_edited_it(
    served: dict[str, Any], browser: Browser
) -> None:
    with httpx.Client(
        base_url=served["base"], headers={"Authorization": f"Token {served['token']}"}, timeout=30
    ) as api:
        made = api.post(
            "/api/broadcast-message-templates/",
            json={"name": "Outage", "subject": "s", "body": "b"},
        ).json()["uuid"]
        assert api.patch(f"/api/broadcast-message-templates/{made}/", json={"body": "c"}).is_success
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.goto(f"{served['base']}/#/templates/{made}")
    history = page.locator("#history")
    expect(history).to_contain_text("Created by Stella Staff at")
    expect(history).to_contain_text("edited by Stella Staff at")
