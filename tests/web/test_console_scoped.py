"""The console for senders beyond staff (SPEC 9), in Chromium: a service provider
writes to the people its offerings reach and asks to send; staff find it under
"To review", see whom it reaches, approve one and reject another with a note,
which the provider then reads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.scoped.conftest import Federation, federation  # noqa: F401 (a fixture)
from tests.web.conftest import _page, _shoot, _sign_in


@pytest.fixture(autouse=True)
def _sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the console only talks to the API, which is tested on both databases")


def _write(page: Page, subject: str) -> None:
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Message (plain text or HTML)").fill("The cluster is down on Monday.")
    page.get_by_role("button", name="Next: recipients").click()
    # Only their own offerings to pick from, and no all-users or hand-typed addresses.
    expect(page.get_by_label("All users of the portal")).to_have_count(0)
    expect(page.get_by_label("Also send to (addresses)")).to_have_count(0)
    page.get_by_role("combobox", name="Offerings").fill("Cloud")
    expect(page.get_by_role("option")).to_have_count(0)  # another provider's
    page.get_by_role("combobox", name="Offerings").fill("HPC")
    page.get_by_role("option", name="HPC cluster").click()
    expect(page.locator("#recipient-count")).to_have_text("3 recipients")


def test_a_provider_asks_and_staff_approve_or_reject_with_a_note(
    federation: Federation,  # noqa: F811
    browser: Browser,
) -> None:
    provider = _page(browser, 1280)
    _sign_in(provider, federation.url, federation.tokens["max"])
    expect(provider.get_by_role("link", name="Bounces")).to_be_hidden()
    expect(provider.get_by_role("link", name="To review")).to_be_hidden()
    for subject in ("HPC maintenance", "HPC pricing"):
        _write(provider, subject)
        provider.get_by_role("button", name="Send now").click()
        provider.get_by_role("button", name="Send", exact=True).click()
        expect(provider.locator("#review-state")).to_contain_text("Waiting for review")
        expect(provider.locator("h1 .badge")).to_have_text("Waiting for review")
    _shoot(provider, "scoped-waiting-1280")

    staff = _page(browser, 1280)
    _sign_in(staff, federation.url, federation.tokens["staff"])
    staff.get_by_role("link", name="To review").click()
    rows = staff.locator("#review tbody tr")
    expect(rows).to_have_count(2)
    maintenance = rows.filter(has_text="HPC maintenance")
    expect(maintenance).to_contain_text("HPC Centre")
    expect(maintenance).to_contain_text("Max")
    expect(maintenance).to_contain_text("3 recipients")
    _shoot(staff, "review-1280")
    maintenance.get_by_role("button", name="Approve").click()
    expect(staff.locator("#confirm-text")).to_contain_text("send it now to 3 recipients")
    staff.get_by_role("button", name="Approve", exact=True).last.click()
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Reject").click()
    staff.get_by_label("Why (the sender reads this)").fill("Prices go on the website, not by mail.")
    staff.locator("#confirm-ok").click()
    expect(staff.locator("#review")).to_contain_text("Nothing waits for review.")

    provider.goto(f"{federation.url}/#/")
    listed = provider.locator("table tbody tr")
    expect(listed.filter(has_text="HPC pricing")).to_contain_text("Rejected")
    provider.get_by_role("link", name="HPC pricing").click()
    expect(provider.locator("#review-state")).to_contain_text(
        "Rejected: Prices go on the website, not by mail."
    )
    provider.goto(f"{federation.url}/#/")
    provider.get_by_role("link", name="HPC maintenance").click()
    expect(provider.locator("h1 .badge")).not_to_have_text("Waiting for review")
    expect(provider.locator("#review-state")).to_contain_text("Approved by Stella Staff")
