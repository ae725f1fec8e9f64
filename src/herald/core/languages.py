"""Language tags and who reads which variant (SPEC 2.3): the one home of the rule.

A tag is what Waldur stores as a user's `preferred_language`, compared without
regard to case and kept lower-case: 2-3 letters, then optional `-` parts of 2-8
letters or digits ("et", "pt-br", "zh-hant-tw"). A reader gets the variant of
their own tag; failing that, of its base language (the first part: "pt-br" ->
"pt"); failing that, the default (None). Python asks `choose` (a test-send, a
rendered preview); SQL asks `variant_of` (the preview's counts, the deliveries
queued at send): the same rule written for each, held equal by a property test
(tests/unit/test_languages.py) against a model written from the SPEC.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import case, literal

TAG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
TAG_LEN = 35  # the longest tag a column keeps (BCP 47 advises at least 35)
TAG_RULE = (
    "a language tag such as et, pt-br: 2-3 letters, then optional parts of 2-8 letters "
    "or digits, each after a -"
)


def read_tag(value: Any) -> tuple[str, None] | tuple[None, str]:
    """("", None) for none (null or ""); (the tag lower-cased, None); or (None, why)."""
    if value is None or value == "":
        return "", None
    if not isinstance(value, str):
        return None, f"expected {TAG_RULE}"
    tag = value.strip().lower()
    if len(tag) > TAG_LEN or not TAG.fullmatch(tag):
        return None, f"{value!r} is not {TAG_RULE}"
    return tag, None


def base(tag: str) -> str:
    """The base language of a tag: its first part ("pt-br" -> "pt")."""
    return tag.split("-", 1)[0]


def choose(tag: str | None, variants: Collection[str]) -> str | None:
    """The variant a reader with `tag` gets: their tag, else its base language, else
    the default (None). `variants` are lower-case tags; `tag` may be any case."""
    if not tag:
        return None
    tag = tag.lower()
    if tag in variants:
        return tag
    primary = base(tag)
    return primary if primary in variants else None


def variant_of(language: Any, variants: Collection[str]) -> Any:
    """SQL: `choose` over a column of lower-case tags ("" or NULL for none)."""
    if not variants:
        return literal(None)
    exact = sorted(variants)
    # A base-language variant serves every longer tag that starts with it and a "-"
    # (tags hold only letters, digits and "-", so LIKE needs no escaping). Those
    # tests run only for a tag with a "-": most readers have none, or a bare tag.
    by_base = [(language.like(f"{v}-%"), literal(v)) for v in exact if "-" not in v]
    branches: list[Any] = [(language.in_(exact), language)]
    if by_base:
        branches.append((language.like("%-%"), case(*by_base, else_=literal(None))))
    return case(*branches, else_=literal(None))
