"""`herald directory sync` against a Waldur that replays real recordings
(tests/waldur_replay.py, from ../shared/waldur-recordings): the directory it
builds, audience parity with Waldur's own recorded answers, and every failure
leaving the directory exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from herald.core.config import Settings
from herald.core.db import Database
from herald.directory.jobs import periodic_sync, run_sync
from herald.directory.repository import counts
from herald.directory.sync import MassRemoval, sync
from herald.directory.waldur import WaldurClient, WaldurError
from herald.operations import jobs
from herald.recipients.service import Audience
from herald.recipients.targeting import make_targeting
from tests.cli import herald
from tests.waldur_replay import RECORDINGS, TOKEN, FakeWaldur

ALPHA = "2973b89a430c4e3fae0570e48a5b904e"


@pytest.fixture
def waldur() -> Iterator[FakeWaldur]:
    fake = FakeWaldur().start()
    yield fake
    fake.stop()


def _settings(database_url: str, waldur: FakeWaldur, **extra: Any) -> Settings:
    return Settings(database_url=database_url, waldur_url=waldur.url, waldur_token=TOKEN, **extra)


def _recipients(db: Database, query: list[tuple[str, str]]) -> dict[str, str]:
    """Herald's audience for a recorded recipients query: {full name: email}."""
    parts: dict[str, Any] = {"customers": [], "offerings": []}
    for key, value in query:
        if key in ("customers", "offerings"):
            parts[key].append(value.replace("-", "").lower())
        elif key == "all_users":
            parts["all_users"] = value == "true"
    with db.transaction(write=False) as session:
        audience = Audience(session, make_targeting(parts), None).recipients()
    return {r.full_name: r.email for r in audience}


def _emails_by_name(db: Database) -> dict[str, str]:
    return _recipients(db, [("all_users", "true")])


