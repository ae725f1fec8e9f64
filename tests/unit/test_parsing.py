"""Fast tests of the parsers: targeting, the directory file, and the placeholder sandbox."""

from __future__ import annotations

import pytest

from herald.directory.schemas import DirectoryError, parse_directory
from herald.personalisation import TemplateProblem, check_template, render
from herald.recipients.targeting import targeting_from_json

UUID_A = "886363ae12b3583bb0eedede4a502b63"


def test_targeting_accepts_nulls_and_dashed_uuids_any_case() -> None:
    for nothing in (None, "null", " NULL "):
        targeting, problem = targeting_from_json(nothing)
        assert problem is None and not targeting.customers
    dashed = "886363AE-12B3-583B-B0EE-DEDE4A502B63"
    targeting, problem = targeting_from_json({"customers": [dashed], "all_users": False})
    assert problem is None and targeting.customers == (UUID_A,)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ({"customer": []}, "customer"),
        ({"all_users": "yes"}, "all_users"),
        ({"customers": ["nope"]}, "customers"),
        ({"additional_recipients": ["not an address"]}, "additional_recipients"),
    ],
)
def test_targeting_names_the_bad_item(query: dict[str, object], key: str) -> None:
    _targeting, problem = targeting_from_json(query)
    assert isinstance(problem, dict) and key in problem


def test_targeting_refuses_a_list() -> None:
    _targeting, problem = targeting_from_json([UUID_A])
    assert isinstance(problem, list) and "Expected an object" in problem[0]


def test_the_directory_parser_names_section_index_and_field() -> None:
    document = {
        "users": [{"uuid": UUID_A, "username": "a", "email": "x", "full_name": "A"}],
        "projects": [{"uuid": UUID_A, "name": "P", "customer": "0" * 32}],
    }
    with pytest.raises(DirectoryError) as caught:
        parse_directory(document)
    assert any("users[0].email" in item for item in caught.value.problems)


def test_the_directory_parser_refuses_unknown_sections_and_offering_cycles() -> None:
    with pytest.raises(DirectoryError) as caught:
        parse_directory({"usres": []})
    assert "unknown section" in caught.value.problems[0]
    a, b = "a" * 32, "b" * 32
    cycle = {
        "offerings": [{"uuid": a, "name": "A", "parent": b}, {"uuid": b, "name": "B", "parent": a}]
    }
    with pytest.raises(DirectoryError):
        parse_directory(cycle)


def test_a_good_directory_parses() -> None:
    parsed = parse_directory(
        {"customers": [{"uuid": UUID_A, "name": "Physics", "notification_emails": []}]}
    )
    assert parsed.rows["customers"][0]["name"] == "Physics"


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{{ recipent.full_name }}", "unknown variable 'recipent'"),
        ("line one\n{% if %}", "Line 2"),
        ("{{ recipient.full_name.__class__ }}", "attributes of values are not allowed"),
        ("{{ 'x' * 10000000 }}", "arithmetic is not allowed"),
    ],
)
def test_the_sandbox_refuses_at_write_time(template: str, words: str) -> None:
    with pytest.raises(TemplateProblem, match=words):
        check_template(template)


def test_the_sandbox_renders_placeholders_and_escapes_names_in_html() -> None:
    context = {
        "recipient": {"full_name": "<b>Eve</b>", "email": "e@x", "customers": [], "offerings": []},
        "message": {"subject": "S", "send_at": None},
    }
    assert render("Dear {{ recipient.full_name }}", context) == "Dear <b>Eve</b>"
    assert render("<p>{{ recipient.full_name }}</p>", context, html=True) == (
        "<p>&lt;b&gt;Eve&lt;/b&gt;</p>"
    )
