"""The database schema: the directory, the messages and their outbox.

Directory rows are keyed by the portal's own UUIDs (32 hex digits), so an
import is a plain upsert with no id mapping, and role grants name their
user, customer and project directly.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# The newest migration of this schema, so that a running Herald can check its
# database without importing Alembic (a test keeps the two in step).
SCHEMA_HEAD = "0017"

UUID_LEN = 32
EMAIL_LEN = 320


class MessageState(StrEnum):
    """A broadcast message's state: DRAFT -> SCHEDULED -> SENT (never any other value)."""

    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"


class DeliveryStatus(StrEnum):
    """One delivery's status in the outbox."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Never sent: staff stopped the message's delivery before it was handed to the relay.
    CANCELLED = "cancelled"
    # Accepted by the relay, then reported back as undeliverable (SPEC 4.2).
    BOUNCED = "bounced"
    # Never sent: the address is on the suppression list (SPEC 4.2).
    SUPPRESSED = "suppressed"


class Steering(StrEnum):
    """What staff did to a sending message (SPEC 4.1); stored on the message, NULL: nothing."""

    PAUSED = "paused"
    CANCELLED = "cancelled"


class ScopeType(StrEnum):
    """Whose people a scoped sender's message reaches (SPEC 9)."""

    PROVIDER = "provider"  # a service provider's offerings
    ORGANISATION = "organisation"  # an organisation (customer) of the portal


class ReviewStatus(StrEnum):
    """Staff review of a scoped sender's send or schedule (SPEC 9)."""

    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the message was edited while it waited


class ReviewAction(StrEnum):
    SEND = "send"
    SCHEDULE = "schedule"


class DeliveryProgress(StrEnum):
    """Where a message's delivery stands (`delivery.status`, SPEC 4.1): derived, never stored."""

    IDLE = "idle"  # DRAFT or SCHEDULED
    PREPARING = "preparing"  # SENT, its audience still being queued
    SENDING = "sending"  # pending deliveries remain
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"  # nothing pending


class EnumText(TypeDecorator[Any]):
    """A StrEnum stored as its value in a short string column, and read back as
    the enum: a read never hands a plain string on as a state, and a value
    that is not one of the enum's cannot be written (ValueError)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    pass


def one_of(table: str, column: str, enum: type[StrEnum]) -> CheckConstraint:
    """The database itself refuses a value no caller may write (NULL passes: a
    nullable column says so itself), whatever path an UPDATE comes by."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"ck_{table}_{column}")


# --- the directory -------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), default="")
    email: Mapped[str] = mapped_column(String(EMAIL_LEN), default="")
    full_name: Mapped[str] = mapped_column(String(300), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_support: Mapped[bool] = mapped_column(Boolean, default=False)
    # The portal's language for them (SPEC 2.3): a lower-case tag, "" for none.
    preferred_language: Mapped[str] = mapped_column(String(35), default="", server_default="")
    # Herald's own operator, made by `herald create-staff` and named by no import:
    # an import or sync that does not name them leaves them be. Everyone else
    # leaves with the portal (SPEC 8): a user an import --replace or a sync no
    # longer names is deleted, or, if they hold API tokens, kept inactive.
    local: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_users_email_lower", func.lower(email)),)


class Customer(Base):
    __tablename__ = "customers"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    # A JSON array of addresses; always read whole with its customer.
    notification_emails: Mapped[str] = mapped_column(Text, default="[]")


class Project(Base):
    __tablename__ = "projects"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    customer_uuid: Mapped[str] = mapped_column(
        ForeignKey("customers.uuid", ondelete="CASCADE"), index=True
    )


class Offering(Base):
    __tablename__ = "offerings"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    parent_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("offerings.uuid", ondelete="SET NULL"), index=True, nullable=True
    )
    # The service provider that offers it (SPEC 5, 9): NULL when the directory does
    # not say (an offering without one takes its parent's provider for scopes).
    customer_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("customers.uuid", ondelete="SET NULL", name="fk_offerings_customer_uuid"),
        index=True,
        nullable=True,
    )


