"""Who reads which variant (SPEC 2.3), held to a model written from the SPEC's words:
the Python `choose` and the SQL `variant_of` over generated tags and variants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, column, select, table, text

from herald.core.db import Database
from herald.core.languages import choose, read_tag, variant_of

# Tags drawn from a small alphabet, so that exact and base-language matches are common.
PART = st.sampled_from(["pt", "et", "fi", "br", "ee", "hant", "tw", "zh", "de", "sv", "x1"])
TAGS = st.builds(
    lambda first, rest: "-".join([first, *rest]),
    st.sampled_from(["pt", "et", "fi", "zh", "de", "sv", "nld"]),
    st.lists(PART, max_size=2),
)


def spec_model(tag: str, variants: set[str]) -> str | None:
    """SPEC 2.3 as written: "the variant of their preferred_language (pt-BR matches
    pt-br); failing that, its base language (pt-br -> pt); failing that, the default.
    Anyone without a language gets the default." """
    if tag == "":
        return None
    lowered = tag.lower()
    if lowered in variants:
        return lowered
    base_language = lowered.split("-")[0]
    if base_language in variants:
        return base_language
    return None


@settings(max_examples=400, deadline=None)
@given(tag=st.one_of(st.just(""), TAGS, TAGS.map(str.upper)), variants=st.sets(TAGS, max_size=6))
def test_choose_is_the_spec(tag: str, variants: set[str]) -> None:
    assert choose(tag, variants) == spec_model(tag, variants)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    readers=st.lists(st.one_of(st.just(""), TAGS), max_size=12), variants=st.sets(TAGS, max_size=6)
)
def test_the_sql_chooses_as_the_spec(
    database: Database, readers: list[str], variants: set[str]
) -> None:
    """The rule as the database applies it at send, on this run's database."""
    tags = table("reader_tags", column("tag", String))
    with database.transaction() as session:
        session.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS reader_tags (tag VARCHAR(35))"))
        session.execute(text("DELETE FROM reader_tags"))
        if readers:
            session.execute(tags.insert(), [{"tag": tag} for tag in readers])
        chosen = session.execute(select(tags.c.tag, variant_of(tags.c.tag, variants))).all()
        session.execute(text("DROP TABLE reader_tags"))
    assert sorted((tag, got) for tag, got in chosen) == sorted(
        (tag, spec_model(tag, variants)) for tag in readers
    )


def test_tags_are_read_as_the_spec_says() -> None:
    assert read_tag("pt-BR") == ("pt-br", None)
    assert read_tag(" et ") == ("et", None)
    assert read_tag("") == ("", None) and read_tag(None) == ("", None)
    for bad in ("e", "english", "pt_BR", "pt-", "pt-b", "zh-toolongpart", "12", 5):
        assert read_tag(bad)[0] is None, bad