def test_the_synced_directory(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    result = run_sync(_settings(database_url, waldur), database=db)
    assert result.report.sections["users"].added == 8
    with db.transaction(write=False) as session:
        assert counts(session) == {
            "users": 8, "customers": 3, "projects": 3, "offerings": 5, "resources": 7,
            "customer_roles": 7, "project_roles": 6,
        }  # fmt: skip
        grants = session.execute(
            text("SELECT role, expires FROM customer_roles WHERE role = 'service_manager'")
        ).all()
        # alice: CUSTOMER.MANAGER of Gamma, expiring in a year; bob: of Alpha, for good
        assert sorted(g.expires is not None for g in grants) == [False, True]
        archive = session.execute(text("SELECT count(*) FROM projects WHERE name = 'Beta Archive'"))
        assert archive.scalar_one() == 0  # removed in Waldur: absent here
        child = session.execute(
            text("SELECT p.name FROM offerings o JOIN offerings p ON p.uuid = o.parent_uuid")
        ).scalar_one()
        assert child == "Cloud Tenant"
        # Each offering's provider (SPEC 9): Gamma Cloud offers them all in the recording.
        providers = session.execute(
            text("SELECT DISTINCT c.name FROM offerings o JOIN customers c "
                 "ON c.uuid = o.customer_uuid")
        ).scalars().all()  # fmt: skip
        assert providers == ["Gamma Cloud"]
        unset = session.execute(text("SELECT count(*) FROM offerings WHERE customer_uuid IS NULL"))
        assert unset.scalar_one() == 0
    assert result.fetched_rows == 8 + 3 + 3 + 5 + 7 + 7 + 6  # with the role grants
    # every list was read with page_size=300 and only the fields Herald uses
    for path, query in waldur.requests:
        assert ("page_size", "300") in query, path
        fields = {v for k, v in query if k == "field"}
        assert "uuid" in fields and len(fields) <= 9, (path, fields)


@pytest.mark.parametrize("recording", sorted(p.name for p in RECORDINGS.glob("recipients__*.json")))
def test_audiences_match_waldurs_own_answers(
    db: Database, database_url: str, waldur: FakeWaldur, recording: str
) -> None:
    """Herald names exactly the people Waldur named, except users with an empty
    e-mail: Waldur lists them, Herald never does (SPEC 2.2)."""
    run_sync(_settings(database_url, waldur), database=db)
    recorded = json.loads((RECORDINGS / recording).read_text())
    if recorded["status"] != 200 or any(k == "page_size" for k, _ in recorded["query"]):
        pytest.skip("a 400 (Herald accepts comma-separated lists, SPEC 3.6) or one page of a list")
    waldur_people = {r["full_name"]: r["email"] for r in recorded["body"]}
    herald_people = _recipients(db, recorded["query"])
    no_email = {name for name, email in waldur_people.items() if not email}
    assert {n: e for n, e in waldur_people.items() if e} == herald_people
    # the one deliberate difference: Erin (empty e-mail) is in Waldur's answers, never Herald's
    assert no_email <= {"Erin Noemail"}
    assert "Erin Noemail" not in herald_people
    if recording == "recipients__customers_alpha.json":
        assert no_email == {"Erin Noemail"}


def test_parity_cases_named(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    run_sync(_settings(database_url, waldur), database=db)
    alpha = _recipients(db, [("customers", ALPHA)])
    assert "Dave Inactive" not in alpha  # inactive
    assert "Frank Member" not in alpha  # his Alpha Teaching membership was revoked
    beta = _recipients(db, [("customers", "0ace83bf43d2440daa40b07481f9af7e")])
    assert "Gina Removedproject" not in beta  # her project was removed
    # a parent offering reaches the resources of its child (alpha-volume on Cloud Volumes)
    recorded = json.loads(
        (RECORDINGS / "recipients__offerings_hpc_and_cloud_tenant.json").read_text()
    )
    tenant = [v for k, v in recorded["query"] if k == "offerings"]
    reached = _recipients(db, [("offerings", tenant[1])])
    assert "Erin Noemail" not in reached and reached  # Alpha Teaching's people, by e-mail


def test_pages_are_followed(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    run_sync(_settings(database_url, waldur), database=db, page_size=3)
    pages = [dict(q).get("page") for path, q in waldur.requests if path == "/api/users/"]
    assert pages == [None, "2", "3"]
    with db.transaction(write=False) as session:
        assert counts(session)["users"] == 8


def test_an_expired_role_does_not_count(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    for user in waldur.collections["/api/users/"]:
        if user["username"] == "bob":
            for permission in user["permissions"]:
                permission["expiration_time"] = "2020-01-01T00:00:00Z"
    result = run_sync(_settings(database_url, waldur), database=db)
    assert result.skipped["role grants that have expired"] >= 2
    assert "Bob Manager" not in _recipients(db, [("customers", ALPHA)])


def test_an_address_herald_cannot_mail_keeps_the_user_without_it(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    """The sync reads addresses with the import's reader; one refused address does not
    stop the sync: its user stays (signing in, holding roles) with no address."""
    for user in waldur.collections["/api/users/"]:
        if user["username"] == "bob":
            user["email"] = "böb@example.com"
    result = run_sync(_settings(database_url, waldur), database=db)
    assert result.skipped["addresses refused (users kept without one)"] == 1
    assert "Bob Manager" not in _recipients(db, [("customers", ALPHA)])
    with db.transaction(write=False) as session:
        row = session.execute(
            text("SELECT email, is_active FROM users WHERE username = 'bob'")
        ).one()
    assert tuple(row) == ("", True)


def test_preferred_languages_come_from_waldur_and_a_bad_one_is_refused_alone(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    """SPEC 2.3 and 5.1: a user's preferred_language is synced, lower-cased (Waldur
    may store "pt-BR"); one Herald cannot read keeps its user, without a language."""
    languages = {"bob": "pt-BR", "alice": "et", "dave": "not a tag!"}
    for user in waldur.collections["/api/users/"]:
        if user["username"] in languages:
            user["preferred_language"] = languages[user["username"]]
    result = run_sync(_settings(database_url, waldur), database=db)
    assert result.skipped["languages refused (users kept without one)"] == 1
    with db.transaction(write=False) as session:
        rows = dict(
            session.execute(text("SELECT username, preferred_language FROM users")).tuples().all()
        )
    assert (rows["bob"], rows["alice"], rows["dave"]) == ("pt-br", "et", "")
    assert set(rows.values()) <= {"", "pt-br", "et"}


def test_an_offering_of_a_provider_waldur_did_not_list_is_kept_without_one(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    for offering in waldur.collections["/api/marketplace-provider-offerings/"]:
        offering["customer_uuid"] = "f" * 32
    result = run_sync(_settings(database_url, waldur), database=db)
    assert result.skipped["offering providers Waldur did not list"] == 5
    with db.transaction(write=False) as session:
        rows = session.execute(text("SELECT count(*) FROM offerings WHERE customer_uuid IS NULL"))
        assert rows.scalar_one() == 5


def test_a_sync_that_removes_someone(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    settings = _settings(database_url, waldur)
    run_sync(settings, database=db)
    assert "Bob Manager" in _recipients(db, [("customers", ALPHA)])
    waldur.collections["/api/users/"] = [
        u for u in waldur.collections["/api/users/"] if u["username"] != "bob"
    ]
    result = run_sync(settings, database=db)
    assert result.report.sections["users"].removed == 1
    assert "Bob Manager" not in _recipients(db, [("customers", ALPHA)])
    assert "Bob Manager" not in _emails_by_name(db)


def test_a_mass_removal_is_refused_unless_allowed(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    settings = _settings(database_url, waldur)
    run_sync(settings, database=db)
    waldur.collections["/api/users/"] = []  # a token that suddenly sees nobody
    with pytest.raises(MassRemoval, match="remove 8 of 8 users"):
        run_sync(settings, database=db)
    with db.transaction(write=False) as session:
        assert counts(session)["users"] == 8
    run_sync(settings, database=db, allow_mass_removal=True)
    with db.transaction(write=False) as session:
        assert counts(session)["users"] == 0


def test_dry_run_writes_nothing(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    result = run_sync(_settings(database_url, waldur), database=db, dry_run=True)
    assert result.report.dry_run and result.report.sections["users"].added == 8
    with db.transaction(write=False) as session:
        assert sum(counts(session).values()) == 0
        assert session.execute(text("SELECT count(*) FROM job_runs")).scalar_one() == 0


def _unchanged_after(db: Database, database_url: str, waldur: FakeWaldur, match: str) -> None:
    settings = _settings(database_url, waldur)
    with db.transaction(write=False) as session:
        before = counts(session)
    with pytest.raises(WaldurError, match=match):
        run_sync(settings, database=db)
    with db.transaction(write=False) as session:
        assert counts(session) == before


def test_a_wrong_token_is_one_clear_line(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    run_sync(_settings(database_url, waldur), database=db)
    waldur.token = "another"
    _unchanged_after(db, database_url, waldur, r"Waldur refused the token \(401\)")
    waldur.token = TOKEN
    waldur.refuse = 403
    _unchanged_after(db, database_url, waldur, "must belong to a staff user")


def test_a_url_that_is_not_a_waldur(db: Database, database_url: str, waldur: FakeWaldur) -> None:
    waldur.not_json = True
    _unchanged_after(db, database_url, waldur, "is HERALD_WALDUR_URL a Waldur")
    waldur.not_json = False
    waldur.collections.pop("/api/marketplace-resources/")
    _unchanged_after(db, database_url, waldur, r"does not exist \(404\)")


def test_5xx_and_dropped_connections_are_retried(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    waldur.failures = [502, 503, 500]
    waits: list[float] = []
    with WaldurClient(waldur.url, TOKEN, sleep=waits.append) as client:
        result = sync(db, client)
    assert result.report.sections["users"].added == 8
    assert waits == [1.0, 2.0, 4.0]
    waldur.failures = [500] * 10
    with db.transaction(write=False) as session:
        before = counts(session)
    with (
        WaldurClient(waldur.url, TOKEN, sleep=waits.append) as client,
        pytest.raises(WaldurError, match="gave up after 5 tries"),
    ):
        sync(db, client)
    with (
        WaldurClient("http://127.0.0.1:9", TOKEN, sleep=waits.append) as client,
        pytest.raises(WaldurError, match="cannot reach Waldur"),
    ):
        sync(db, client)
    with db.transaction(write=False) as session:
        assert counts(session) == before


def test_the_command_prints_a_summary_or_one_line(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    env = {"HERALD_WALDUR_URL": waldur.url + "/api/", "HERALD_WALDUR_TOKEN": TOKEN}
    result = herald(database_url, "directory", "sync", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "would change (dry run" in result.stdout and "users: 8 added" in result.stdout
    done = herald(database_url, "directory", "sync", env=env)
    assert "users: 8 added" in done.stdout and "39 directory rows from Waldur" in done.stdout
    bad = herald(database_url, "directory", "sync", env={**env, "HERALD_WALDUR_TOKEN": "nope"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: Waldur refused the token (401): check HERALD_WALDUR_TOKEN (a staff user's API "
        "token, from Waldur's user profile)"
    ]


def test_periodic_sync_runs_in_one_process_at_a_time(
    db: Database, database_url: str, waldur: FakeWaldur, api: Any
) -> None:
    settings = _settings(database_url, waldur, sync_interval=60)
    from herald.core.clock import utc_now

    now = utc_now()
    from datetime import timedelta

    with db.transaction() as session:
        assert jobs.try_lock(session, jobs.Job.DIRECTORY_SYNC, now, now + timedelta(minutes=5))
    assert periodic_sync(settings, db) is False  # another process holds it
    with db.transaction() as session:
        jobs.unlock(session, jobs.Job.DIRECTORY_SYNC)
    assert periodic_sync(settings, db) is True
    status = api.get("/api/directory/status/").json()
    assert status["ok"] is True and status["configured"] is False  # the API server's own settings
    assert status["detail"]["sections"]["users"]["added"] >= 8
    metrics = api.get("/metrics").text
    assert 'herald_job_last_success_age_seconds{job="directory_sync"}' in metrics
    assert 'herald_job_last_run_failed{job="directory_sync"} 0.0' in metrics
    assert 'herald_job_last_duration_seconds{job="directory_sync"}' in metrics
    assert 'herald_directory_rows{section="users"}' in metrics


def test_the_delivery_process_syncs_periodically(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    from tests.delivery.helpers import WorkerThread, settings_for, wait_for

    settings = settings_for(
        database_url, "file:///tmp/herald-test-outbox", waldur_url=waldur.url,
        waldur_token=TOKEN, sync_interval=0.3,
    )  # fmt: skip

    def synced_twice() -> bool:
        return sum(1 for path, _ in waldur.requests if path == "/api/users/") >= 2

    with WorkerThread(settings):
        wait_for(synced_twice, 30, "two periodic syncs")
    with db.transaction(write=False) as session:
        assert counts(session)["users"] == 8
        run = jobs.runs(session)["directory_sync"]
    assert run.last_success is not None and run.detail["sections"]["users"]["unchanged"] == 8


def test_a_synced_user_who_leaves_or_is_made_inactive_loses_api_access(
    db: Database, database_url: str, waldur: FakeWaldur, anonymous: Any
) -> None:
    """Leaving means leaving (SPEC 8): removed from Waldur, or inactive there, and the
    Herald token of that user is refused at the next sync; they stay as an author."""
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    settings = _settings(database_url, waldur)
    run_sync(settings, database=db)
    users = waldur.collections["/api/users/"]
    leaving, deactivated = users[0], users[1]
    keys = {}
    with db.transaction() as session:
        for person in (leaving, deactivated):
            user = find_user_by_email(session, person["email"])
            assert user is not None
            user.is_staff = True  # made staff in Herald, say
            keys[person["email"]] = create_token(session, user)
    for key in keys.values():
        answer = anonymous.get(
            "/api/broadcast-messages/", headers={"Authorization": f"Token {key}"}
        )
        assert answer.status_code == 200

    waldur.collections["/api/users/"] = [u for u in users if u is not leaving]
    deactivated["is_active"] = False
    result = run_sync(settings, database=db)
    assert result.report.left == [leaving["email"]]
    for email, key in keys.items():
        answer = anonymous.get(
            "/api/broadcast-messages/", headers={"Authorization": f"Token {key}"}
        )
        assert answer.status_code == 401, email
    with db.transaction(write=False) as session:
        kept = find_user_by_email(session, leaving["email"])
        assert kept is not None and not kept.is_active  # kept as an author, inactive


def test_a_sync_is_on_the_audit_trail_with_what_it_changed(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    run_sync(_settings(database_url, waldur), database=db)
    result = herald(database_url, "directory", "sync", env={
        "HERALD_WALDUR_URL": waldur.url, "HERALD_WALDUR_TOKEN": TOKEN})  # fmt: skip
    assert result.returncode == 0, result.stderr
    with db.transaction(write=False) as session:
        rows = session.execute(
            text(
                "SELECT user_full_name, detail FROM audit_entries WHERE action = 'directory.sync' "
                "ORDER BY id"
            )  # fmt: skip
        ).all()
    assert [r[0] for r in rows] == ["the periodic directory sync", "the operator"]
    assert json.loads(rows[0][1])["changes"]["users"]["added"] == 8
    assert json.loads(rows[1][1])["changes"] == {}
