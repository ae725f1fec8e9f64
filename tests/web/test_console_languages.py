"""A broadcast in each reader's language, written and sent from the console (SPEC 2.3),
in Chromium: a tab per language, who reads which before the send, the preview in the
language being written, and the deliveries per language after."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from herald.core.db import Database
from tests.delivery.helpers import wait_for
from tests.smtp_sink import SmtpSink
from tests.web.conftest import _page, _sign_in


def test_staff_write_a_translation_see_who_reads_it_and_send(
    served: dict[str, Any], browser: Browser, db: Database
) -> None:
    with db.transaction() as session:
        session.execute(
            text("UPDATE users SET preferred_language = 'et' WHERE email = 'olga@physics.example'")
        )
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="New broadcast").click()
    page.get_by_label("Subject", exact=True).fill("Maintenance")
    page.get_by_label("Message (plain text or HTML)").fill("The cluster is down.")
    expect(page.get_by_role("tab", name="Default")).to_have_attribute("aria-selected", "true")

    # A bad tag is said, and nothing is added.
    page.get_by_label("Language of a translation").fill("Estonian!")
    page.get_by_role("button", name="Add translation").click()
    expect(page.get_by_text("Give a language tag such as et or pt-br.")).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(1)

    page.get_by_label("Language of a translation").fill("ET")
    page.get_by_role("button", name="Add translation").click()
    estonian = page.get_by_role("tab", name="Estonian (et)")
    expect(estonian).to_have_attribute("aria-selected", "true")
    # The translation starts as the default's text, to translate in place.
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Maintenance")
    page.get_by_label("Subject", exact=True).fill("Hooldus {{ recipient.full_name }}")
    page.get_by_label("Message (plain text or HTML)").fill("Klaster on maas.")
    # The preview shows the language being written.
    expect(page.locator("#preview")).to_contain_text("Subject: Hooldus Stella Staff")
    page.get_by_role("tab", name="Default").click()
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Maintenance")
    expect(page.locator("#preview")).to_contain_text("Subject: Maintenance")

    page.get_by_role("button", name="Next: recipients").click()
    page.get_by_role("combobox", name="Organisations").fill("Phys")
    page.get_by_role("option", name="Physics Institute").click()
    expect(page.locator("#recipient-count")).to_have_text("4 recipients")
    expect(page.locator("#variant-counts")).to_have_text(
        "Who reads which: Estonian (et): 1 · Default: 3"
    )
    olga = page.locator("#recipients tr", has_text="olga@physics.example")
    expect(olga).to_contain_text("Estonian (et)")

    page.get_by_role("button", name="Send now").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("Sent")
    sink: SmtpSink = served["sink"]
    wait_for(lambda: sink.count() == 4, 30, "the four mails")
    mails = {item.recipients[0]: item.message for item in sink.received}
    assert mails["olga@physics.example"]["Subject"] == "Hooldus Olga Owner"
    assert mails["olga@physics.example"]["Content-Language"] == "et"
    assert mails["mia@physics.example"]["Subject"] == "Maintenance"
    assert mails["mia@physics.example"]["Content-Language"] is None

    expect(page.locator("#delivery-languages")).to_have_text(
        "In each language: Default: 3 · Estonian (et): 1", timeout=15_000
    )
    row = page.locator("#deliveries tr", has_text="olga@physics.example")
    expect(row).to_contain_text("Estonian (et)")
    page.get_by_text("Translations (1)").scroll_into_view_if_needed()
    expect(page.locator("details.translation")).to_contain_text("Hooldus {{ recipient.full_name }}")


def test_a_template_is_written_in_several_languages(
    served: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, 1280)
    _sign_in(page, served["base"], served["token"])
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name").fill("Outage")
    page.get_by_label("Subject", exact=True).fill("Outage")
    page.get_by_label("Message (plain text or HTML)").fill("The cluster is down.")
    page.get_by_label("Language of a translation").fill("fi")
    page.get_by_role("button", name="Add translation").click()
    page.get_by_label("Subject", exact=True).fill("Katko")
    page.get_by_label("Message (plain text or HTML)").fill("Klusteri on alhaalla.")
    expect(page.locator("#preview")).to_contain_text("Subject: Katko")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("link", name="Outage")).to_be_visible()
    with httpx.Client(base_url=served["base"], timeout=30,
                      headers={"Authorization": f"Token {served['token']}"}) as api:  # fmt: skip
        [template] = api.get("/api/broadcast-message-templates/").json()
    assert (template["subject"], template["translations"]) == (
        "Outage",
        {"fi": {"subject": "Katko", "body": "Klusteri on alhaalla."}},
    )
    # Removing a translation: its tab goes, and the save says so.
    page.get_by_role("link", name="Outage").click()
    page.get_by_role("tab", name="Finnish (fi)").click()
    page.get_by_role("button", name="Remove Finnish (fi)").click()
    expect(page.get_by_role("tab")).to_have_count(1)
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("link", name="Outage")).to_be_visible()
    with httpx.Client(base_url=served["base"], timeout=30,
                      headers={"Authorization": f"Token {served['token']}"}) as api:  # fmt: skip
        assert api.get("/api/broadcast-message-templates/").json()[0]["translations"] == {}
