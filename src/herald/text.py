"""Checks on text that staff write, shared by messages, templates and directory searches.

They sit below every domain package, so templates and the directory can
use them without importing the broadcasts package.
"""

from __future__ import annotations

import re
from typing import Any

from herald.personalisation import TemplateProblem, check_template

SUBJECT_MAX = 1000
# As the OpenAPI document says it: a maxLength would count the white space
# that is trimmed away before the limit applies (SPEC 2).
SUBJECT_RULE = (
    f"1 to {SUBJECT_MAX} characters once white space is trimmed from both ends; "
    "may use placeholders"
)
NULL_CHARACTER = "Null characters are not allowed."
BAD_UNICODE = "Not valid Unicode text (a lone surrogate escape)."

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def text_problem(value: str) -> str | None:
    """Text that no database can store: NUL characters (PostgreSQL refuses them)
    and lone UTF-16 surrogates, which JSON escapes can smuggle in."""
    if "\x00" in value:
        return NULL_CHARACTER
    if has_lone_surrogate(value):
        return BAD_UNICODE
    return None


def has_lone_surrogate(value: str) -> bool:
    """True for text no UTF-8 can carry: a JSON escape like \\ud800 can put one in."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(value: str) -> str:
    """The text with any lone surrogate written as \\udXXX, so that it can be echoed."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def looks_like_html(body: str) -> bool:
    """Whether a body is sent as HTML (with a plain-text part beside it)."""
    return bool(_TAG.search(body))


def check_placeholders(subject: Any, body: Any, errors: dict[str, Any]) -> None:
    """Placeholders must render for any recipient; problems go into `errors`."""
    if isinstance(subject, str) and "subject" not in errors:
        try:
            check_template(subject)
        except TemplateProblem as problem:
            errors["subject"] = [str(problem)]
    if isinstance(body, str) and "body" not in errors:
        try:
            check_template(body, html=looks_like_html(body))
        except TemplateProblem as problem:
            errors["body"] = [str(problem)]
