"""A real SMTP server (aiosmtpd) for the tests, on a free port, that keeps what it receives.

It can refuse on purpose: `temporary[address] = n` answers 451 to the first n
RCPT commands for that address; `permanent` addresses get 550.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.sink.lock:
            self.sink.rcpt_attempts[address.lower()] += 1
            if address.lower() in self.sink.permanent:
                return f"550 5.1.1 <{address}>: mailbox unavailable"
            if self.sink.temporary.get(address.lower(), 0) > 0:
                self.sink.temporary[address.lower()] -= 1
                return "451 4.7.1 greylisted, try again later"
            self.sink.rcpt_times.append(time.monotonic())
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.sink.lock:
            self.sink.on_the_wire += 1
        try:
            if self.sink.data_delay:
                await asyncio.sleep(self.sink.data_delay)  # a slow relay: mail stays on the wire
        finally:
            with self.sink.lock:
                self.sink.on_the_wire -= 1
                self.sink.received.append(Received(list(envelope.rcpt_tos), envelope.content))
                number = len(self.sink.received)
        return f"250 2.0.0 Ok: queued as M{number}"


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.temporary: dict[str, int] = {}
        self.permanent: set[str] = set()
        # When each mail started (its RCPT), how many wait for the answer to DATA,
        # and how long the server takes to answer DATA.
        self.rcpt_times: list[float] = []
        self.on_the_wire = 0
        self.data_delay = 0.0
        self.lock = threading.Lock()
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def deliveries_per_address(self) -> Counter[str]:
        with self.lock:
            return Counter(r.lower() for item in self.received for r in item.recipients)
