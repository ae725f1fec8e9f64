"""Defects found when the console was tried as staff would, each shown fixed in Chromium."""

from __future__ import annotations

import datetime
import re
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from herald.core.db import Database
from tests.conftest import load_directory
from tests.smtp_sink import SmtpSink
from tests.web.conftest import PHYSICS, _page, _sign_in

URL = "/api/broadcast-messages/"


def _api(served: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=served["base"], headers={"Authorization": f"Token {served['token']}"}, timeout=30
    )


def _message(served: dict[str, Any], subject: str, body: str = "b", send: bool = False) -> str:
    with _api(served) as client:
        created = client.post(
            URL, json={"subject": subject, "body": body, "query": {"customers": [PHYSICS]}}
        ).json()
        if send:
            client.post(f"{URL}{created['uuid']}/send/")
    return str(created["uuid"])


def test_a_drafts_page_prints_no_null_and_previews_at_once(
    served: dict[str, Any], browser: Browser
) -> None:
    _message(served, "A draft", "<p>Dear {{ recipient.full_name }}</p>")
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="A draft").click()
    expect(page.get_by_role("heading", name="Details")).to_be_visible()
    assert "null" not in page.locator("main").inner_text()
    # The mail as the first recipient gets it, without a click: placeholders filled.
    frame = page.frame_locator("#recipient-preview iframe")
    expect(frame.locator("p")).to_have_text(re.compile(r"^Dear \S"))


def test_a_save_error_on_templates_goes_once_the_text_is_changed(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.goto(served["base"] + "/#/templates/new")
    page.get_by_label("Name").fill("Broken")
    page.get_by_label("Subject", exact=True).fill("Hello")
    page.get_by_label("Message (plain text or HTML)").fill("{{ recipient.nope(")
    page.get_by_role("button", name="Save template").click()
    error = page.locator("main p.error[role=alert]").last
    expect(error).not_to_be_empty()
    page.get_by_label("Message (plain text or HTML)").fill("Hello {{ recipient.full_name }}")
    expect(error).to_be_empty()


def test_at_375_px_every_delivery_column_is_in_view(
    served: dict[str, Any], browser: Browser
) -> None:
    served["sink"].permanent.add("mia@physics.example")
    _message(served, "Narrow", send=True)
    page = _page(browser, 375)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Narrow").click()
    expect(page.locator("#deliveries caption")).to_have_text("4 deliveries", timeout=30_000)
    caption = page.locator("#deliveries caption").bounding_box()
    assert caption and caption["x"] + caption["width"] <= 375
    failed = page.locator("#deliveries td[data-label='Last error']", has_text="550")
    expect(failed).to_be_visible(timeout=30_000)
    box = failed.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    # The address field for a preview is styled like every other field.
    preview_for = page.locator("#preview-for")
    subject_style = page.evaluate(
        "() => getComputedStyle(document.querySelector('#test-to')).fontSize"
    )
    assert preview_for.evaluate("e => getComputedStyle(e).fontSize") == subject_style


def test_a_bad_filter_in_the_address_is_ignored(served: dict[str, Any], browser: Browser) -> None:
    _message(served, "Still listed")
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.goto(served["base"] + "/#/?state=BOGUS&o=nonsense&delivery=stuck")
    expect(page.get_by_role("link", name="Still listed")).to_be_visible()
    assert "Something went wrong" not in page.locator("main").inner_text()


def test_the_badge_and_the_summary_give_one_figure(
    served: dict[str, Any], browser: Browser
) -> None:
    sink: SmtpSink = served["sink"]
    sink.temporary["mia@physics.example"] = 1000  # greylisted for good: stays pending
    uuid = _message(served, "Eight of nine", send=False)
    with _api(served) as client:
        client.patch(
            f"{URL}{uuid}/",
            json={"query": {"customers": [PHYSICS], "additional_recipients": [
                f"extra{n}@physics.example" for n in range(5)]}},
        )  # fmt: skip
        client.post(f"{URL}{uuid}/send/")
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Eight of nine").click()
    summary = page.locator("#delivery-summary")
    expect(summary).to_contain_text("8/9 sent", timeout=30_000)
    badge = page.locator("h1 .badge")
    expect(badge).to_have_text("Sending — 88%")
    expect(summary).to_contain_text("(88%)")


def test_compose_previews_a_chosen_address_with_its_organisations(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Orgs")
    page.get_by_label("Message (plain text or HTML)").fill(
        "<p>{{ recipient.customers | join(', ') }}</p>"
    )
    page.get_by_label("Preview for (address)").fill("olga@physics.example")
    expect(page.frame_locator("#preview iframe").locator("p")).to_have_text("Physics Institute")


def test_navigation_sorting_links_and_the_day(served: dict[str, Any], browser: Browser) -> None:
    for subject in ("Alpha", "Beta"):
        _message(served, subject)
    page = _page(browser, 375)
    _sign_in(page, served["base"], served["token"])
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Broadcasts")
    link = page.get_by_role("link", name="Alpha")
    assert link.evaluate("e => getComputedStyle(e).color") == "rgb(36, 87, 197)"
    page.get_by_label("Sort").select_option("subject")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#broadcasts tbody tr").first).to_contain_text("Alpha")
    page.get_by_label("Sort").select_option("-subject")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#broadcasts tbody tr").first).to_contain_text("Beta")
    page.get_by_role("link", name="Templates").click()
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Templates")
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Day")
    page.get_by_label("Message (plain text or HTML)").fill("Body")
    page.get_by_role("button", name="Next: recipients").click()
    help_text = page.locator("#schedule-help").inner_text()
    assert not re.search(r"\d{4}-\d{2}-\d{2}", help_text), help_text  # not ISO beside mm/dd/yyyy
    # One date format everywhere, the browser's locale: the help, the outcome, the
    # message's page and the list say a day the same way (issue 23).
    today = datetime.date.today().isoformat()
    shown = page.evaluate(
        "d => new Date(d + 'T00:00:00').toLocaleDateString(undefined, {dateStyle: 'medium'})", today
    )
    assert f"today is {shown}." in help_text, help_text
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}", help_text), help_text
    page.get_by_label("Send on").fill(today)
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#status")).to_contain_text(f"Scheduled for {shown}.")
    expect(page.locator("dl.facts")).to_contain_text(shown)
    page.get_by_role("link", name="Broadcasts", exact=True).click()
    row = page.locator("#broadcasts tbody tr").filter(
        has=page.get_by_role("link", name="Day", exact=True)
    )
    expect(row).to_contain_text(shown)


def test_an_offering_that_reaches_nobody_says_so(
    served: dict[str, Any], browser: Browser, db: Database
) -> None:
    load_directory(db, {"offerings": [{"uuid": "e" * 32, "name": "Quantum annealer"}]})
    page = _page(browser, 1440)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Nobody")
    page.get_by_label("Message (plain text or HTML)").fill("Body")
    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_role("combobox", name="Offerings").fill("Quantum")
    page.get_by_role("option", name="Quantum annealer").click()
    expect(page.locator("#recipient-count")).to_contain_text("Nobody")
    expect(page.locator("#recipient-count")).to_have_class(re.compile("error"))


def test_eleven_test_addresses_are_refused_out_loud_not_cut_to_ten(
    served: dict[str, Any], browser: Browser
) -> None:
    uuid = _message(served, "Tested")
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.goto(f"{served['base']}/#/m/{uuid}")
    addresses = ", ".join(f"t{n}@test.example" for n in range(11))
    page.get_by_label("Send a test to").fill(addresses)
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("alert").filter(has_text="At most 10 addresses")).to_contain_text(
        "11 were given. Nothing was sent."
    )
    sink: SmtpSink = served["sink"]
    assert sink.count() == 0


