"""E-mail addresses: what Herald accepts, and how it compares them."""

import re

MAX_LENGTH = 254
MAX_LOCAL_PART = 64  # RFC 5321; relays refuse longer ones

# Close to Django's EmailValidator (what Waldur accepts): a dot-atom or quoted
# local part, and a domain of labels or `localhost`. No white space or control
# characters can pass, so an accepted address can never inject a mail header.
_LOCAL = re.compile(
    r"^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
    r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z',
    re.IGNORECASE,
)
_DOMAIN = re.compile(
    r"^((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z", re.IGNORECASE
)
_INVALID = "Enter a valid email address."


def email_error(value: object) -> str | None:
    """Why `value` is not an acceptable address, or None when it is."""
    if not isinstance(value, str):
        return "Not a valid string."
    if not value or len(value) > MAX_LENGTH or "@" not in value:
        return _INVALID
    if not value.isascii():
        # Internationalised addresses are not supported; and re.IGNORECASE lets
        # [A-Z] match the KELVIN SIGN and dotless i, which no relay would take.
        return "Enter a valid email address (ASCII characters only)."
    local, _, domain = value.rpartition("@")
    if len(local) > MAX_LOCAL_PART or not _LOCAL.match(local):
        return _INVALID
    if domain.lower() != "localhost" and not _DOMAIN.match(domain):
        return _INVALID
    return None


def email_key(address: str) -> str:
    """Addresses are compared case-insensitively."""
    return address.strip().lower()
