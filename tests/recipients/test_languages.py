"""Each reader's language in the recipients preview (SPEC 2.3): every row carries
it, `language=` counts and lists the readers of one tag (HEAD included), so staff
see who reads which variant before they send."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from herald.core.db import Database
from tests.conftest import load_directory
from tests.factories import DirectoryBuilder

URL = "/api/broadcast-messages/recipients/"


@pytest.fixture
def multilingual(db: Database) -> str:
    d = DirectoryBuilder()
    physics = d.customer("Physics", notification_emails=["it@physics.example"])
    for name, language in (("aino", "fi"), ("mart", "ET"), ("kaja", "et"), ("joao", "pt-BR"),
                           ("ana", "pt"), ("olga", "")):  # fmt: skip
        d.customer_role(d.user(name, language=language), physics)
    d.user("eve", language="de")  # in no organisation: reached by name only
    load_directory(db, d.doc)
    return physics


def _rows(api: httpx.Client, **params: Any) -> dict[str, str | None]:
    answer = api.get(URL, params={"page_size": 100, **params})
    assert answer.status_code == 200, answer.text
    return {row["email"]: row["language"] for row in answer.json()}


def _count(api: httpx.Client, **params: Any) -> int:
    answer = api.head(URL, params=params)
    assert answer.status_code == 200
    return int(answer.headers["X-Result-Count"])


def test_each_row_carries_its_readers_language(api: httpx.Client, multilingual: str) -> None:
    rows = _rows(api, customers=multilingual, additional_recipients="EVE@example.org,x@y.example")
    assert rows == {
        "aino@example.org": "fi",
        "mart@example.org": "et",  # stored lower-case
        "kaja@example.org": "et",
        "joao@example.org": "pt-br",
        "ana@example.org": "pt",
        "olga@example.org": None,  # no tag
        "it@physics.example": None,  # a notification e-mail is nobody's
        "EVE@example.org": "de",  # named by hand, but a user: their language
        "x@y.example": None,  # an address that is no user
    }


def test_the_language_filter_lists_and_counts_one_tags_readers(
    api: httpx.Client, multilingual: str
) -> None:
    query = {"customers": multilingual}
    assert set(_rows(api, **query, language="ET")) == {"mart@example.org", "kaja@example.org"}
    assert _count(api, **query, language="et") == 2
    assert _count(api, **query, language="pt-br") == 1  # the tag itself, not its base
    assert _count(api, **query, language="pt") == 1
    assert set(_rows(api, **query, language="")) == {"olga@example.org", "it@physics.example"}
    assert _count(api, **query, language="") == 2
    assert _count(api, **query, language="sv") == 0
    assert _count(api, **query) == 7


def test_a_tag_that_is_not_one_is_a_400(api: httpx.Client, multilingual: str) -> None:
    answer = api.get(URL, params={"customers": multilingual, "language": "english!"})
    assert answer.status_code == 400
    assert "language" in answer.json()
    assert "is not a language tag" in answer.json()["language"][0]


def test_variant_counts_say_how_many_read_each_translation(
    api: httpx.Client, multilingual: str
) -> None:
    """For the console's "Estonian: 2 · Portuguese: 2 · default: 3": the rule the send
    queues with, over the same audience, on GET and HEAD."""
    query = {"customers": multilingual, "variants": "ET,pt"}
    head = api.head(URL, params=query)
    assert head.headers["X-Variant-Counts"] == "et=2, pt=2, =3"  # pt-br reads pt
    get = api.get(URL, params={**query, "variants": ["pt-br", "fi"]})
    assert get.headers["X-Variant-Counts"] == "fi=1, pt-br=1, =5"
    assert "X-Variant-Counts" not in api.head(URL, params={"customers": multilingual}).headers
    bad = api.head(URL, params={"customers": multilingual, "variants": "et,Estonian!"})
    assert bad.status_code == 400
