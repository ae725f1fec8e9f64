"""`Idempotency-Key` on creating and acting POSTs (SPEC 1): the HTTP side (a
request's key, a response kept and replayed); the rules without HTTP are service.py.

The first request with a key is carried out and its answer kept; a repeat
with the same key by the same user within 24 hours gets that answer back and
changes nothing. The key is claimed in the request's own transaction, so a
request that fails (a 4xx, a crash) leaves no trace and may be retried, and
two concurrent requests with one key act once: the second waits for the
first and then gets its answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from herald.core.clock import utc_now
from herald.core.errors import Conflict, Invalid
from herald.idempotency import repository
from herald.idempotency.service import KEPT_FOR

HEADER = "Idempotency-Key"
# A request that claimed its key and never answered (its process died between
# two transactions, as test-send has) gives the key up after this long.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_LENGTH = 255
DIFFERENT_REQUEST = "This Idempotency-Key was used for a different request."
IN_PROGRESS = (
    "A request with this Idempotency-Key is still being carried out; ask again in a moment."
)


@dataclass(frozen=True)
class Idempotency:
    """The key a request carried (or None) and what identifies the request."""

    key: str | None
    fingerprint: str

    @classmethod
    def of(cls, request: Request, body: bytes = b"") -> Idempotency:
        key = request.headers.get(HEADER)
        if key is not None and not (
            0 < len(key) <= MAX_LENGTH and all(" " <= c <= "~" for c in key)
        ):
            raise Invalid({HEADER: [f"Use 1 to {MAX_LENGTH} printable ASCII characters."]})
        digest = hashlib.sha256()
        for part in (request.method.encode(), request.url.path.encode(), body):
            digest.update(len(part).to_bytes(8, "big") + part)
        return cls(key, digest.hexdigest())

    def replay(self, session: Session, user_uuid: str) -> Response | None:
        """The first answer when this key was used already; else claim it and return None."""
        if self.key is None:
            return None
        now = utc_now()
        if repository.claim(session, user_uuid, self.key, self.fingerprint, now):
            return None
        row = repository.get(session, user_uuid, self.key)
        if row is None:  # expired and deleted in between: a fresh request
            repository.claim(session, user_uuid, self.key, self.fingerprint, now)
            return None
        stale = row.created < now - KEPT_FOR
        abandoned = row.status_code is None and row.created < now - ABANDONED_AFTER
        if stale or abandoned:
            repository.take_over(session, user_uuid, self.key, self.fingerprint, now)
            return None
        if row.fingerprint != self.fingerprint:
            raise Conflict(DIFFERENT_REQUEST)
        if row.status_code is None:
            raise Conflict(IN_PROGRESS)
        return Response(
            row.body or b"",
            status_code=row.status_code,
            media_type=row.media_type,
            headers={"Idempotent-Replayed": "true"},
        )

    def remember(self, session: Session, user_uuid: str, response: Response) -> Response:
        """Keep the answer for repeats of this request; returns it unchanged."""
        if self.key is not None:
            repository.store(
                session,
                user_uuid,
                self.key,
                response.status_code,
                response.media_type,
                bytes(response.body),
            )
        return response
