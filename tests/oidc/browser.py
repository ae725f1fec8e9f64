"""A browser over plain HTTP for the sign-in tests: one cookie jar for every site on
127.0.0.1 (cookies ignore ports, as in a browser), redirects followed by hand so a
test can stop where it wants, and the provider's own forms submitted as they are."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin

import httpx

FORM = re.compile(r"<form[^>]*?action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
HIDDEN = re.compile(r"<input[^>]*type=\"hidden\"[^>]*>", re.I)
ATTRIBUTE = re.compile(r"(\w+)=\"([^\"]*)\"")


class HttpBrowser:
    def __init__(self) -> None:
        self.http = httpx.Client(timeout=30, follow_redirects=False)
        self.history: list[httpx.Response] = []

    def close(self) -> None:
        self.http.close()

    def go(
        self, url: str, *, method: str = "GET", data: dict[str, str] | None = None,
        stop_at: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        """Load `url` and follow redirects, unless the next one starts with `stop_at`
        (then the redirecting answer is returned)."""
        response = self.http.request(method, url, data=data)
        self.history.append(response)
        for _ in range(20):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(str(response.url), response.headers["location"])
            if stop_at is not None and target.startswith(stop_at):
                return response
            response = self.http.get(target)
            self.history.append(response)
        raise AssertionError("too many redirects")

    def submit(
        self, page: httpx.Response, fields: dict[str, str] | None = None, *,
        form: int = 0, stop_at: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        """Submit the page's form (its hidden fields, plus `fields`)."""
        found = FORM.findall(page.text)
        assert found, f"no form on {page.url}:\n{page.text[:500]}"
        action, inner = found[form]
        data: dict[str, Any] = {}
        for tag in HIDDEN.findall(inner):
            attributes = dict(ATTRIBUTE.findall(tag))
            data[attributes["name"]] = html.unescape(attributes.get("value", ""))
        data.update(fields or {})
        target = urljoin(str(page.url), html.unescape(action))
        return self.go(target, method="POST", data=data, stop_at=stop_at)
