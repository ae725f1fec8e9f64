"""Every API request counted and timed (for /metrics) and, with `--access-log`,
logged: method, path, status, duration. Never a header, so never a token."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.operations.metrics import HTTP_DURATION, HTTP_REQUESTS

access_logger = logging.getLogger("herald.access")
_UNMATCHED = "(unmatched)"


class RequestMetrics:
    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            took = time.perf_counter() - started
            # The route template keeps the label set small: /api/x/{uuid}/, not each uuid.
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or _UNMATCHED
            method = scope["method"]
            HTTP_REQUESTS.labels(template, method, str(status)).inc()
            HTTP_DURATION.labels(template, method).observe(took)
            if self.access_log:
                client = scope.get("client") or ("-", 0)
                access_logger.info(
                    '%s "%s %s" %d %.1f ms',
                    client[0],
                    method,
                    scope.get("path", ""),
                    status,
                    took * 1000,
                )
