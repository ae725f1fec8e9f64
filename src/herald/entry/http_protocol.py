"""uvicorn's HTTP/1.1 protocol with a deadline and a size limit for a request's head.

uvicorn waits for headers as long as a client keeps sending something: a
client that opens many connections and trickles one byte a second (the
"slowloris" attack) holds them all, and a connection that sends nothing
before its first request is never closed. Here each request must have its
whole head (request line and headers) within `header_timeout` seconds of
the connection opening or of its first byte; otherwise the connection is
closed, with a log line and a metric. A head larger than MAX_HEAD_BYTES is
refused the same way (httptools itself sets no limit), so this bounds both
the time and the memory a stranger can hold without a token.

Built on uvicorn's httptools protocol, the one it picks itself when
httptools is installed (`uvicorn[standard]` installs it): h11, the pure
Python one, answered a quarter fewer requests a second in bench/api_bench.py.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from herald.operations.metrics import SLOW_CLIENTS

logger = logging.getLogger("herald.http")

MAX_HEAD_BYTES = 64 * 1024  # a request line and headers; browsers send under 8 kB


class HeadDeadlineProtocol(HttpToolsProtocol):
    header_timeout = 10.0  # seconds; set per server by `with_header_timeout`
    _head_deadline: asyncio.TimerHandle | None = None
    _awaiting_head = True
    _head_bytes = 0  # received while the current head is not complete
    _began = False  # whether any byte of a request ever arrived on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._awaiting_head = True
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._began = True
        super().data_received(data)
        if not self._awaiting_head:
            self._head_bytes = 0
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._close(f"a request head over {MAX_HEAD_BYTES // 1024} kB")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True
        if self._head_deadline is None:
            self._arm()  # the first byte of the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._disarm()
        super().on_headers_complete()

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
        if not self._awaiting_head:
            return
        if not self._began:
            # Nothing ever sent: a browser opens spare connections ahead of need
            # (Chromium two per console visit). Closed all the same, but neither
            # counted nor logged as a slow client: no request was ever begun.
            logger.debug("closed an idle connection that never began a request")
            self.transport.close()
            return
        self._close(f"no complete request head within {self.header_timeout:g} s "
                    "(HERALD_HEADER_TIMEOUT)")  # fmt: skip

    def _close(self, why: str) -> None:
        if self.transport.is_closing():
            return
        SLOW_CLIENTS.inc()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.warning("closed the connection from %s: %s", client, why)
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol class for uvicorn's `http=`, with this deadline."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"header_timeout": seconds})
