"""Settings, read from HERALD_* environment variables (and a .env file)."""

from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald.core.models import ScopeType

# SPEC 6. (A package move once renamed it var/herald.core.db by mistake: core/db.py
# `adopt_misnamed_default` moves such a file back where it belongs.)
DEFAULT_DATABASE_URL = "sqlite:///./var/herald.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    smtp_url: str = "file://./var/outbox"
    from_email: str = "noreply@localhost"
    time_zone: str = "UTC"
    scheduler_interval: float = 30.0

    # Delivery tuning (README "Delivery"); the defaults suit a typical relay.
    smtp_concurrency: int = 20  # connections (and mails in flight) per worker process
    smtp_rate: float = 0.0  # mails per second per worker process; 0 = no limit
    smtp_timeout: float = 30.0  # seconds for one SMTP command
    max_attempts: int = 8  # temporary failures before a delivery is marked failed
    retry_base: float = 30.0  # first back-off in seconds; doubles per attempt, with jitter
    retry_max: float = 3600.0  # longest back-off in seconds
    lease_seconds: float = 300.0  # how long a claimed delivery is held before others may take it
    poll_interval: float = 1.0  # seconds between looks at an empty outbox
    # Addresses queued per transaction while a send is prepared (SPEC 4.1).
    prepare_batch: Annotated[int, Field(ge=100)] = 20_000
    # The Waldur to sync the directory from (SPEC 5.1), and how often (seconds; None: never).
    waldur_url: str | None = None
    waldur_token: str | None = None
    waldur_customer_emails: Literal["none", "contact"] = "none"
    # Waldur's own tokens accepted by the API (SPEC 8): an unknown token is asked of
    # Waldur's users/me, and the answer cached this many seconds.
    waldur_auth: bool = False
    waldur_auth_cache: Annotated[float, Field(ge=0)] = 60.0
    sync_interval: float | None = None
    # Bounces (SPEC 4.2): the VERP envelope sender's base address, the key that
    # signs its tags (also for sessions later; never generated, so a restart
    # cannot orphan the tags of mail already out), the mailbox bounces land in,
    # how often it is read, the webhook's own token, and how many soft bounces
    # within 30 days suppress an address.
    bounce_address: str | None = None
    secret_key: str | None = None
    bounce_imap_url: str | None = None
    bounce_interval: Annotated[float, Field(gt=0)] = 60.0
    bounce_webhook_token: str | None = None
    soft_bounce_limit: Annotated[int, Field(ge=1)] = 3
    # Console sessions (SPEC 8): signed out after this long unused, and after this long at most.
    session_idle_hours: Annotated[float, Field(gt=0)] = 8.0
    session_max_days: Annotated[float, Field(gt=0)] = 7.0
    audit_days: Annotated[int, Field(ge=1)] = 400  # how long `herald prune` keeps the trail
    # Sign-in through the portal's OpenID Connect provider (SPEC 8.1): off without an issuer.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None  # unset: a public client (PKCE alone)
    oidc_scopes: str = "openid email profile"
    # The claim whose value names the directory user, by which field (Waldur's own
    # identity-provider settings: user_claim -> user_field).
    oidc_user_claim: str = "sub"
    oidc_user_field: Literal["username", "uuid", "email"] = "username"
    oidc_label: str = "Sign in with your organisation"
    # Senders beyond staff (SPEC 9): "providers", "owners" or both, comma-separated;
    # unset: only staff and support. Their sends wait for staff review unless off.
    scoped_senders: str | None = None
    scoped_review: bool = True
    max_body_bytes: int = 1_048_576  # larger request bodies are refused with 413
    # Seconds a client has for a request's line and headers (0 would close every connection).
    header_timeout: Annotated[float, Field(gt=0)] = 10.0
    log_format: Literal["text", "json"] = "text"
    access_log: bool = False  # log every request (set by `herald serve --access-log`)
    metrics_token: str | None = None  # when set, /metrics wants `Authorization: Bearer <it>`

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("from_email")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        from herald.core.addresses import email_error

        if problem := email_error(value.strip()):
            raise ValueError(f"HERALD_FROM_EMAIL {value!r}: {problem}")
        return value.strip()

    @field_validator("bounce_address")
    @classmethod
    def _valid_bounce_address(cls, value: str | None) -> str | None:
        from herald.core.addresses import email_error

        if value is None or not value.strip():
            return None
        value = value.strip()
        if problem := email_error(value):
            raise ValueError(f"HERALD_BOUNCE_ADDRESS {value!r}: {problem}")
        if "+" in value.rpartition("@")[0]:
            raise ValueError(
                f"HERALD_BOUNCE_ADDRESS {value!r}: no '+' in the local part "
                "(Herald adds '+<tag>' to it)"
            )
        return value

    @field_validator("scoped_senders")
    @classmethod
    def _known_senders(cls, value: str | None) -> str | None:
        words = {w.strip() for w in (value or "").split(",") if w.strip()}
        if unknown := words - {"providers", "owners"}:
            raise ValueError(
                f"HERALD_SCOPED_SENDERS names {', '.join(sorted(unknown))}: "
                "use providers, owners, or both (comma-separated)"
            )
        return ",".join(sorted(words)) or None

    @property
    def scoped_kinds(self) -> frozenset[ScopeType]:
        """Which scoped senders may send (SPEC 9); empty: staff and support only."""
        words = set((self.scoped_senders or "").split(","))
        kinds = {ScopeType.PROVIDER} if "providers" in words else set()
        if "owners" in words:
            kinds.add(ScopeType.ORGANISATION)
        return frozenset(kinds)

    @property
    def secret(self) -> bytes:
        """HERALD_SECRET_KEY as bytes (checked at start when it is needed)."""
        return (self.secret_key or "").encode()

    def mail_destination(self) -> tuple[str, bool]:
        """Where mail goes, in words for a log line or the console (never the password),
        and whether it really leaves: the file transport is for trying Herald out."""
        parts = urlsplit(self.smtp_url)
        if parts.scheme == "file":
            directory = Path(unquote(parts.netloc + parts.path)).resolve()
            return (
                f"mail is NOT sent: each mail is written as an .eml file to {directory} "
                "(set HERALD_SMTP_URL to an SMTP relay to send it)",
                False,
            )
        security = (
            "implicit TLS"
            if parts.scheme == "smtps"
            else "STARTTLS"
            if "starttls" in parts.query
            else "no TLS"
        )
        return f"mail goes to the SMTP relay {parts.hostname}:{parts.port or ''} ({security})", True

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def today(self) -> date:
        """The day `send_at` is compared with: today in HERALD_TIME_ZONE."""
        return datetime.now(self.zone).date()
