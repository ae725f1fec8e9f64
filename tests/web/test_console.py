"""The staff console in a real browser (Debian's Chromium, driven by Playwright),
against a real `herald serve` delivering to a real SMTP server."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.smtp_sink import SmtpSink
from tests.web.conftest import PHYSICS, PHYSICS_ADDRESSES, _page, _shoot, _sign_in


def test_sign_in_refuses_bad_tokens_and_non_staff(
    served: dict[str, Any], browser: Browser, database_url: str
) -> None:
    page = _page(browser, 1440)
    page.goto(served["base"] + "/")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    member = (
        subprocess.run(
            [
                str(Path(sys.executable).with_name("herald")),
                "create-token",
                "--email",
                "mia@physics.example",
            ],
            env={**os.environ, "HERALD_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    page.get_by_label("API token").fill(member)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("neither staff nor support")
    _shoot(page, "sign-in-1440")
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('herald.token')") is None


@pytest.mark.parametrize("width", [1440, 375])
def test_compose_edit_schedule_unschedule_send_and_watch_delivery(
    served: dict[str, Any], browser: Browser, width: int
) -> None:
    page = _page(browser, width)
    _sign_in(page, served["base"], served["token"])
    page.wait_for_timeout(300)  # the status request has answered by now
    expect(page.locator("#notice")).to_be_hidden()  # a real relay: no warning

    # compose: message, then recipients picked by type-ahead
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Cluster maintenance")
    page.get_by_label("Message (plain text or HTML)").fill(
        "<p>The <b>cluster</b> is down on Monday.</p>"
    )
    preview = page.frame_locator("iframe.preview")
    expect(preview.locator("b")).to_have_text("cluster")
    _shoot(page, f"compose-message-{width}")
    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_role("combobox", name="Organisations").fill("Phys")
    page.get_by_role("option", name="Physics Institute").click()
    expect(page.locator("#recipient-count")).to_have_text("4 recipients")
    rows = page.locator("#recipients tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Physics Institute")
    _shoot(page, f"compose-recipients-{width}")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("heading", name="Cluster maintenance")).to_contain_text("Draft")

    # edit the subject
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Subject", exact=True).fill("Cluster maintenance on Monday")
    page.get_by_role("button", name="Next: recipients").click()
    expect(page.locator("#recipient-count")).to_have_text("4 recipients")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("heading", name="Cluster maintenance on Monday")).to_be_visible()

    # schedule for today, then unschedule
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_label("Send on").fill(datetime.date.today().isoformat())
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("h1 .badge")).to_have_text("Scheduled")
    page.get_by_role("button", name="Unschedule").click()
    expect(page.locator("h1 .badge")).to_have_text("Draft")

    # send now: the confirmation states the count; delivery reaches 100%
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#confirm-text")).to_contain_text("to 4 recipients now")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("Sent")
    expect(page.locator("#delivery-summary")).to_contain_text("4/4 sent (100%)", timeout=30_000)
    _shoot(page, f"broadcast-{width}")
    sink: SmtpSink = served["sink"]
    assert sink.deliveries_per_address() == {a: 1 for a in PHYSICS_ADDRESSES}
    assert {r.message["Subject"] for r in sink.received} == {"Cluster maintenance on Monday"}

    page.get_by_role("link", name="← All broadcasts").click()
    row = page.get_by_role("row", name="Cluster maintenance on Monday")
    expect(row).to_contain_text("Sent")
    expect(row).to_contain_text("4/4")
    _shoot(page, f"list-{width}")
    assert page.outside_requests == []  # type: ignore[attr-defined]


def test_stored_script_never_runs(served: dict[str, Any], browser: Browser) -> None:
    headers = {"Authorization": f"Token {served['token']}"}
    subject = "<script>window.__xss='subject'</script><img src=x onerror=\"window.__xss='img'\">"
    body = (
        "<p>Hello</p><script>window.__xss='body'</script>"
        "<img src=x onerror=\"parent.__xss='preview'\">"
        "<a href=\"javascript:parent.__xss='a'\">x</a>"
        '<img src="https://tracker.example/pixel.png">'
    )
    created = httpx.post(
        served["base"] + "/api/broadcast-messages/",
        json={"subject": subject, "body": body, "query": None},
        headers=headers,
    ).json()
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    expect(page.get_by_role("link", name=subject)).to_be_visible()
    page.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    preview = page.frame_locator("iframe.preview")
    expect(preview.locator("p")).to_have_text("Hello")
    assert preview.locator("script").count() == 0
    page.get_by_role("link", name="Edit").click()
    expect(page.frame_locator("iframe.preview").locator("p")).to_have_text("Hello")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.outside_requests == []  # type: ignore[attr-defined]
    assert created["subject"] == subject


def test_the_console_works_from_the_keyboard_alone(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 375)
    page.goto(served["base"] + "/")
    # the token field has focus from the start; Enter submits
    expect(page.get_by_label("API token")).to_be_focused()
    _shoot(page, "sign-in-375")
    page.keyboard.type(served["token"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Broadcasts")).to_be_visible()
    for _ in range(25):  # through the list's controls, round to the menu
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "New broadcast":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_label("Subject", exact=True)).to_be_focused()
    page.keyboard.type("Typed only")
    page.keyboard.press("Tab")
    page.keyboard.type("No mouse was used.")
    for _ in range(12):  # past the preview's address and frame to the step button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Next: recipients":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("checkbox", name="All users of the portal")).to_be_visible()


def test_the_list_filters_searches_sorts_and_pages(
    served: dict[str, Any], browser: Browser
) -> None:
    headers = {"Authorization": f"Token {served['token']}"}
    base = served["base"] + "/api/broadcast-messages/"
    for number in range(23):
        httpx.post(base, json={"subject": f"Notice {number:02}", "body": "b"}, headers=headers)
    sent = httpx.post(
        base,
        json={"subject": "Zeta release", "body": "b", "query": {"customers": [PHYSICS]}},
        headers=headers,
    ).json()
    httpx.post(f"{base}{sent['uuid']}/send/", headers=headers)
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    expect(page.get_by_text("Page 1 of 2 · 24 broadcasts")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(20)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Page 2 of 2 · 24 broadcasts")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(4)

    page.get_by_label("State").select_option("SENT")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("Zeta release")

    page.get_by_label("State").select_option("")
    page.get_by_label("Subject contains").fill("notice 1")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(10)

    page.get_by_role("button", name="Subject").click()  # ascending
    expect(page.locator("tbody tr").first).to_contain_text("Notice 10")
    page.get_by_role("button", name="Subject ▲").click()  # descending
    expect(page.locator("tbody tr").first).to_contain_text("Notice 19")


def test_retry_failed_from_a_broadcasts_page(served: dict[str, Any], browser: Browser) -> None:
    sink: SmtpSink = served["sink"]
    sink.permanent.add("mia@physics.example")
    headers = {"Authorization": f"Token {served['token']}"}
    base = served["base"] + "/api/broadcast-messages/"
    message = httpx.post(
        base,
        json={"subject": "Retry me", "body": "b", "query": {"customers": [PHYSICS]}},
        headers=headers,
    ).json()
    httpx.post(f"{base}{message['uuid']}/send/", headers=headers)
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Retry me").click()
    expect(page.locator("#delivery-summary")).to_contain_text("3/4 sent", timeout=30_000)
    expect(page.locator("#delivery-summary")).to_contain_text("1 failed")
    expect(page.get_by_role("row", name="mia@physics.example")).to_contain_text("550")
    sink.permanent.clear()
    page.get_by_role("button", name="Retry 1 failed").click()
    expect(page.locator("#delivery-summary")).to_contain_text("4/4 sent (100%)", timeout=30_000)


def test_templates_and_a_preview_for_one_recipient(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Hello {{ recipient.full_name }}")
    page.get_by_label("Message (plain text or HTML)").fill(
        "<p>Dear {{ recipient.full_name }}, of {{ recipient.customers }}</p>"
    )
    page.get_by_label("Template name").fill("Greeting")
    page.get_by_role("button", name="Save as template").click()
    expect(page.locator("#status")).to_contain_text("Saved as the template “Greeting”")

    # a new message starts from it (leaving the unsaved compose screen asks first)
    page.goto(served["base"] + "/#/")
    page.get_by_role("button", name="Leave").click()  # the unsaved-work question
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Start from a template").select_option(label="Greeting")
    expect(page.get_by_label("Subject", exact=True)).to_have_value(
        "Hello {{ recipient.full_name }}"
    )
    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_role("combobox", name="Organisations").fill("Phys")
    page.get_by_role("option", name="Physics Institute").click()
    expect(page.locator("#recipient-count")).to_have_text("4 recipients")
    page.get_by_role("button", name="Save as draft").click()

    # each recipient's own mail
    page.get_by_label("Recipient", exact=True).select_option("olga@physics.example")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#recipient-preview")
    expect(preview).to_contain_text("Subject: Hello Olga Owner")
    frame = page.frame_locator("#recipient-preview iframe")
    expect(frame.locator("p")).to_have_text("Dear Olga Owner, of Physics Institute")
    page.wait_for_timeout(300)  # let the frame paint before the screenshot
    _shoot(page, "preview-1440")
