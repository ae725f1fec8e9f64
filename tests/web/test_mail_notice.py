"""The console says plainly when mail is written to files instead of being sent."""

from __future__ import annotations

from playwright.sync_api import Browser, expect


def test_the_console_warns_that_mail_goes_to_files(
    browser: Browser, server_url: str, staff: dict[str, str], database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        return  # the console only talks to the API, which is tested on both databases
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server_url + "/")
    notice = page.locator("#notice")
    expect(notice).to_be_hidden()  # not before signing in
    page.get_by_label("API token").fill(staff["token"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Broadcasts")).to_be_visible()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Mail is not being sent")
    expect(notice).to_contain_text("HERALD_SMTP_URL")
    page.close()


def test_the_footer_says_where_the_directory_comes_from(
    browser: Browser, server_url: str, staff: dict[str, str], database_url: str, db
) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("sqlite"):
        return
    from herald.core.clock import utc_now
    from herald.operations import jobs

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server_url + "/")
    page.get_by_label("API token").fill(staff["token"])
    page.get_by_role("button", name="Sign in").click()
    footer = page.locator("#footer")
    expect(footer).to_contain_text("Directory: 1 user, 0 organisations · loaded from a file")
    with db.transaction() as session:
        jobs.record_run(session, jobs.Job.DIRECTORY_SYNC, utc_now(), 1.5, ok=False,
                        detail={"error": "Waldur refused the token (401)"})  # fmt: skip
    page.reload()
    expect(footer).to_contain_text("the last sync from Waldur failed just now")
    expect(footer).to_contain_text("refused the token")
    expect(footer).to_have_class("footer error")
    page.close()
