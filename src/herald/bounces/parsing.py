"""What a message that came back to the bounce mailbox says (SPEC 4.2), read with
the standard `email` package.

- RFC 3464 delivery status notifications (`multipart/report;
  report-type=delivery-status`): one `Failure` per recipient block.
  `Action: failed` with a 5.x.x status is hard, with 4.x.x soft (the relay
  gave up on a transient condition); `Action: delayed` is a warning (the relay
  still tries); delivered, relayed and expanded say nothing is wrong.
- RFC 5965 abuse reports (`report-type=feedback-report`): a complaint about
  the original recipient.
- Without a report part, an `X-Failed-Recipients` header (Exim's own
  bounces): hard for each address it names.
- A report is judged by its report part whatever its `Auto-Submitted` header
  says (Postfix and Exim mark every bounce `auto-replied`). Other mail with
  `Auto-Submitted` other than `no` (RFC 3834: vacation replies, out of office)
  is an auto-reply, never a bounce.
- Anything else is `UNREADABLE`: whoever reads the mailbox decides whether that
  is a bounce nobody can read (kept for staff) or mail that is not ours.

Nothing here touches the database: `read_notification` is a pure function of
the bytes, so every real-world shape is a unit test.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses
from enum import StrEnum

from herald.core.models import BounceKind

HEADER_BYTES = 64 * 1024  # how much of a notification is kept (SPEC 4.2)


class Reading(StrEnum):
    """What the whole notification turned out to be."""

    REPORT = "report"  # a delivery status notification (possibly only warnings)
    COMPLAINT = "complaint"  # an abuse report
    FAILED_RECIPIENTS = "failed-recipients"  # a bounce without a report, naming its addresses
    AUTO_REPLY = "auto-reply"  # vacation and the like: never a bounce
    UNREADABLE = "unreadable"  # none of the above


@dataclass(frozen=True)
class Failure:
    """One recipient the notification reports on."""

    recipient: str
    kind: BounceKind | None  # None: a warning only (Action: delayed)
    status: str  # the enhanced status code ("5.1.1"), "" when none is given
    diagnostic: str  # the remote server's words, decoded, or the action


@dataclass(frozen=True)
class Notification:
    reading: Reading
    failures: tuple[Failure, ...] = ()
    # Where it was sent: the VERP address names the delivery (headers of the
    # notification itself first, then those of the returned original).
    addressed_to: tuple[str, ...] = field(default=())
    original_message_id: str | None = None

    @property
    def bounces(self) -> tuple[Failure, ...]:
        """The failures that count (warnings left out)."""
        return tuple(f for f in self.failures if f.kind is not None)


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_DESTINATION_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")


def read_notification(raw: bytes) -> Notification:
    """What `raw` (one whole message, as fetched from the mailbox) reports."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    addressed_to = _addresses(message, _DESTINATION_HEADERS)
    param = message.get_param("report-type", header="content-type")
    report_type = param.lower() if isinstance(param, str) else ""
    if message.get_content_type() == "multipart/report":
        if report_type == "delivery-status":
            return _delivery_status(message, addressed_to)
        if report_type == "feedback-report":
            return _complaint(message, addressed_to)
    failed = _addresses(message, ("X-Failed-Recipients",))
    if failed:
        diagnostic = _first_line(_text_of(message))
        return Notification(
            Reading.FAILED_RECIPIENTS,
            tuple(Failure(a, BounceKind.HARD, "", diagnostic) for a in failed),
            addressed_to,
        )
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if not auto.startswith("no"):
        return Notification(Reading.AUTO_REPLY, (), addressed_to)
    return Notification(Reading.UNREADABLE, (), addressed_to)


def _delivery_status(message: EmailMessage, addressed_to: tuple[str, ...]) -> Notification:
    failures: list[Failure] = []
    original: Message | None = None
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            # The first block is about the message, the rest one per recipient.
            for block in blocks[1:] if isinstance(blocks, list) else []:
                failure = _recipient_block(block) if isinstance(block, Message) else None
                if failure is not None:
                    failures.append(failure)
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            original = _original(part)
    return Notification(
        Reading.REPORT,
        tuple(failures),
        addressed_to + _original_senders(original),
        _message_id(original),
    )


def status_code_in(text: str) -> str:
    """The first enhanced status code ("5.1.1") in a text, or ""."""
    found = _STATUS.search(text)
    return ".".join(found.groups()) if found else ""


def _recipient_block(block: Message) -> Failure | None:
    recipient = _typed_address(block.get("Final-Recipient")) or _typed_address(
        block.get("Original-Recipient")
    )
    if not recipient:
        return None
    action = str(block.get("Action", "")).strip().lower()
    status = status_code_in(str(block.get("Status", "")))
    diagnostic = _typed_value(block.get("Diagnostic-Code")) or action
    if action == "failed":
        kind: BounceKind | None = BounceKind.SOFT if status.startswith("4") else BounceKind.HARD
    elif action == "delayed":
        kind = None
    else:
        return None  # delivered, relayed, expanded: nothing went wrong
    return Failure(recipient, kind, status, diagnostic)


def _complaint(message: EmailMessage, addressed_to: tuple[str, ...]) -> Notification:
    recipients: list[str] = []
    original: Message | None = None
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            fields = _feedback_fields(part)
            recipients += [a for _, a in getaddresses(fields.get("original-rcpt-to", []))]
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            original = _original(part)
    if not recipients and original is not None:
        recipients = [a for _, a in getaddresses([str(v) for v in original.get_all("To", [])])]
    failures = tuple(
        Failure(a, BounceKind.COMPLAINT, "", "the recipient reported the mail as abuse")
        for a in recipients
        if a
    )
    return Notification(
        Reading.COMPLAINT,
        failures,
        addressed_to + _original_senders(original),
        _message_id(original),
    )


def _feedback_fields(part: Message) -> dict[str, list[str]]:
    """The fields of a message/feedback-report part (a header block, RFC 5965)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        block = payload[0]
        return {k.lower(): [str(v) for v in block.get_all(k, [])] for k in block}
    text = payload if isinstance(payload, str) else ""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.strip().lower(), []).append(value.strip())
    return fields


def _original(part: Message) -> Message | None:
    """The returned original (whole, or its headers alone, possibly cut short)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return email.message_from_string(payload, policy=email.policy.default)
    return None


def _original_senders(original: Message | None) -> tuple[str, ...]:
    """The envelope sender the original carried: its Return-Path names the delivery."""
    if original is None:
        return ()
    return _addresses(original, ("Return-Path",))


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = original.get("Message-ID")
    return str(value).strip() if value else None


def _addresses(message: Message, headers: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for name in headers:
        for value in message.get_all(name, []) or []:
            for _, address in getaddresses([str(value)]):
                if address and address not in found:
                    found.append(address)
    return tuple(found)


def _typed_address(value: object) -> str:
    """`rfc822; someone@example.org` -> `someone@example.org`."""
    text = _typed_value(value)
    return text.strip().strip("<>") if "@" in text else ""


def _typed_value(value: object) -> str:
    """A DSN field `type; value`: the value, decoded, on one line."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    kind, semicolon, rest = text.partition(";")
    return (rest if semicolon and " " not in kind.strip() else text).strip()


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):
        return ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return ""
