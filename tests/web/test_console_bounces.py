"""The console's bounces screen and the bounces on a broadcast's page, in Chromium (SPEC 4.2)."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from herald.core.clock import utc_now
from herald.core.db import Database
from herald.operations import jobs
from tests.delivery.helpers import wait_for
from tests.web.conftest import PHYSICS, _page, _sign_in

URL = "/api/broadcast-messages/"


def _api(served: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=served["base"], headers={"Authorization": f"Token {served['token']}"}, timeout=30
    )


def test_staff_find_a_suppressed_address_see_whom_to_ask_and_mail_it_again(
    served: dict[str, Any], browser: Browser
) -> None:
    with _api(served) as api:
        report = {
            "email": "olga@physics.example",
            "kind": "hard",
            "reason": "550 5.1.1 no such user",
        }
        assert api.post("/api/bounces/", json=report).status_code == 202
        manual = {"email": "someone@else.example", "note": "asked to stop"}
        assert api.post("/api/suppressions/", json=manual).status_code == 201
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Bounces").click()
    table = page.locator("#suppressions")
    expect(table.locator("tbody tr")).to_have_count(2)
    olga = table.locator("tr", has_text="olga@physics.example")
    expect(olga).to_contain_text("Olga Owner")
    expect(olga).to_contain_text("Physics Institute")  # whom to ask, and where
    expect(olga).to_contain_text("hard bounce 5.1.1")
    # A suppression added by hand says who added it, and why (the suppression's own record).
    expect(table.locator("tr", has_text="someone@else.example")).to_contain_text(
        "Added by Stella Staff: asked to stop"
    )

    # A search lives in the address: a reload or a shared link keeps it.
    page.get_by_role("searchbox", name="Address").fill("olga")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{served['base']}/#/bounces?email=olga")
    page.reload()
    expect(table.locator("tbody tr")).to_have_count(1)

    # Removing asks first; Cancel changes nothing.
    olga.get_by_role("button", name="Mail again").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Remove the suppression of olga@physics.example?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(olga).to_be_visible()
    olga.get_by_role("button", name="Mail again").click()
    dialog.get_by_role("button", name="Mail again").click()
    expect(page.locator("#status")).to_contain_text("olga@physics.example will be mailed again")
    expect(table).to_contain_text("No suppressed addresses.")
    with _api(served) as api:
        assert [s["email"] for s in api.get("/api/suppressions/").json()] == [
            "someone@else.example"
        ]

    # The bounce itself, as it arrived.
    page.goto(f"{served['base']}/#/bounces")
    page.locator("#bounces").get_by_role("link", name="Read").first.click()
    expect(page.get_by_role("heading", name="hard bounce: olga@physics.example")).to_be_visible()
    expect(page.locator("#bounce-raw")).to_contain_text('"reason":"550 5.1.1 no such user"')
    assert not page.outside_requests  # type: ignore[attr-defined]


def test_a_bounce_mailbox_that_cannot_be_read_says_so_on_the_screen(
    served: dict[str, Any], browser: Browser, db: Database
) -> None:
    error = "cannot log in to the bounce mailbox imaps://bounces@imap.example.org:993/INBOX"
    with db.transaction() as session:
        jobs.record_run(
            session, jobs.Job.BOUNCES, utc_now(), 0.2, ok=False, detail={"error": error}
        )
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Bounces").click()
    expect(page.locator("#mailbox-state")).to_contain_text(f"could not be read just now: {error}")
    with db.transaction() as session:
        jobs.record_run(session, jobs.Job.BOUNCES, utc_now(), 0.2, ok=True, detail={"read": 0})
    page.reload()
    expect(page.locator("#mailbox-state")).to_have_text("Bounce mailbox read just now.")


def test_a_broadcasts_page_shows_its_bounces_and_suppressed_recipients(
    served: dict[str, Any], browser: Browser
) -> None:
    with _api(served) as api:
        assert api.post("/api/suppressions/", json={"email": "mia@physics.example"}).status_code
        body = {"subject": "Outage", "body": "b", "query": {"customers": [PHYSICS]}}
        uuid = api.post(URL, json=body).json()["uuid"]
        assert api.post(f"{URL}{uuid}/send/").status_code == 200
        wait_for(
            lambda: api.get(f"{URL}{uuid}/").json()["delivery"]["status"] == "done", 30, "sent"
        )
        report = {"email": "olga@physics.example", "kind": "hard", "reason": "mailbox gone",
                  "message_uuid": uuid}  # fmt: skip
        assert api.post("/api/bounces/", json=report).status_code == 202
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.goto(f"{served['base']}/#/m/{uuid}")
    summary = page.locator("#delivery-summary")
    expect(summary).to_contain_text("1 bounced")
    expect(summary).to_contain_text("1 suppressed (not mailed)")
    page.get_by_label("Show").select_option("bounced")
    row = page.locator("#deliveries tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("olga@physics.example")
    expect(row).to_contain_text("hard bounce: mailbox gone")
    row.get_by_role("link", name="Read the bounce").click()
    expect(page.locator("#bounce-raw")).to_contain_text("mailbox gone")
    page.go_back()
    mia = page.locator("#deliveries tbody tr", has_text="mia@physics.example")
    expect(mia).to_contain_text("Suppressed: never mailed")


def test_the_suppression_names_who_added_it_last_for_staff_and_support(
    served: dict[str, Any], browser: Browser, db: Database
) -> None:
    """Added by Stella, removed, added again by Sam: the screen names Sam, for staff
    and for support alike (it once took the oldest audit entry, and only for staff)."""
    from tests.bounces.test_bounce_api import _token_for

    support = _token_for(db, "sam@support.example", support=True)
    with _api(served) as api:
        first = {"email": "gone@else.example", "note": "first time"}
        assert api.post("/api/suppressions/", json=first).status_code == 201
        assert api.delete("/api/suppressions/gone@else.example/").status_code == 204
    with httpx.Client(
        base_url=served["base"], headers={"Authorization": f"Token {support}"}, timeout=30
    ) as as_support:
        again = {"email": "gone@else.example", "note": "asked again"}
        added = as_support.post("/api/suppressions/", json=again)
        assert added.status_code == 201, added.text
        assert added.json()["added_by"]["full_name"] == "Sam"
    for token in (served["token"], support):
        page = _page(browser, 1280)
        _sign_in(page, served["base"], token)
        page.get_by_role("link", name="Bounces").click()
        row = page.locator("#suppressions tr", has_text="gone@else.example")
        expect(row).to_contain_text("Added by Sam: asked again")
        page.context.close()


def test_staff_suppress_an_address_by_hand_and_learn_whether_bounces_are_read(
    served: dict[str, Any], browser: Browser
) -> None:
    """Issue 23: the API could add a suppression, the screen could not; and an empty
    screen did not say whether bounces are read at all (here they are not)."""
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Bounces").click()
    expect(page.locator("#mailbox-state")).to_contain_text("Bounces are not read on this Herald")
    page.get_by_label("Suppress an address").fill("not an address")
    page.get_by_label("Note", exact=True).fill("asked to stop")
    page.get_by_role("button", name="Suppress").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.locator("#suppressions")).to_contain_text("No suppressed addresses.")
    page.get_by_label("Suppress an address").fill("leaver@else.example")
    page.get_by_role("button", name="Suppress").click()
    expect(page.locator("#status")).to_contain_text("leaver@else.example will not be mailed.")
    row = page.locator("#suppressions tr", has_text="leaver@else.example")
    expect(row).to_contain_text("Added by Stella Staff: asked to stop")
    with _api(served) as api:
        [entry] = api.get("/api/suppressions/").json()
        assert (entry["reason"], entry["note"]) == ("manual", "asked to stop")
    # At 375 px the row is a card, and the action cell carries no stray label.
    page.set_viewport_size({"width": 375, "height": 800})
    label = row.locator("td").last.evaluate("c => getComputedStyle(c, '::before').content")
    assert label in ("none", '""', "normal"), label