class Resource(Base):
    __tablename__ = "resources"

    uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    project_uuid: Mapped[str] = mapped_column(
        ForeignKey("projects.uuid", ondelete="CASCADE"), index=True
    )
    offering_uuid: Mapped[str] = mapped_column(
        ForeignKey("offerings.uuid", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20))


class CustomerRole(Base):
    __tablename__ = "customer_roles"

    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("users.uuid", ondelete="CASCADE"), primary_key=True
    )
    customer_uuid: Mapped[str] = mapped_column(
        ForeignKey("customers.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The grant counts until then (naive UTC); None: for good.
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ProjectRole(Base):
    __tablename__ = "project_roles"

    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("users.uuid", ondelete="CASCADE"), primary_key=True
    )
    project_uuid: Mapped[str] = mapped_column(
        ForeignKey("projects.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- access ----------------------------------------------------------------


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_uuid: Mapped[str] = mapped_column(ForeignKey("users.uuid", ondelete="CASCADE"), index=True)
    # SHA-256 of the key: the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Written at most once a minute per token (auth/tokens.py), not per request.
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ConsoleSession(Base):
    """A signed-in console (SPEC 8): the cookie holds a random id, this row its
    SHA-256. A row, not a signed blob, so any process accepts it and signing out or
    leaving the portal ends it at once."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(ForeignKey("users.uuid", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)  # written at most once a minute
    expires: Mapped[datetime] = mapped_column(DateTime)  # the absolute limit
    method: Mapped[str] = mapped_column(String(16), default="token")  # how it was opened
    # The Herald token it was opened with: revoking the token ends the session (the
    # row goes with it), and it ends no later than the token expires. NULL: opened
    # another way (a Waldur token, which Herald never keeps to ask again).
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE", name="fk_console_sessions_token_id"),
        nullable=True,
        index=True,
    )
    # Opened through the portal's OpenID provider (SPEC 8.1): the provider's session
    # and subject, which its back-channel logout names, and where signing out sends
    # the browser (the provider's end-session endpoint, with the ID token as hint).
    oidc_sid: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    oidc_sub: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    logout_url: Mapped[str | None] = mapped_column(Text, nullable=True)


class OidcSignIn(Base):
    """A sign-in through the OpenID provider between its start and the provider's
    answer: at most 10 minutes, used once, by the browser that started it (the
    `herald_oidc` cookie holds a random value, this row its SHA-256)."""

    __tablename__ = "oidc_sign_ins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next: Mapped[str] = mapped_column(String(2000))  # a console address, "/…"
    created: Mapped[datetime] = mapped_column(DateTime, index=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class WaldurToken(Base):
    """What Waldur said of one of its tokens (SPEC 8), kept under the token's hash
    (never the token) for HERALD_WALDUR_AUTH_CACHE seconds."""

    __tablename__ = "waldur_tokens"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(ForeignKey("users.uuid", ondelete="CASCADE"), index=True)
    checked: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, when Waldur answered


# --- messages and their outbox -------------------------------------------


class BroadcastMessage(Base):
    __tablename__ = "broadcast_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LEN), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, index=True)  # naive UTC
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # Stored as JSON text and spliced into responses unparsed (see broadcasts/schemas.py).
    query: Mapped[str] = mapped_column(Text)
    emails: Mapped[str] = mapped_column(Text)
    # Its translations (SPEC 2.3): JSON text {"et": {"subject", "body"}, ...}, tags
    # lower-case; "{}" for none. `subject` and `body` stay the default text.
    translations: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    author_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("users.uuid", ondelete="SET NULL"), nullable=True
    )
    # The author's name when the message was written: it outlives the author's
    # directory entry, and lists and ordering need no join.
    author_full_name: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[MessageState] = mapped_column(EnumText(MessageState), index=True)
    send_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    sent: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Sending in the background (SPEC 4.1): False from the send until the whole
    # audience is queued; `prepare_cursor` is the last address key queued, so a
    # preparation that died resumes after it and queues every address once.
    prepared: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    prepare_cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    steering: Mapped[Steering | None] = mapped_column(EnumText(Steering), nullable=True, index=True)
    # A scoped sender's message (SPEC 9): the one scope it was written in, fixed at
    # creation (its name copied); NULL for a staff message.
    scope_type: Mapped[ScopeType | None] = mapped_column(EnumText(ScopeType), nullable=True)
    scope_uuid: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)
    scope_name: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Its last request for staff review; NULL: none was ever needed.
    review_status: Mapped[ReviewStatus | None] = mapped_column(
        EnumText(ReviewStatus), nullable=True, index=True
    )
    review_action: Mapped[ReviewAction | None] = mapped_column(
        EnumText(ReviewAction), nullable=True
    )
    review_requested_by: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)
    review_requested_by_name: Mapped[str] = mapped_column(
        String(300), default="", server_default=""
    )
    review_requested: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_decided_by: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)
    review_decided_by_name: Mapped[str] = mapped_column(String(300), default="", server_default="")
    review_decided: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    # AUTOINCREMENT on SQLite: an id is never handed out again after a delete,
    # so nothing keyed by it can ever name another message.
    __table_args__ = (
        one_of("broadcast_messages", "state", MessageState),
        one_of("broadcast_messages", "steering", Steering),
        one_of("broadcast_messages", "scope_type", ScopeType),
        one_of("broadcast_messages", "review_status", ReviewStatus),
        one_of("broadcast_messages", "review_action", ReviewAction),
        Index("ix_broadcast_messages_scope", "scope_type", "scope_uuid"),
        {"sqlite_autoincrement": True},
    )


class Delivery(Base):
    """One row of the outbox: one message to one address."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("broadcast_messages.id", ondelete="CASCADE"))
    # The message's UUID, copied at queue time: what the worker keys rendered
    # mail by (ids can be reused by SQLite; UUIDs never are).
    message_uuid: Mapped[str] = mapped_column(String(UUID_LEN))
    email: Mapped[str] = mapped_column(String(EMAIL_LEN))
    status: Mapped[DeliveryStatus] = mapped_column(
        EnumText(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Who the recipient is, frozen at send time for personalised messages:
    # full name, and the names (JSON arrays) of the customers and offerings
    # through which they were reached.
    full_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    customers: Mapped[str | None] = mapped_column(Text, nullable=True)
    offerings: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the mail server answered when it accepted the mail.
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The variant it was sent in (SPEC 2.3): a translation's tag; NULL: the default.
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    # When the delivery may next be tried (back-off), and until when a worker holds it.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Which worker run holds the lease: only that run may record an outcome.
    lease_owner: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)

    __table_args__ = (
        UniqueConstraint("message_id", "email", name="uq_deliveries_message_email"),
        Index("ix_deliveries_message_status", "message_id", "status"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        one_of("deliveries", "status", DeliveryStatus),
        {"sqlite_autoincrement": True},
    )


class JobRun(Base):
    """The last run of a periodic job (the scheduler, the directory sync), for
    /metrics and the status endpoints: one row per job, whichever process ran it."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_run: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, when it last finished
    last_success: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds, of the last run
    # What the last run did or why it failed, as JSON: counts, an error.
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # Held by the process running the job now, so only one runs it at a time.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class IdempotencyKey(Base):
    """The first answer to a request that carried an `Idempotency-Key`, kept 24 hours,
    so that a retried or double-clicked request is answered without acting twice."""

    __tablename__ = "idempotency_keys"

    user_uuid: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of method, path and body: the same key for another request is a 409.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: in progress
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class MessageTemplate(Base):
    """A reusable subject and body (Waldur's broadcast message templates)."""

    __tablename__ = "broadcast_message_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(150), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime)
    # As on a message (SPEC 2.3): a message filled from the template takes them too.
    translations: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


# --- bounces and suppressions (SPEC 4.2) -------------------------------------


class BounceKind(StrEnum):
    """What a bounce said: `unrecognised` is a notification for one of our
    deliveries that could not be read (kept for staff, never guessed)."""

    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    UNRECOGNISED = "unrecognised"


class BounceSource(StrEnum):
    MAILBOX = "mailbox"  # read from the bounce mailbox over IMAP
    WEBHOOK = "webhook"  # reported to POST /api/bounces/


class SuppressionReason(StrEnum):
    HARD = "hard"  # a hard bounce
    SOFT = "soft"  # HERALD_SOFT_BOUNCE_LIMIT soft bounces within 30 days
    COMPLAINT = "complaint"  # the recipient reported the mail as abuse
    MANUAL = "manual"  # added by staff


class Bounce(Base):
    """One report that a mail did not arrive (or an unreadable one about our mail)."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LEN), unique=True)
    # The delivery it is about; NULL once its message is deleted (the record stays).
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True, index=True
    )
    message_uuid: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LEN), default="")
    key: Mapped[str] = mapped_column(String(EMAIL_LEN), default="")  # lower(email)
    kind: Mapped[BounceKind] = mapped_column(EnumText(BounceKind))
    code: Mapped[str] = mapped_column(String(16), default="")  # enhanced status, "5.1.1"
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    received: Mapped[datetime] = mapped_column(DateTime, index=True)  # naive UTC
    source: Mapped[BounceSource] = mapped_column(EnumText(BounceSource))
    # What identifies the notification (its Message-ID, or a hash of it): the
    # same notification read twice (a crash between recording and moving it)
    # is recorded once.
    notification: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary, default=b"")  # its first 64 kB

    __table_args__ = (
        Index("ix_bounces_key_received", "key", "received"),
        one_of("bounces", "kind", BounceKind),
        one_of("bounces", "source", BounceSource),
        {"sqlite_autoincrement": True},
    )


class Suppression(Base):
    """An address Herald no longer mails (SPEC 4.2)."""

    __tablename__ = "suppressions"

    key: Mapped[str] = mapped_column(String(EMAIL_LEN), primary_key=True)  # lower(email)
    email: Mapped[str] = mapped_column(String(EMAIL_LEN))
    reason: Mapped[SuppressionReason] = mapped_column(EnumText(SuppressionReason), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # The bounce that caused it (NULL: added by hand, or the bounce was pruned).
    bounce_id: Mapped[int | None] = mapped_column(
        ForeignKey("bounces.id", ondelete="SET NULL"), nullable=True
    )
    created: Mapped[datetime] = mapped_column(DateTime, index=True)
    # Who added it by hand (a user's UUID); NULL when Herald did, or the operator at
    # the command line. Their name is copied: it outlives their directory entry.
    created_by: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(300), default="", server_default="")

    __table_args__ = (one_of("suppressions", "reason", SuppressionReason),)


# --- the audit trail (SPEC 8) ------------------------------------------------------


class AuditEntry(Base):
    """One change a person made. The person's name and address are copied, so an
    entry outlives their directory entry; `user_uuid` NULL: the operator at the
    command line."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LEN), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, index=True)  # naive UTC
    user_uuid: Mapped[str | None] = mapped_column(String(UUID_LEN), nullable=True, index=True)
    user_full_name: Mapped[str] = mapped_column(String(300), default="")
    user_email: Mapped[str] = mapped_column(String(EMAIL_LEN), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)  # "message.send"
    object_type: Mapped[str] = mapped_column(String(30))
    object_uuid: Mapped[str | None] = mapped_column(String(EMAIL_LEN), nullable=True, index=True)
    client: Mapped[str] = mapped_column(String(64), default="")  # the client's address
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON

    __table_args__ = {"sqlite_autoincrement": True}
