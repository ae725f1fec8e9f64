"""The mail itself: one message per recipient, built so no header can be injected.

A message is rendered once (subject, text and HTML parts, MIME encoding);
each recipient's copy only adds its own To, Message-ID and Date headers.
The Message-ID is derived from the delivery, so a copy sent again after a
crash carries the same ID and mail software can recognise the repeat.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser

from herald.addresses import email_error
from herald.personalisation import context_for, is_template, render

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BLOCKS = {
    "p", "div", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "ul", "ol", "table", "blockquote", "pre", "hr", "section", "article",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title"}


def looks_like_html(body: str) -> bool:
    return bool(_TAG.search(body))


class _TextRenderer(HTMLParser):
    """HTML to readable plain text: block elements become line breaks, list
    items get a dash, links keep their address, scripts and styles vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._href:
            self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    renderer = _TextRenderer()
    renderer.feed(html)
    renderer.close()
    lines = (line.strip() for line in "".join(renderer.parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def clean_header(value: str) -> str:
    """A header value on one line: CR, LF and other controls become spaces."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


@dataclass(frozen=True)
class RenderedMessage:
    """A broadcast rendered once for all of its recipients."""

    sender: str
    headers_and_body: bytes  # everything but To, Message-ID and Date
    id_domain: str

    def for_recipient(
        self, address: str, delivery_id: int, message_uuid: str, person: Person | None = None
    ) -> bytes:
        """The bytes sent to one address; raises ValueError for an address
        that could smuggle a header (validated on input, checked again here)."""
        if email_error(address) is not None:
            raise ValueError(f"not a deliverable address: {address!r}")
        when = _date_header()
        head = (
            f"To: {address}\r\n"
            f"Message-ID: <{delivery_id}.{message_uuid}@{self.id_domain}>\r\n"
            f"Date: {when}\r\n"
        )
        return head.encode("ascii") + self.headers_and_body


_date_cache: tuple[int, str] = (0, "")


def _date_header() -> str:
    """The Date header, formatted once a second rather than once a mail."""
    global _date_cache
    now = time.time()
    if int(now) != _date_cache[0]:
        _date_cache = (int(now), format_datetime(datetime.fromtimestamp(now, UTC)))
    return _date_cache[1]


def render_message(subject: str, body: str, sender: str) -> RenderedMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["Subject"] = clean_header(subject)
    message["Auto-Submitted"] = "auto-generated"
    if looks_like_html(body):
        message.set_content(html_to_text(body))
        message.add_alternative(body, subtype="html")
    else:
        message.set_content(body)
    domain = sender.rpartition("@")[2] or "herald.localhost"
    return RenderedMessage(sender, message.as_bytes(), domain)


@dataclass(frozen=True)
class Person:
    """Who a recipient is, for placeholders: frozen on the delivery at send time."""

    full_name: str = ""
    customers: tuple[str, ...] = ()
    offerings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonalisedMessage:
    """A broadcast whose subject or body has placeholders: rendered per recipient.

    Raises TemplateProblem (a ValueError) when a recipient's rendering fails;
    the worker records that delivery as failed with the reason."""

    sender: str
    subject: str
    body: str
    send_at: date | None

    def render_for(self, address: str, person: Person) -> tuple[str, str]:
        context = context_for(
            address,
            person.full_name,
            person.customers,
            person.offerings,
            self.subject,
            self.send_at,
        )
        subject = render(self.subject, context)
        body = render(self.body, context, html=looks_like_html(self.body))
        return subject, body

    def for_recipient(
        self, address: str, delivery_id: int, message_uuid: str, person: Person | None = None
    ) -> bytes:
        subject, body = self.render_for(address, person or Person())
        return render_message(subject, body, self.sender).for_recipient(
            address, delivery_id, message_uuid
        )


def message_for(
    subject: str, body: str, sender: str, send_at: date | None
) -> RenderedMessage | PersonalisedMessage:
    """Rendered once when nobody's name goes in, per recipient when placeholders do."""
    if is_template(subject) or is_template(body):
        return PersonalisedMessage(sender, subject, body, send_at)
    return render_message(subject, body, sender)
