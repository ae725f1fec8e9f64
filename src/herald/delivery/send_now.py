"""Sending a few test mails right now, outside the outbox (nothing is recorded)."""

from __future__ import annotations

import asyncio
import uuid

from herald.config import Settings
from herald.delivery.transport import DeliveryError, transport_from_url


def send_now(settings: Settings, mails: list[tuple[str, bytes]]) -> list[dict[str, str]]:
    """Hand each (address, bytes) to the configured transport; report each outcome."""

    async def run() -> list[dict[str, str]]:
        transport = transport_from_url(settings.smtp_url, timeout=settings.smtp_timeout, size=1)
        results = []
        try:
            for address, data in mails:
                try:
                    reply = await transport.send(
                        settings.from_email, address, data, f"test-{uuid.uuid4().hex}"
                    )
                    results.append({"email": address, "status": "sent", "detail": reply})
                except DeliveryError as error:
                    results.append({"email": address, "status": "failed", "detail": error.reason})
        finally:
            await transport.close()
        return results

    # Called from a request's worker thread, which has no event loop of its own.
    return asyncio.run(run())
