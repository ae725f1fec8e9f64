"""A small keep-alive HTTP/1.1 load generator on asyncio.

Cheap per request (no HTTP library in the loop), so on a 2-core machine it
leaves the server most of the CPU; bounded in time and only ever aimed at
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import dataclass

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


async def _client(
    port: int, request: bytes, deadline: float, result: LoadResult, expect: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            if match:
                await reader.readexactly(int(match.group(1)))
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            if not head.startswith(expect):
                result.errors += 1
    finally:
        writer.close()


def run_load(
    port: int,
    path: str,
    token: str | None,
    concurrency: int,
    seconds: float,
    expect_status: int = 200,
    cookie: str | None = None,
) -> LoadResult:
    auth = f"Authorization: Token {token}\r\n" if token else ""
    if cookie:  # a console session (SPEC 8): `name=value`
        auth += f"Cookie: {cookie}\r\n"
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()
    expect = f"HTTP/1.1 {expect_status}".encode()
    result = LoadResult(0, 0, seconds, [])

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_client(port, request, deadline, result, expect) for _ in range(concurrency))
        )

    started = time.perf_counter()
    asyncio.run(main())
    result.seconds = time.perf_counter() - started
    return result
