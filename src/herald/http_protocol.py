"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn waits for headers as long as a client keeps sending something: a
client that opens many connections and trickles one byte a second (the
"slowloris" attack) holds them all, and a connection that sends nothing
before its first request is never closed. Here each request must have its
whole head (request line and headers) within `header_timeout` seconds of
the connection opening or of the previous response; otherwise the
connection is closed, with a log line and a metric. h11 already caps the
head at 16 kB, so this bounds both the time and the memory a stranger can
hold without a token.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from herald.operations.metrics import SLOW_CLIENTS

logger = logging.getLogger("herald.http")


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout = 10.0  # seconds; set per server by `with_header_timeout`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_deadline is None:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the head is complete: the endpoint reads the body, if any

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        SLOW_CLIENTS.inc()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.warning(
            "closed the connection from %s: no complete request head within %g s "
            "(HERALD_HEADER_TIMEOUT)",
            client,
            self.header_timeout,
        )
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's `http=` with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})
