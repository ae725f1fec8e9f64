"""An SMTP sink in its own process for the delivery benchmark: accepts
everything, keeps nothing but a count and the first and last arrival times."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any


class _Counter:
    def __init__(self, count: Synchronized, first: Synchronized, last: Synchronized) -> None:
        self.count, self.first, self.last = count, first, last

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        with self.count.get_lock():
            if self.count.value == 0:
                self.first.value = now
            self.count.value += len(envelope.rcpt_tos)
            self.last.value = now
        return "250 2.0.0 Ok: queued"


def _run(
    port: int, count: Synchronized, first: Synchronized, last: Synchronized, stop: Any
) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(count, first, last), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


class SinkProcess:
    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = port
        self.count = context.Value("q", 0)
        self.first = context.Value("d", 0.0)
        self.last = context.Value("d", 0.0)
        self._stop = context.Event()
        self._process = context.Process(
            target=_run, args=(port, self.count, self.first, self.last, self._stop)
        )

    def start(self) -> SinkProcess:
        self._process.start()
        time.sleep(1.0)
        return self

    def reset(self) -> None:
        with self.count.get_lock():
            self.count.value = 0
            self.first.value = self.last.value = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._process.join(10)

    @property
    def received(self) -> int:
        return int(self.count.value)

    @property
    def span(self) -> float:
        return float(self.last.value - self.first.value)