def test_every_template_is_listed_past_three_hundred(
    served: dict[str, Any], browser: Browser
) -> None:
    with _api(served) as client:
        for n in range(305):
            made = client.post(
                "/api/broadcast-message-templates/",
                json={"name": f"Template {n:03}", "subject": "s", "body": "b"},
            )
            assert made.status_code == 201, made.text
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.goto(f"{served['base']}/#/templates")
    expect(page.locator("#templates tbody tr")).to_have_count(305)
    expect(page.locator("#templates")).to_contain_text("Template 304")
    page.goto(f"{served['base']}/#/new")
    expect(page.locator("#template option")).to_have_count(306)  # and "— none —"


def test_at_375_px_the_compose_recipients_are_cards_steps_are_not_buttons_and_paging_fits(
    served: dict[str, Any], browser: Browser
) -> None:
    """Issue 23: the compose recipients table stayed a wide table at 375 px, the step
    pills looked clickable but did nothing, and "Next" sat alone on a line."""
    page = _page(browser, 375)
    _sign_in(page, served["base"], served["token"])
    pager = page.locator("nav.pager")
    previous, following = (
        pager.get_by_role("button", name="Previous"),
        pager.get_by_role("button", name="Next"),
    )
    top = [
        b.evaluate("b => Math.round(b.getBoundingClientRect().top)") for b in (previous, following)
    ]
    assert top[0] == top[1], top
    page.get_by_role("link", name="New broadcast").click()
    step = page.locator("ol.steps li").first
    assert step.evaluate("e => getComputedStyle(e).cursor") == "default"
    assert step.evaluate("e => getComputedStyle(e).borderTopWidth") == "0px"  # no pill
    page.get_by_label("Subject", exact=True).fill("Cards")
    page.get_by_label("Message (plain text or HTML)").fill("Body")
    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_role("combobox", name="Organisations").fill("Phys")
    page.get_by_role("option", name="Physics Institute").click()
    row = page.locator("#recipients tbody tr").first
    expect(row).to_be_visible()
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    assert page.locator("#recipients thead").evaluate("t => t.getBoundingClientRect().right") < 0
    name = row.locator("td").first
    assert name.evaluate("c => getComputedStyle(c, '::before').content") == '"Name: "'
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, width  # nothing wider than the screen
