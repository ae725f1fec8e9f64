"""A broadcast in each reader's language (SPEC 2.3): translations on messages and
templates, checked like the message's own text; each recipient gets the variant of
their language, base language or the default, recorded on the delivery and said in
Content-Language; the preview and the test-send show any variant."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.core.db import Database
from tests.conftest import load_directory
from tests.delivery.helpers import WorkerThread, settings_for, wait_for
from tests.factories import DirectoryBuilder
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"
ESTONIAN = {"subject": "Hooldus", "body": "Klaster on maas."}
PORTUGUESE = {"subject": "Manutenção", "body": "O cluster está em baixo."}
LANGUAGES = {"mart": "et", "kaja": "ET", "joao": "pt-BR", "ana": "pt", "aino": "fi", "olga": ""}


@pytest.fixture
def readers(db: Database) -> str:
    d = DirectoryBuilder()
    physics = d.customer("Physics")
    for name, language in LANGUAGES.items():
        d.customer_role(d.user(name, language=language), physics)
    load_directory(db, d.doc)
    return physics


def _create(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"subject": "Maintenance", "body": "The cluster is down.", **fields}
    return api.post(URL, json=body)


def _messages(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(text("SELECT count(*) FROM broadcast_messages")).scalar_one())


def test_translations_are_kept_lower_case_and_replaced_whole(api: httpx.Client) -> None:
    created = _create(api, translations={"ET": ESTONIAN, "pt": PORTUGUESE})
    assert created.status_code == 201, created.text
    message = created.json()
    assert message["translations"] == {"et": ESTONIAN, "pt": PORTUGUESE}
    assert (message["subject"], message["body"]) == ("Maintenance", "The cluster is down.")
    uuid = message["uuid"]
    # Without translations: kept. With: replaced whole. {} or null: none.
    kept = api.patch(f"{URL}{uuid}/", json={"subject": "Maintenance on Monday"}).json()
    assert kept["translations"] == {"et": ESTONIAN, "pt": PORTUGUESE}
    replaced = api.patch(f"{URL}{uuid}/", json={"translations": {"fi": ESTONIAN}}).json()
    assert replaced["translations"] == {"fi": ESTONIAN}
    put = api.put(f"{URL}{uuid}/", json={"subject": "S", "body": "B"}).json()
    assert put["translations"] == {"fi": ESTONIAN}
    assert api.patch(f"{URL}{uuid}/", json={"translations": None}).json()["translations"] == {}
    listed = api.get(URL, params={"field": ["uuid", "translations"]}).json()
    assert listed == [{"uuid": uuid, "translations": {}}]


BLANK = {"subject": " ", "body": "b"}
EXTRA = {"subject": "s", "body": "b", "title": "t"}
LONG = {"subject": "s", "body": "x" * 1_000_001}
TYPO = {"subject": "s", "body": "{{ recipent.full_name }}"}


@pytest.mark.parametrize(
    ("translations", "errors"),
    [
        ({"english!": ESTONIAN}, {"english!": ["'english!' is not a language tag such as et"]}),
        ({"et": BLANK}, {"et": {"subject": ["This field may not be blank."]}}),
        ({"et": {"subject": "s"}}, {"et": {"body": ["This field is required."]}}),
        ({"et": EXTRA}, {"et": {"title": ["Unknown field."]}}),
        ({"et": LONG}, {"et": {"body": ["Ensure this field has no more than 1000000 characters"]}}),
        # an unknown placeholder in one variant only: that variant is named
        ({"et": ESTONIAN, "pt": TYPO}, {"pt": {"body": ["Line 1: unknown variable 'recipent'"]}}),
        ({"et": ESTONIAN, "ET": ESTONIAN}, {"ET": ["Repeats the language et"]}),
        ({"et": "Hooldus"}, {"et": ['Expected {"subject": ..., "body": ...}.']}),
    ],
)
def test_a_bad_variant_is_a_400_naming_it_and_nothing_is_written(
    api: httpx.Client, db: Database, translations: dict[str, Any], errors: dict[str, Any]
) -> None:
    answer = _create(api, translations=translations)
    assert answer.status_code == 400, answer.text
    said = answer.json()["translations"]
    assert set(said) == set(errors)  # only the variant at fault is named
    for tag, expected in errors.items():
        got = said[tag]
        if isinstance(expected, dict):
            assert set(got) == set(expected)
            for name, words in expected.items():
                assert got[name][0].startswith(words[0]), (got, expected)
        else:
            assert got[0].startswith(expected[0]), (got, expected)
    assert _messages(db) == 0


def test_thirty_variants_but_not_thirty_one(api: httpx.Client, db: Database) -> None:
    tags = [f"x{a}{b}" for a in "abcdef" for b in "abcdef"][:31]
    many = {tag: ESTONIAN for tag in tags}
    answer = _create(api, translations=many)
    assert answer.status_code == 400
    assert answer.json() == {
        "translations": ["Ensure there are no more than 30 translations; 31 given."]
    }
    assert _messages(db) == 0
    assert _create(api, translations=dict(list(many.items())[:30])).status_code == 201


def test_a_template_carries_translations_and_fills_them_in(api: httpx.Client) -> None:
    made = api.post(
        "/api/broadcast-message-templates/",
        json={"name": "Outage", "subject": "Outage", "body": "Down.",
              "translations": {"et": ESTONIAN}},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["translations"] == {"et": ESTONIAN}
    bad = api.patch(
        f"/api/broadcast-message-templates/{made.json()['uuid']}/",
        json={"translations": {"et": {"subject": "", "body": "b"}}},
    )
    assert bad.status_code == 400 and "et" in bad.json()["translations"]
    message = api.post(URL, json={"template": made.json()["uuid"]}).json()
    assert message["translations"] == {"et": ESTONIAN}
    own = api.post(URL, json={"template": made.json()["uuid"], "translations": {}}).json()
    assert own["translations"] == {}


def _by_address(sink: SmtpSink) -> dict[str, Any]:
    return {item.recipients[0]: item.message for item in sink.received}


def test_each_reader_gets_their_variant_recorded_and_labelled(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, readers: str
) -> None:
    created = _create(
        api, query={"customers": [readers]},
        translations={"et": ESTONIAN, "pt": PORTUGUESE,
                      "fi": {"subject": "Huolto {{ recipient.full_name }}", "body": "Alhaalla."}},
    ).json()  # fmt: skip
    uuid = created["uuid"]
    # Who gets which, before the send: each recipient's own language, and the preview
    # of one of them in the variant they get.
    preview = api.post(f"{URL}{uuid}/preview/", json={"email": "joao@example.org"}).json()
    assert (preview["language"], preview["subject"]) == ("pt", "Manutenção")
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == len(LANGUAGES), 30, "every mail")
    mails = _by_address(sink)
    expected = {
        "mart@example.org": ("Hooldus", "et"),
        "kaja@example.org": ("Hooldus", "et"),  # ET: compared without case
        "joao@example.org": ("Manutenção", "pt"),  # pt-br: its base language
        "ana@example.org": ("Manutenção", "pt"),
        "aino@example.org": ("Huolto Aino", "fi"),  # personalised in its variant
        "olga@example.org": ("Maintenance", None),  # no language: the default
    }
    for address, (subject, language) in expected.items():
        assert mails[address]["Subject"] == subject, address
        assert mails[address]["Content-Language"] == language, address
    rows = api.get(f"{URL}{uuid}/deliveries/", params={"page_size": 50}).json()
    assert {r["email"]: r["language"] for r in rows} == {a: v[1] for a, v in expected.items()}
    counts = {
        tag: int(api.head(f"{URL}{uuid}/deliveries/", params={"language": tag})
                 .headers["X-Result-Count"])
        for tag in ("et", "pt", "fi", "")
    }  # fmt: skip
    assert counts == {"et": 2, "pt": 2, "fi": 1, "": 1}
    # What was sent stays as it was: the preview of a sent message shows the variant
    # its recipient was sent.
    sent = api.post(f"{URL}{uuid}/preview/", json={"email": "kaja@example.org"}).json()
    assert (sent["language"], sent["subject"]) == ("et", "Hooldus")


def test_a_language_changed_before_the_send_is_read_at_preparation(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, readers: str
) -> None:
    uuid = _create(api, query={"customers": [readers]}, translations={"et": ESTONIAN}).json()[
        "uuid"
    ]
    before = api.post(f"{URL}{uuid}/preview/", json={"email": "olga@example.org"}).json()
    assert before["language"] is None
    with db.transaction() as session:
        session.execute(text("UPDATE users SET preferred_language = 'et' WHERE username = 'olga'"))
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == len(LANGUAGES), 30, "every mail")
    assert _by_address(sink)["olga@example.org"]["Subject"] == "Hooldus"


def test_previews_and_tests_show_any_variant(
    api: httpx.Client, sink: SmtpSink, readers: str, staff: dict[str, str], live_server: Any
) -> None:
    uuid = _create(
        api, query={"customers": [readers]}, translations={"et": ESTONIAN, "pt": PORTUGUESE}
    ).json()["uuid"]
    shown = api.post(
        f"{URL}{uuid}/preview/", json={"email": "olga@example.org", "language": "pt-BR"}
    )
    assert (shown.json()["language"], shown.json()["text"]) == ("pt", "O cluster está em baixo.")
    default = api.post(f"{URL}{uuid}/preview/", json={"email": "mart@example.org", "language": ""})
    assert (default.json()["language"], default.json()["subject"]) == (None, "Maintenance")
    bad = api.post(f"{URL}{uuid}/preview/", json={"language": "Estonian!"})
    assert bad.status_code == 400 and "language" in bad.json()
    # the live server mails to files by default; point its test sends at the sink
    settings = live_server.app.state.settings
    original, settings.smtp_url = settings.smtp_url, sink.url
    try:
        tested = api.post(
            f"{URL}{uuid}/test-send/", json={"emails": [staff["email"]], "language": "et"}
        )
    finally:
        settings.smtp_url = original
    assert tested.status_code == 200, tested.text
    wait_for(lambda: sink.count() == 1, 10, "the test")
    mail = sink.received[0].message
    assert (mail["Subject"], mail["Content-Language"]) == ("[TEST] Hooldus", "et")


def test_a_translation_removed_during_a_send_leaves_each_mail_one_whole_variant(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    """An edit racing the send: either it lands first (and the send reads it) or the
    send does (and the edit is refused: a sent message is not edited). Never a
    subject from one variant and a body from another."""
    d = DirectoryBuilder()
    for n in range(300):
        d.user(f"reader{n:03}", language="et" if n % 2 else "")
    load_directory(db, d.doc)
    variants = {"et": ESTONIAN}
    uuid = _create(api, query={"all_users": True}, translations=variants).json()["uuid"]
    answers: dict[str, int] = {}

    def edit() -> None:
        answers["patch"] = api.patch(f"{URL}{uuid}/", json={"translations": {}}).status_code

    racer = threading.Thread(target=edit)
    racer.start()
    answers["send"] = api.post(f"{URL}{uuid}/send/").status_code
    racer.join()
    assert answers["send"] == 200 and answers["patch"] in (200, 409), answers
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() >= 301, 60, "every mail")  # 300 readers and the staff
    pairs = {(m.message["Subject"], m.message.get_content().strip()) for m in sink.received}
    assert pairs <= {("Maintenance", "The cluster is down."), ("Hooldus", "Klaster on maas.")}
    for item in sink.received:
        estonian = item.message["Subject"] == "Hooldus"
        assert (item.message["Content-Language"] == "et") == estonian
    if answers["patch"] == 200:  # the edit landed first: nobody got Estonian
        assert {s for s, _ in pairs} == {"Maintenance"}
    else:
        assert ("Hooldus", "Klaster on maas.") in pairs


def test_waldurs_client_reads_a_message_with_translations(api: httpx.Client, waldur: Any) -> None:
    from waldur_api_client.api.broadcast_messages import (
        broadcast_messages_list,
        broadcast_messages_retrieve,
    )

    uuid = _create(api, translations={"et": ESTONIAN}).json()["uuid"]
    listed = broadcast_messages_list.sync(client=waldur)
    assert listed is not None and [m.subject for m in listed] == ["Maintenance"]
    one = broadcast_messages_retrieve.sync(uuid=uuid, client=waldur)
    assert one is not None and (one.subject, one.body) == ("Maintenance", "The cluster is down.")
    assert one.additional_properties["translations"] == {"et": ESTONIAN}
