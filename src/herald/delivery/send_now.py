"""Sending a few test mails right now, outside the outbox (nothing is recorded)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from herald.core.config import Settings
from herald.core.models import DeliveryStatus
from herald.delivery.transport import DeliveryError, transport_from_url

logger = logging.getLogger("herald.delivery")


async def send_now(settings: Settings, mails: list[tuple[str, bytes]]) -> list[dict[str, str]]:
    """Hand each (address, bytes) to the configured transport; report each outcome.

    Every mail gets an answer within a bounded time, whatever the transport does."""
    transport = transport_from_url(settings.smtp_url, timeout=settings.smtp_timeout, size=1)
    results = []
    try:
        for address, data in mails:
            try:
                async with asyncio.timeout(5 * settings.smtp_timeout):
                    reply = await transport.send(
                        settings.from_email, address, data, f"test-{uuid.uuid4().hex}"
                    )
                results.append({"email": address, "status": DeliveryStatus.SENT, "detail": reply})
            except DeliveryError as error:
                results.append(
                    {"email": address, "status": DeliveryStatus.FAILED, "detail": error.reason}
                )
            except TimeoutError:
                detail = f"no answer within {5 * settings.smtp_timeout:g} s"
                results.append(
                    {"email": address, "status": DeliveryStatus.FAILED, "detail": detail}
                )
            except Exception as exc:  # a full disk, a transport bug: an answer, not a 500
                logger.exception("test mail to %s failed", address)
                detail = f"{type(exc).__name__}: {exc}"
                results.append(
                    {"email": address, "status": DeliveryStatus.FAILED, "detail": detail}
                )
    finally:
        await transport.close()
    return results
