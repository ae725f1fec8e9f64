"""The API documentation page renders every operation in a real browser, from files
Herald serves itself (before, Swagger UI 4.15 said "Unable to render this definition")."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect


def test_api_docs_render_every_operation(browser: Browser, server_url: str) -> None:
    schema = httpx.get(f"{server_url}/api/schema/").json()
    assert schema["openapi"].startswith("3.1")
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete", "head"}
    ]
    assert len(operations) >= 20
    # Issue 23: each list showed twice under one title (GET and its HEAD), and the
    # choice lists opened on a blank value.
    for path, item in schema["paths"].items():
        if "head" in item:
            assert item["head"]["summary"].startswith("Count "), path
            assert item["head"]["summary"] != item["get"]["summary"], path
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                choices = parameter["schema"].get("enum") or ["(free text)"]
                assert choices[0] != "", (path, parameter["name"])

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server_url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Herald", timeout=15_000)
    assert page.get_by_text("Unable to render this definition").count() == 0
    for method, path in operations:
        block = page.locator(f'.opblock-{method.lower()} [data-path="{path}"]')
        assert block.count() >= 1, f"{method} {path} is not on the page"
    assert outside == [] and errors == []
    page.close()
