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
