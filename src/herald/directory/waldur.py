"""Reading a live Waldur's directory through its REST API (SPEC 5.1).

Lists are followed page by page through `Link: rel="next"` with the largest
page Waldur serves (300) and `field=` selection, so only the keys Herald uses
cross the network. The network is not trusted to behave: every request has
a time-out, 5xx answers and connection failures are retried with back-off,
and whatever cannot work (a refused token, a URL that is not a Waldur, an
answer that does not parse) is a WaldurError whose text is one line that
says what to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("herald.sync")

PAGE_SIZE = 300  # Waldur's maximum; larger is silently capped
RETRIES = 4
TIMEOUT = 30.0


Params = list[tuple[str, str | int | float | bool | None]] | None


class WaldurError(Exception):
    """Reading from Waldur failed; the text is the one line an operator sees."""


def api_root(url: str) -> str:
    """`https://waldur.example.org`, with or without `/api/`, as the API's root URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WaldurError(
            f"HERALD_WALDUR_URL {url!r} is not an http(s) address such as https://waldur.example.org"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    return f"{parts.scheme}://{parts.netloc}{path}/api/"


class WaldurClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        page_size: int = PAGE_SIZE,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise WaldurError(
                "HERALD_WALDUR_TOKEN is not set: give the token of a Waldur staff user"
            )
        self.root = api_root(url)
        self.page_size = page_size
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.http = httpx.Client(
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=timeout,
            follow_redirects=True,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> WaldurClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _get(self, url: str, params: Params) -> httpx.Response:
        """One GET, retried on connection failures and 5xx with doubling waits."""
        for attempt in range(self.retries + 1):
            try:
                response = self.http.get(url, params=params)
            except httpx.HTTPError as exc:
                problem = f"cannot reach Waldur at {self.root} ({type(exc).__name__}: {exc})"
            else:
                if response.status_code < 500:
                    return response
                problem = f"Waldur answered {response.status_code} for {response.url}"
            if attempt == self.retries:
                raise WaldurError(f"{problem}; gave up after {attempt + 1} tries")
            wait = self.backoff * 2**attempt
            logger.warning("%s; trying again in %.0f s", problem, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def pages(self, endpoint: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Waldur list, following `Link: rel="next"`."""
        url: str | None = self.root + endpoint
        first: list[tuple[str, str | int | float | bool | None]] = [("page_size", self.page_size)]
        params: Params = first + [("field", name) for name in fields]
        while url is not None:
            response = self._get(url, params)
            self._check(response, endpoint)
            try:
                body = response.json()
            except ValueError as exc:
                raise WaldurError(
                    f"{response.url} did not answer JSON: is HERALD_WALDUR_URL a Waldur? ({exc})"
                ) from exc
            if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
                raise WaldurError(
                    f"{response.url} did not answer a list of objects as Waldur does: "
                    "is HERALD_WALDUR_URL a Waldur?"
                )
            yield body
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries them

    def _check(self, response: httpx.Response, endpoint: str) -> None:
        status = response.status_code
        if status == 401:
            raise WaldurError(
                "Waldur refused the token (401): check HERALD_WALDUR_TOKEN "
                "(a staff user's API token, from Waldur's user profile)"
            )
        if status == 403:
            raise WaldurError(
                f"Waldur does not let this token read {endpoint} (403): "
                "HERALD_WALDUR_TOKEN must belong to a staff user"
            )
        if status == 404:
            raise WaldurError(
                f"{response.url} does not exist (404): is HERALD_WALDUR_URL a Waldur "
                "(https://waldur.example.org, with or without /api/)?"
            )
        if status >= 400:
            raise WaldurError(f"Waldur answered {status} for {response.url}: {response.text[:200]}")
        if "json" not in response.headers.get("content-type", ""):
            raise WaldurError(
                f"{response.url} answered {response.headers.get('content-type') or 'no type'}, "
                "not JSON: is HERALD_WALDUR_URL a Waldur?"
            )
