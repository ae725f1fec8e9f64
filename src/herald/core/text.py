"""Checks on text that staff write, shared by messages, templates and directory searches.

They sit below every domain package, so templates and the directory can
use them without importing the broadcasts package.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from herald.core.languages import read_tag
from herald.personalisation import TemplateProblem, check_template
from herald.personalisation.grammar import MAX_SUBJECT

# One constant per limit. The subject's is the grammar's (the bound on what a
# rendering can print counts on it).
SUBJECT_MAX = MAX_SUBJECT
BODY_MAX = 1_000_000  # characters
NAME_MAX = 150  # a template's name
NOTE_MAX = 2000  # a suppression's note, a reported bounce's reason
LIMITS = {
    "subject": SUBJECT_MAX,
    "body": BODY_MAX,
    "name": NAME_MAX,
    "note": NOTE_MAX,
    "reason": NOTE_MAX,
}

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
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


class Missing:
    """A field the request did not write (distinct from null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()


def read_text(data: dict[str, Any], name: str, required: bool, errors: dict[str, Any]) -> Any:
    """The one check of a subject, a body or a name, wherever it arrives from (a
    message, a template, a render): a non-blank storable string within its limit.
    Subjects and names are trimmed; a body is kept exactly as written. Returns
    MISSING when the field was not written; problems go into `errors`."""
    if name not in data:
        if required:
            errors[name] = [REQUIRED]
        return MISSING
    value = data[name]
    if value is None:
        errors[name] = [NULL]
    elif not isinstance(value, str):
        errors[name] = [NOT_STRING]
    elif problem := text_problem(value):
        errors[name] = [problem]
    elif not value.strip():
        errors[name] = [BLANK]
    else:
        kept = value if name == "body" else value.strip()
        if problem := length_problem(name, kept):
            errors[name] = [problem]
        return kept
    return MISSING


def length_problem(name: str, value: str) -> str | None:
    limit = LIMITS[name]
    if len(value) > limit:
        return f"Ensure this field has no more than {limit} characters."
    return None


def check_message_text(subject: Any, body: Any, errors: dict[str, Any]) -> None:
    """A subject and body as they will be sent, wherever they came from (written,
    or filled in from a template saved under older rules): limits, placeholders."""
    for name, value in (("subject", subject), ("body", body)):
        if (
            isinstance(value, str)
            and name not in errors
            and (problem := length_problem(name, value))
        ):
            errors[name] = [problem]
    check_placeholders(subject, body, errors)


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


def read_address(data: dict[str, Any], name: str, errors: dict[str, Any]) -> str:
    """A required e-mail address field (one check: core/addresses.py), trimmed;
    problems go into `errors`."""
    from herald.core.addresses import email_error

    value = data.get(name, MISSING)
    if value is MISSING:
        errors[name] = [REQUIRED]
    elif problem := email_error(value):
        errors[name] = [problem]
    else:
        return str(value).strip()
    return ""


def read_optional_text(data: dict[str, Any], name: str, errors: dict[str, Any]) -> str:
    """An optional text (a note, a reason): "" when absent, null or empty, else as
    `read_text` checks it."""
    if data.get(name) in (None, ""):
        return ""
    value = read_text(data, name, False, errors)
    return value if isinstance(value, str) else ""


def refuse_unknown(data: dict[str, Any], known: set[str], errors: dict[str, Any]) -> None:
    for name in sorted(set(data) - known):
        errors[name] = ["Unknown field."]


# --- translations (SPEC 2.3) ---------------------------------------------------

MAX_TRANSLATIONS = 30
Translations = dict[str, dict[str, str]]  # {"et": {"subject": ..., "body": ...}}


def read_translations(data: dict[str, Any], errors: dict[str, Any]) -> Translations | Any:
    """`translations`, if the request wrote it: each key a language tag (kept
    lower-case), each variant's subject and body read and checked by exactly the
    code that reads the message's own (read_text, check_message_text), its errors
    under its tag: {"translations": {"et": {"subject": [...]}}}. Null is none ({}).
    Returns MISSING when not written."""
    if "translations" not in data:
        return MISSING
    value = data["translations"]
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors["translations"] = [
            'Expected a dictionary of language tags to {"subject": ..., "body": ...}.'
        ]
        return MISSING
    if len(value) > MAX_TRANSLATIONS:
        errors["translations"] = [
            f"Ensure there are no more than {MAX_TRANSLATIONS} translations; {len(value)} given."
        ]
        return MISSING
    result: Translations = {}
    problems: dict[str, Any] = {}
    for key, variant in value.items():
        tag, problem = read_tag(key)
        if problem is not None or not tag:
            problems[key] = [problem or "A translation needs a language tag."]
            continue
        if tag in result:
            problems[key] = [f"Repeats the language {tag} (tags are compared without case)."]
            continue
        if not isinstance(variant, dict):
            problems[key] = ['Expected {"subject": ..., "body": ...}.']
            continue
        found: dict[str, Any] = {}
        subject = read_text(variant, "subject", True, found)
        body = read_text(variant, "body", True, found)
        refuse_unknown(variant, {"subject", "body"}, found)
        check_message_text(subject, body, found)
        if found:
            problems[key] = found
        else:
            result[tag] = {"subject": subject, "body": body}
    if problems:
        errors["translations"] = problems
        return MISSING
    return result


def translations_json(translations: Translations) -> str:
    """Translations as stored, JSON text with the tags in order: what answers splice
    in unparsed, and what delivery reads back whole."""
    return orjson.dumps(translations, option=orjson.OPT_SORT_KEYS).decode()
