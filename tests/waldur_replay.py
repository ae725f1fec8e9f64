"""A Waldur for tests and benchmarks: serves the directory API from recorded (or
generated) objects, behaving as the recordings show Waldur behaves.

Lists answer with bare arrays, `X-Result-Count`, absolute `Link` headers
(`first` without a page parameter, `prev`, `next`, `last`), `page_size`
capped at 300, `404 {"detail": "Invalid page."}` past the end, `field=`
selection that silently drops unknown names, unknown filters ignored, and
`401` for a wrong token. The recorded base URL (`http://127.0.0.1:18401`) is
rewritten to this server's. Failures can be injected: a run of 5xx answers,
a refusal (401/403), or an answer that is not JSON.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

RECORDED_BASE = "http://127.0.0.1:18401"
RECORDINGS = Path(__file__).resolve().parent / "data" / "waldur"
TOKEN = "waldur-staff-token"
LISTS = {
    "/api/users/": "users__list_page_size_100.json",
    "/api/customers/": "customers__list_page_size_100.json",
    "/api/projects/": "projects__list_page_size_100.json",
    "/api/marketplace-provider-offerings/": (
        "marketplace_provider_offerings__list_page_size_100.json"
    ),
    "/api/marketplace-resources/": "marketplace_resources__list_page_size_100.json",
}


def recorded_collections() -> dict[str, list[dict[str, Any]]]:
    """The recorded directory, every list whole (its page_size=100 recordings)."""
    result = {}
    for path, name in LISTS.items():
        recording = json.loads((RECORDINGS / name).read_text())
        assert int(recording["headers"]["X-Result-Count"]) == len(recording["body"]), name
        result[path] = recording["body"]
    return result


class FakeWaldur:
    def __init__(self, collections: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.collections = collections if collections is not None else recorded_collections()
        self.token = TOKEN
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.failures: list[int] = []  # statuses to answer next, one per request
        self.refuse: int | None = None  # 401 or 403 for every request
        self.not_json = False
        # Tokens of Waldur's own users, for GET /api/users/me/: token -> user uuid.
        self.user_tokens: dict[str, str] = {}
        self.delay = 0.0  # seconds before every answer (a slow Waldur)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeWaldur:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        data = json.dumps(body).replace(RECORDED_BASE, self.url).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self.lock:
            self.requests.append((parts.path, query))
            failure = self.failures.pop(0) if self.failures else None
        if self.delay:
            time.sleep(self.delay)
        if failure is not None:
            return self._send(handler, failure, {"detail": "Server Error (500)"})
        if parts.path == "/api/users/me/":
            return self._me(handler)
        if handler.headers.get("Authorization") != f"Token {self.token}" or self.refuse == 401:
            return self._send(handler, 401, {"detail": "Invalid token."})
        if self.refuse == 403:
            return self._send(handler, 403, {"detail": "You do not have permission."})
        if self.not_json:
            data = b"<html><body>Welcome to nginx!</body></html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return None
        items = self.collections.get(parts.path)
        if items is None:
            return self._send(handler, 404, {"detail": "Not found."})
        params = dict(query)
        try:
            size = min(300, max(1, int(params.get("page_size", "10"))))
        except ValueError:
            size = 10
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        pages = max(1, -(-len(items) // size))
        if page < 1 or page > pages:
            return self._send(handler, 404, {"detail": "Invalid page."})
        chosen = items[(page - 1) * size : page * size]
        fields = [value for key, value in query if key == "field"]
        if fields:
            chosen = [{k: v for k, v in item.items() if k in fields} for item in chosen]
        return self._send(
            handler, 200, chosen, self._headers(parts.path, query, page, pages, len(items))
        )

    def _me(self, handler: BaseHTTPRequestHandler) -> None:
        """The user a token belongs to, as Waldur's `users/me` answers (a `users/` object)."""
        given = handler.headers.get("Authorization", "").partition(" ")[2]
        uuid = self.user_tokens.get(given)
        found = [u for u in self.collections["/api/users/"] if u["uuid"] == uuid]
        if not found:
            return self._send(handler, 401, {"detail": "Invalid token."})
        return self._send(handler, 200, found[0])

    def _headers(self, path: str, query: list[tuple[str, str]], page: int, pages: int,
                 total: int) -> dict[str, str]:  # fmt: skip
        others = [(k, v) for k, v in query if k != "page"]

        def link(number: int | None, rel: str) -> str:
            pairs = others + ([("page", str(number))] if number else [])
            return f'<{self.url}{path}?{urlencode(pairs)}>; rel="{rel}"'

        links = [link(None, "first")]
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < pages:
            links.append(link(page + 1, "next"))
        links.append(link(pages, "last"))
        return {"X-Result-Count": str(total), "Link": ", ".join(links)}
