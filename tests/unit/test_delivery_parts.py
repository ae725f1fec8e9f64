"""Fast tests of the delivery worker's pure parts: no database, no network."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from datetime import date

import aiosmtplib
import pytest

from herald.core.config import Settings
from herald.delivery.mail import Person, PersonalisedMessage, html_to_text, render_message
from herald.delivery.outbox import person_columns, person_from_columns
from herald.delivery.transport import (
    DeliveryError,
    _classify,
    transport_from_url,
)
from herald.delivery.worker import (
    MailCache,
    MessageContent,
    RateLimiter,
    Unrenderable,
    backoff,
    compile_mail,
)

SENDER = "noreply@portal.example"


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]
)
def test_backoff_doubles_up_to_the_ceiling_with_a_quarter_of_jitter(
    attempt: int, expected: float
) -> None:
    delays = [backoff(attempt, 30, 3600) for _ in range(200)]
    assert all(0.75 * expected <= d <= 1.25 * expected for d in delays)
    assert max(delays) - min(delays) > 0.1 * expected  # jittered, not all in one instant


def test_the_rate_limiter_spaces_starts_evenly() -> None:
    async def starts(rate: float, count: int) -> float:
        limiter = RateLimiter(rate)
        started = time.monotonic()
        for _ in range(count):
            await limiter.wait()
        return time.monotonic() - started

    assert asyncio.run(starts(0, 1000)) < 0.1  # 0 is no limit
    took = asyncio.run(starts(50, 11))  # ten gaps of 20 ms
    assert 0.18 <= took < 0.5


@pytest.mark.parametrize(
    ("error", "permanent", "reason"),
    [
        (
            aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@x.example"),
            True,
            "550 no such user",
        ),
        (
            aiosmtplib.SMTPRecipientRefused(451, "greylisted", "a@x.example"),
            False,
            "451 greylisted",
        ),
        (aiosmtplib.SMTPSenderRefused(553, "sender rejected", SENDER), True, "553 sender rejected"),
        (aiosmtplib.SMTPDataError(552, "too big"), True, "552 too big"),
        (aiosmtplib.SMTPDataError(421, "closing"), False, "421 closing"),
        (aiosmtplib.SMTPHeloError(501, "bad helo"), False, "501 bad helo"),
        (aiosmtplib.SMTPConnectError("refused"), False, "SMTPConnectError: refused"),
        (ConnectionResetError("reset by peer"), False, "ConnectionResetError: reset by peer"),
    ],
)
def test_smtp_replies_are_classified(error: Exception, permanent: bool, reason: str) -> None:
    classified = _classify(error)
    assert isinstance(classified, DeliveryError)
    assert (classified.permanent, classified.reason) == (permanent, reason)


def test_a_refusal_of_all_recipients_is_classified_by_the_first() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@x.example")]
    )
    assert _classify(refused).permanent


def test_transport_urls() -> None:
    with pytest.raises(ValueError, match="unknown scheme 'smtpp'"):
        transport_from_url("smtpp://relay.example")

    def describe_destination(url: str) -> tuple[str, bool]:
        return Settings(smtp_url=url).mail_destination()

    assert describe_destination("smtp://u:secret@relay.example:587?starttls=1") == (
        "mail goes to the SMTP relay relay.example:587 (STARTTLS)",
        True,
    )
    words, real = describe_destination("file://./var/outbox")
    assert not real and "NOT sent" in words and "HERALD_SMTP_URL" in words
    assert "secret" not in describe_destination("smtps://u:secret@relay.example")[0]


def _parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_a_plain_message_is_one_text_part_and_the_recipient_alone_in_to() -> None:
    rendered = render_message("Maintenance\r\nBcc: evil@x.example", "Down 8-12.\n", SENDER)
    mail = _parsed(rendered.for_recipient("a@x.example", 7, "abc"))
    assert mail["To"] == "a@x.example"
    assert mail["Subject"] == "Maintenance Bcc: evil@x.example"
    assert mail["Bcc"] is None
    assert mail["Message-ID"] == "<7.abc@portal.example>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().replace("\r\n", "\n") == "Down 8-12.\n"


def test_an_html_message_has_a_readable_plain_part() -> None:
    body = '<p>Hello <b>all</b></p><ul><li>one</li></ul><a href="https://x.example">site</a>'
    mail = _parsed(render_message("S", body, SENDER).for_recipient("a@x.example", 1, "u"))
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = (part.get_content() for part in mail.iter_parts())
    assert "Hello all" in plain and "- one" in plain and "site (https://x.example)" in plain
    assert "<b>all</b>" in html
    assert html_to_text("<script>x</script>ok") == "ok\n"


def test_an_address_that_could_smuggle_a_header_is_refused() -> None:
    with pytest.raises(ValueError, match="not a deliverable address"):
        render_message("S", "B", SENDER).for_recipient("a@x.example\r\nBcc: b@y", 1, "u")


def test_personalised_mail_uses_the_frozen_person() -> None:
    message = PersonalisedMessage(
        SENDER, "For {{ recipient.full_name }}", "At {{ recipient.customers }}", date(2026, 1, 1)
    )
    person = Person("Ada", ("Physics", "Chemistry"))
    mail = _parsed(message.for_recipient("ada@x.example", 1, "u", person))
    assert mail["Subject"] == "For Ada"
    assert mail.get_content().strip() == "At Physics, Chemistry"


def test_the_frozen_person_codec_round_trips() -> None:
    person = Person("Ada Lovelace", ("Physics",), ("HPC", "Cloud"))
    columns = person_columns(person)
    assert person_from_columns(
        columns["full_name"], columns["customers"], columns["offerings"]
    ) == (person)
    assert person_from_columns(None, None, None) is None


def test_the_mail_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache = MailCache(size=3)
    for name in "abcd":
        cache.put((name, None), Unrenderable(name))
    assert len(cache) == 3 and ("a", None) not in cache
    cache.get(("b", None))
    cache.put(("e", None), Unrenderable("e"))
    assert ("b", None) in cache and ("c", None) not in cache
    cache.put(("b", "et"), Unrenderable("b in Estonian"))  # a variant is its own mail
    assert cache.get(("b", "et")) != cache.get(("b", None))


def test_a_variant_is_compiled_whole_with_its_language() -> None:
    """SPEC 2.3: one variant's subject and body, Content-Language for a translation,
    none for the default; a variant the message does not have is never mixed in."""
    content = MessageContent("u", "Outage", "Down.", None, {"et": ("Katkestus", "Maas.")})
    estonian = compile_mail(content, SENDER, "et")
    default = compile_mail(content, SENDER)
    assert not isinstance(estonian, Unrenderable) and not isinstance(default, Unrenderable)
    assert b"Content-Language: et" in estonian.headers_and_body
    assert b"Katkestus" in estonian.headers_and_body and b"Outage" not in estonian.headers_and_body
    assert b"Content-Language" not in default.headers_and_body
    missing = compile_mail(content, SENDER, "fi")
    assert isinstance(missing, Unrenderable) and "no fi translation" in missing.reason


def test_a_message_that_does_not_compile_becomes_unrenderable_not_an_exception() -> None:
    broken = MessageContent("u", "S", "{{ recipient.full_name | removed_filter }}", None)
    made = compile_mail(broken, SENDER)
    assert isinstance(made, Unrenderable) and "removed_filter" in made.reason
    assert isinstance(compile_mail(None, SENDER), Unrenderable)
