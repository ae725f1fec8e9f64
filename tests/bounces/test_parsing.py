"""Reading what comes back (SPEC 4.2), on the shapes real mail servers send:
Postfix, Exim, Microsoft Exchange/Outlook, Gmail, a report on several
recipients with a truncated original, 8-bit and encoded-word text, a vacation
auto-reply, an abuse report, and mail that is not a bounce at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.bounces.parsing import BounceKind, Failure, Reading, read_notification
from herald.delivery.verp import delivery_of, envelope_sender, tag_for

FIXTURES = Path(__file__).parent / "fixtures"
BOUNCES = "bounces@mail.example.org"
KEY = b"secret"  # the key the fixtures' VERP tags were made with


def _read(name: str):  # type: ignore[no-untyped-def]
    return read_notification((FIXTURES / name).read_bytes())


def test_postfix_user_unknown_is_a_hard_bounce_for_one_delivery() -> None:
    notice = _read("postfix-user-unknown.eml")
    assert notice.reading is Reading.REPORT
    assert notice.bounces == (
        Failure(
            "nobody@dead.example",
            BounceKind.HARD,
            "5.1.1",
            "550 5.1.1 <nobody@dead.example>: Recipient address rejected: User unknown in "
            "virtual mailbox table",
        ),
    )
    # Auto-Submitted: auto-replied does not make a report an auto-reply.
    delivery_ids = {delivery_of(KEY, a, BOUNCES) for a in notice.addressed_to} - {None}
    assert delivery_ids == {1}
    assert notice.original_message_id == "<4f1c0a9b2d3e4f5061728394a5b6c7d8-1@herald>"


def test_exim_names_its_failures_in_a_header() -> None:
    notice = _read("exim-failed-recipients.eml")
    assert notice.reading is Reading.FAILED_RECIPIENTS
    assert [(f.recipient, f.kind) for f in notice.bounces] == [
        ("gone@old.example", BounceKind.HARD)
    ]
    assert {delivery_of(KEY, a, BOUNCES) for a in notice.addressed_to} - {None} == {42}


def test_exchange_status_with_two_digit_detail() -> None:
    notice = _read("exchange-recipient-not-found.eml")
    [failure] = notice.bounces
    assert failure.recipient == "left.group@uni.example"
    assert failure.kind is BounceKind.HARD and failure.status == "5.1.10"
    assert failure.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    # The original came back as headers only; its Return-Path names the delivery too.
    assert {delivery_of(KEY, a, BOUNCES) for a in notice.addressed_to} - {None} == {123456789}


def test_gmail_folded_diagnostic_is_one_line() -> None:
    [failure] = _read("gmail-account-does-not-exist.eml").bounces
    assert failure.recipient == "no.such.person@gmail.com" and failure.status == "5.1.1"
    assert "\n" not in failure.diagnostic
    assert failure.diagnostic.startswith(
        "550-5.1.1 The email account that you tried to reach does not exist."
    )


def test_several_recipients_hard_soft_delayed_and_delivered() -> None:
    notice = _read("several-recipients-truncated.eml")
    assert notice.reading is Reading.REPORT
    assert [(f.recipient, f.kind, f.status) for f in notice.failures] == [
        ("dead@one.example", BounceKind.HARD, "5.1.1"),
        ("full@two.example", BounceKind.SOFT, "4.2.2"),
        ("slow@three.example", None, "4.4.1"),  # delayed: a warning, not a bounce
    ]
    assert [f.recipient for f in notice.bounces] == ["dead@one.example", "full@two.example"]
    # The original was cut off mid-headers: still read, no Message-ID to give.
    assert notice.original_message_id is None
    assert {delivery_of(KEY, a, BOUNCES) for a in notice.addressed_to} - {None} == {2**40}


def test_eight_bit_diagnostic_and_encoded_words() -> None:
    [failure] = _read("eightbit-diagnostic.eml").bounces
    assert failure.kind is BounceKind.HARD
    assert failure.diagnostic == "550 5.1.1 Empfänger unbekannt"


def test_a_vacation_reply_is_never_a_bounce() -> None:
    notice = _read("vacation-reply.eml")
    assert notice.reading is Reading.AUTO_REPLY and notice.bounces == ()


def test_an_abuse_report_is_a_complaint_about_its_recipient() -> None:
    notice = _read("abuse-report.eml")
    assert notice.reading is Reading.COMPLAINT
    assert [(f.recipient, f.kind) for f in notice.bounces] == [
        ("annoyed@hotmail.example", BounceKind.COMPLAINT)
    ]


def test_other_mail_is_unreadable_and_names_no_delivery() -> None:
    notice = _read("unrelated.eml")
    assert notice.reading is Reading.UNREADABLE and notice.bounces == ()
    assert {delivery_of(KEY, a, BOUNCES) for a in notice.addressed_to} == {None}


@pytest.mark.parametrize(
    "garbage", [b"", b"\x00\xff\xfe", b"Content-Type: multipart/report\n\n--x"]
)
def test_garbage_is_unreadable_not_an_exception(garbage: bytes) -> None:
    assert read_notification(garbage).bounces == ()


def test_verp_tags_name_one_delivery_and_forgeries_none() -> None:
    sender = envelope_sender(BOUNCES, KEY, 987654)
    assert sender.startswith("bounces+") and sender.endswith("@mail.example.org")
    assert sender == sender.lower()
    assert delivery_of(KEY, sender.upper(), BOUNCES) == 987654  # servers may change case
    assert delivery_of(b"another key", sender, BOUNCES) is None
    tag = tag_for(KEY, 987654)
    forged = tag[:-1] + ("a" if tag[-1] != "a" else "b")
    assert delivery_of(KEY, f"bounces+{forged}@mail.example.org", BOUNCES) is None
    assert delivery_of(KEY, f"other+{tag}@mail.example.org", BOUNCES) is None
    assert delivery_of(KEY, "bounces@mail.example.org", BOUNCES) is None
    assert delivery_of(KEY, "bounces+zz@mail.example.org", BOUNCES) is None


_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@settings(max_examples=300, deadline=None)
@given(delivery_id=st.integers(min_value=1, max_value=2**63 - 1), data=st.data())
def test_each_delivery_has_exactly_one_verp_tag(delivery_id: int, data: st.DataObject) -> None:
    """A tag with one character of its id part changed (the spare bits of base32's
    last character, a leading "a" added) never names the delivery: a forged bounce
    cannot suppress a real address."""
    tag = tag_for(KEY, delivery_id)
    assert delivery_of(KEY, f"bounces+{tag}@mail.example.org", BOUNCES) == delivery_id
    number, _, mac = tag.partition("-")
    position = data.draw(st.integers(min_value=0, max_value=len(number) - 1))
    other = data.draw(st.sampled_from([c for c in _B32 if c != number[position]]))
    changed = number[:position] + other + number[position + 1 :]
    for spelling in (changed, "a" + number):
        forged = f"bounces+{spelling}-{mac}@mail.example.org"
        assert delivery_of(KEY, forged, BOUNCES) is None, spelling


def test_a_small_id_has_one_spelling() -> None:
    """The review's case: `e-<mac>` and `f-<mac>` both verified for a small id."""
    tag = tag_for(KEY, 4)
    number, _, mac = tag.partition("-")
    spellings = [f"{c}-{mac}" for c in _B32]
    named = [s for s in spellings if delivery_of(KEY, f"bounces+{s}@mail.example.org", BOUNCES)]
    assert named == [tag]
