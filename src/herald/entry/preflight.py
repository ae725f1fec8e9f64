"""Checks made before anything is started: a configuration that cannot work is
refused with one line that says what to do, never found out by the first user."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from herald.bounces.mailbox import mailbox_from_url
from herald.core.config import DEFAULT_DATABASE_URL, Settings
from herald.core.db import (
    NO_SCHEMA,
    Database,
    TwoDefaultDatabases,
    adopt_misnamed_default,
    missing_sqlite_file,
)
from herald.delivery.transport import transport_from_url

MIN_SECRET = 16  # characters of HERALD_SECRET_KEY
logger = logging.getLogger("herald")


class ConfigurationError(Exception):
    """A configuration that cannot work; its text is the one line an operator sees."""


def oidc_problem(settings: Settings) -> str | None:
    """Why the OpenID Connect settings cannot work, or None. A provider that does not
    answer is not refused here: sign-in says so when it is tried (SPEC 8.1)."""
    issuer, client = settings.oidc_issuer, settings.oidc_client_id
    if not issuer and not client:
        return None
    if not issuer:
        return (
            "HERALD_OIDC_CLIENT_ID is set but HERALD_OIDC_ISSUER is not: give the provider's "
            "issuer URL"
        )
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return (
            f"HERALD_OIDC_ISSUER {issuer!r} is not a URL: give the provider's issuer, such as "
            "https://keycloak.example.org/realms/portal"
        )
    if not client:
        return (
            "HERALD_OIDC_ISSUER is set but HERALD_OIDC_CLIENT_ID is not: register Herald as a "
            "client of the provider and give its client id"
        )
    if "openid" not in settings.oidc_scopes.split():
        return (
            f"HERALD_OIDC_SCOPES {settings.oidc_scopes!r} lacks openid, without which there "
            "is no ID token"
        )
    if not settings.oidc_user_claim.strip():
        return "HERALD_OIDC_USER_CLAIM is empty: name the claim that names the directory user"
    return None


def settle_default_database(settings: Settings) -> str | None:
    """Move a misnamed default database to its name (core/db.py); the line saying so,
    or None. A choice between two databases is refused with one line."""
    try:
        return adopt_misnamed_default(settings.database_url, DEFAULT_DATABASE_URL)
    except TwoDefaultDatabases as exc:
        raise ConfigurationError(str(exc)) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot move the misnamed default database: {exc}") from exc


def check_configuration(settings: Settings) -> None:
    """Refuse, with one line, a configuration that cannot work."""
    if moved := settle_default_database(settings):
        logger.warning("%s", moved)
    try:
        transport_from_url(settings.smtp_url)
    except (ValueError, OSError) as exc:
        raise ConfigurationError(f"HERALD_SMTP_URL cannot be used: {exc}") from exc
    if settings.bounce_address and len(settings.secret) < MIN_SECRET:
        raise ConfigurationError(
            "HERALD_BOUNCE_ADDRESS is set but HERALD_SECRET_KEY is "
            + ("not set" if not settings.secret else f"shorter than {MIN_SECRET} characters")
            + ": bounce tags are signed with it; set it to a long random value that stays "
            "the same across restarts (such as the output of `openssl rand -hex 32`)"
        )
    if settings.waldur_auth and not settings.waldur_url:
        raise ConfigurationError(
            "HERALD_WALDUR_AUTH is on but HERALD_WALDUR_URL is not set: give the Waldur "
            "whose tokens Herald should accept, such as https://waldur.example.org"
        )
    if problem := oidc_problem(settings):
        raise ConfigurationError(problem)
    if settings.bounce_imap_url and not settings.bounce_address:
        raise ConfigurationError(
            "HERALD_BOUNCE_IMAP_URL is set but HERALD_BOUNCE_ADDRESS is not: without VERP "
            "envelope senders no bounce in that mailbox can be tied to a delivery"
        )
    if settings.bounce_imap_url:
        try:
            mailbox_from_url(settings.bounce_imap_url)
        except ValueError as exc:
            raise ConfigurationError(f"HERALD_BOUNCE_IMAP_URL cannot be used: {exc}") from exc
    if path := missing_sqlite_file(settings.database_url):
        raise ConfigurationError(f"{NO_SCHEMA} (there is no database at {path})")
    database = Database(settings.database_url)
    try:
        problem = database.schema_problem()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigurationError(
            f"cannot reach the database {database.display_url}: {reason}"
        ) from exc
    finally:
        database.dispose()
    if problem:
        raise ConfigurationError(problem)
