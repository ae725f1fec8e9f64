"""`herald directory import FILE [--replace]` (SPEC 5), through the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.core.db import Database
from herald.directory.repository import counts
from tests.cli import herald
from tests.conftest import EXAMPLE_DIRECTORY, SHARED_EXAMPLE
from tests.factories import DirectoryBuilder, uid


def _counts(db: Database) -> dict[str, int]:
    with db.transaction(write=False) as session:
        return counts(session)


def _write(tmp_path: Path, document: Any, name: str = "directory.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


EXAMPLE_COUNTS = {
    "users": 10,
    "customers": 2,
    "projects": 3,
    "offerings": 3,
    "resources": 3,
    "customer_roles": 2,
    "project_roles": 5,
}


def test_example_directory_imports_cleanly_and_idempotently(
    db: Database, database_url: str
) -> None:
    first = herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    assert first.returncode == 0, first.stderr
    assert "users: 10 added, 0 changed, 0 removed" in first.stdout
    assert "customers: 2 added" in first.stdout and "projects: 3 added" in first.stdout
    assert _counts(db) == EXAMPLE_COUNTS
    again = herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    assert again.returncode == 0, again.stderr
    assert _counts(db) == EXAMPLE_COUNTS
    assert "users: 0 added, 0 changed, 0 removed, 10 unchanged" in again.stdout


@pytest.mark.skipif(not SHARED_EXAMPLE.exists(), reason="no ../shared beside this checkout")
def test_the_shared_example_is_the_one_tested_and_imports(db: Database, database_url: str) -> None:
    assert json.loads(SHARED_EXAMPLE.read_text()) == json.loads(EXAMPLE_DIRECTORY.read_text())
    result = herald(database_url, "directory", "import", str(SHARED_EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert _counts(db) == EXAMPLE_COUNTS


def test_import_updates_rows_by_uuid(db: Database, database_url: str, tmp_path: Path) -> None:
    d = DirectoryBuilder()
    d.user("ann", "ann@example.org", full_name="Ann Old")
    d.customer("Org", ["ops@org.example"])
    herald(database_url, "directory", "import", str(_write(tmp_path, d.doc)))
    d.doc["users"][0]["full_name"] = "Ann New"
    d.doc["users"][0]["is_active"] = False
    d.doc["customers"][0]["notification_emails"] = []
    result = herald(database_url, "directory", "import", str(_write(tmp_path, d.doc)))
    assert result.returncode == 0, result.stderr
    with db.transaction(write=False) as session:
        from herald.core.models import Customer, User

        user = session.get(User, uid("user", "ann"))
        customer = session.get(Customer, uid("customer", "Org"))
        assert user is not None and customer is not None
        assert (user.full_name, user.is_active) == ("Ann New", False)
        assert customer.notification_emails == "[]"


def test_every_problem_is_named_and_nothing_is_written(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"][2]["email"] = "not-an-address"
    document["users"][4]["is_active"] = "yes"
    document["users"][5]["preferred_language"] = "english"
    document["customers"][1]["notification_emails"] = ["ok@x.example", "bad address"]
    document["projects"][0]["customer"] = "0" * 32
    document["resources"][1]["state"] = "Deleted"
    document["project_roles"][0]["role"] = "boss"
    document["offerings"].append(dict(document["offerings"][0]))
    document["users"][0]["nickname"] = "al"
    del document["customers"][0]["name"]
    document["groups"] = []
    result = herald(database_url, "directory", "import", str(_write(tmp_path, document)))
    assert result.returncode == 2
    assert "nothing was written" in result.stderr
    for expected in (
        "users[2].email: 'not-an-address': Enter a valid email address.",
        "users[4].is_active: expected true or false",
        "users[5].preferred_language: 'english' is not a language tag such as et, pt-br",
        "customers[1].notification_emails: item 1 'bad address'",
        "resources[1].state: 'Deleted' is not one of",
        "project_roles[0].role: 'boss' is not one of admin, manager, member",
        "offerings[3]: repeats the uuid of offerings[0]",
        "users[0].nickname: unknown field",
        "customers[0].name: this field is required",
        "groups: unknown section",
    ):
        assert expected in result.stderr, expected
    assert sum(_counts(db).values()) == 0


def test_dangling_references_are_named(db: Database, database_url: str, tmp_path: Path) -> None:
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["projects"][0]["customer"] = "0" * 32
    document["customer_roles"][1]["user"] = "1" * 32
    document["offerings"][0]["customer"] = "2" * 32  # its provider (SPEC 9)
    result = herald(database_url, "directory", "import", str(_write(tmp_path, document)))
    assert result.returncode == 2
    assert f"projects[0].customer: no customer {'0' * 32}" in result.stderr
    assert f"offerings[0].customer: no customer {'2' * 32}" in result.stderr
    assert f"customer_roles[1].user: no user {'1' * 32}" in result.stderr
    assert sum(_counts(db).values()) == 0


def test_references_may_point_at_rows_already_imported(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    d = DirectoryBuilder()
    org = d.customer("Org")
    herald(database_url, "directory", "import", str(_write(tmp_path, d.doc, "a.json")))
    later = DirectoryBuilder()
    later.project("P", org)
    result = herald(database_url, "directory", "import", str(_write(tmp_path, later.doc, "b.json")))
    assert result.returncode == 0, result.stderr
    assert _counts(db)["projects"] == 1
    # ...but not with --replace, which removes what the file does not name
    replaced = herald(
        database_url, "directory", "import", "--replace", str(_write(tmp_path, later.doc, "b.json"))
    )
    assert replaced.returncode == 2
    assert f"projects[0].customer: no customer {org}" in replaced.stderr


def test_replace_removes_what_the_file_does_not_name_but_keeps_heralds_own_operators(
    db: Database, database_url: str, tmp_path: Path, staff: dict[str, str]
) -> None:
    herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"] = document["users"][:-1]  # drop "lone"
    document["resources"] = document["resources"][:1]
    document["project_roles"] = document["project_roles"][:2]
    result = herald(
        database_url, "directory", "import", "--replace", str(_write(tmp_path, document))
    )
    assert result.returncode == 0, result.stderr
    assert "users: 0 added, 0 changed, 1 removed, 9 unchanged" in result.stdout
    assert "resources: 0 added, 0 changed, 2 removed, 1 unchanged" in result.stdout
    assert "project_roles: 0 added, 0 changed, 3 removed, 2 unchanged" in result.stdout
    assert "kept 1 of Herald's own operators" in result.stdout
    after = _counts(db)
    assert after["users"] == 10  # 9 named + the operator `create-staff` made
    assert after["resources"] == 1 and after["project_roles"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"users": [', "not valid JSON"),
        ("[]", "the file must hold a JSON object"),
        ('{"users": {}}', "users: expected a list"),
        ('{"users": [1]}', "users[0]: expected an object"),
    ],
)
def test_unreadable_files_are_clear_errors(
    db: Database, database_url: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = herald(database_url, "directory", "import", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_clear_error(db: Database, database_url: str, tmp_path: Path) -> None:
    result = herald(database_url, "directory", "import", str(tmp_path / "none.json"))
    assert result.returncode != 0
    assert "none.json" in result.stderr and "Traceback" not in result.stderr


def test_offering_parents_may_come_after_their_children_in_the_file(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    d = DirectoryBuilder()
    parent = uid("offering", "parent")
    d.offering("child", parent=parent)
    d.offering("parent")
    result = herald(database_url, "directory", "import", str(_write(tmp_path, d.doc)))
    assert result.returncode == 0, result.stderr
    cyclic = DirectoryBuilder()
    cyclic.offering("a", parent=uid("offering", "b"))
    cyclic.offering("b", parent=uid("offering", "a"))
    result = herald(database_url, "directory", "import", str(_write(tmp_path, cyclic.doc)))
    assert result.returncode == 2 and "parent cycle" in result.stderr


def test_text_no_database_can_store_is_named(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    nul = tmp_path / "nul.json"
    nul.write_text('{"users": [{"uuid": "' + "a" * 32 + '", "full_name": "A\\u0000B"}]}')
    result = herald(database_url, "directory", "import", str(nul))
    assert result.returncode == 2
    assert "users[0].full_name: contains a NUL character" in result.stderr
    surrogate = tmp_path / "surrogate.json"
    surrogate.write_text('{"customers": [{"uuid": "' + "b" * 32 + '", "name": "\\ud800"}]}')
    result = herald(database_url, "directory", "import", str(surrogate))
    assert result.returncode == 2
    assert "not valid JSON: no low surrogate" in result.stderr
    assert sum(_counts(db).values()) == 0


def test_replace_replaces_only_the_sections_the_file_names(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """Before, a file holding only users emptied every other section."""
    herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    only_users = {"users": document["users"]}
    only_users["users"][0]["full_name"] = "Renamed"
    result = herald(
        database_url, "directory", "import", "--replace", str(_write(tmp_path, only_users))
    )
    assert result.returncode == 0, result.stderr
    assert "users: 0 added, 1 changed, 0 removed, 9 unchanged" in result.stdout
    assert "customers" not in result.stdout
    assert _counts(db) == EXAMPLE_COUNTS


def test_dry_run_shows_the_changes_and_writes_nothing(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"] = document["users"][1:]
    document["users"][0]["email"] = "changed@example.org"
    d = DirectoryBuilder()
    d.user("newcomer", "new@example.org")
    document["users"].append(d.doc["users"][0])
    path = _write(tmp_path, {"users": document["users"]})
    before = _counts(db)
    result = herald(database_url, "directory", "import", "--replace", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert "would change (dry run, nothing written)" in result.stdout
    assert "users: 1 added, 1 changed, 1 removed, 8 unchanged" in result.stdout
    assert _counts(db) == before
    with db.transaction(write=False) as session:
        from herald.directory.repository import find_user_by_email

        assert find_user_by_email(session, "new@example.org") is None


def test_role_grants_may_expire(db: Database, database_url: str, tmp_path: Path) -> None:
    d = DirectoryBuilder()
    org = d.customer("Org")
    stays = d.user("stays", "stays@example.org")
    left = d.user("left", "left@example.org")
    d.customer_role(stays, org, "owner")
    d.customer_role(left, org, "owner")
    d.doc["customer_roles"][0]["expires"] = "2999-01-01T00:00:00Z"
    d.doc["customer_roles"][1]["expires"] = "2020-01-01T00:00:00+02:00"
    result = herald(database_url, "directory", "import", str(_write(tmp_path, d.doc)))
    assert result.returncode == 0, result.stderr
    from herald.recipients.service import Audience
    from herald.recipients.targeting import Targeting

    with db.transaction(write=False) as session:
        emails = Audience(session, Targeting(customers=(org,)), None).addresses()
    assert emails == ["stays@example.org"]
    d.doc["customer_roles"][0]["expires"] = "next tuesday"
    bad = herald(database_url, "directory", "import", str(_write(tmp_path, d.doc)))
    assert bad.returncode == 2
    assert "customer_roles[0].expires: 'next tuesday' is not an ISO 8601" in bad.stderr


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_documented_examples_import(db: Database, database_url: str, tmp_path: Path) -> None:
    """docs/directory.md's example and docs/directory-example.json stay true."""
    page = (DOCS / "directory.md").read_text()
    example = page.split("```json\n", 1)[1].split("```", 1)[0]
    inline = herald(database_url, "directory", "import", str(_write(tmp_path, json.loads(example))))
    assert inline.returncode == 0, inline.stderr
    assert "project_roles: 1 added" in inline.stdout
    shipped = herald(database_url, "directory", "import", str(DOCS / "directory-example.json"))
    assert shipped.returncode == 0, shipped.stderr


def test_a_staff_member_who_left_the_portal_loses_access_at_once(
    db: Database,
    database_url: str,
    tmp_path: Path,
    staff: dict[str, str],
    anonymous: httpx.Client,
) -> None:
    """The offboarding case: import --replace of a file without a staff member who holds
    a Herald token; their token stops working, they stay as the author of their work."""
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    with db.transaction() as session:
        alice = find_user_by_email(session, "alice@uni.example")
        assert alice is not None and alice.is_staff
        key = create_token(session, alice)
    as_alice = {"Authorization": f"Token {key}"}
    made = anonymous.post(
        "/api/broadcast-messages/",
        json={"subject": "Alice's", "body": "b", "query": {"all_users": True}},
        headers=as_alice,
    )
    assert made.status_code == 201, made.text

    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"] = [u for u in document["users"] if u["email"] != "alice@uni.example"]
    for section in ("customer_roles", "project_roles"):
        document[section] = [g for g in document[section] if g["user"] != alice.uuid]
    result = herald(
        database_url, "directory", "import", "--replace", str(_write(tmp_path, document))
    )
    assert result.returncode == 0, result.stderr
    assert "1 users not in the file held API tokens" in result.stdout
    assert "alice@uni.example" in result.stdout

    refused = anonymous.get("/api/broadcast-messages/", headers=as_alice)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "User inactive or deleted."}
    # Kept only as the author of what she did.
    mine = anonymous.get(
        f"/api/broadcast-messages/{made.json()['uuid']}/",
        headers={"Authorization": f"Token {staff['token']}"},
    )
    assert mine.status_code == 200 and mine.json()["author_full_name"] == "Alice Andersen"
    with db.transaction(write=False) as session:
        kept = find_user_by_email(session, "alice@uni.example")
        assert kept is not None and not kept.is_active
    # Herald's own operator (the `staff` fixture, made by create-staff) keeps access;
    # a second import does not report Alice again.
    again = herald(
        database_url, "directory", "import", "--replace", str(_write(tmp_path, document, "c.json"))
    )
    assert "held API tokens" not in again.stdout


def test_preferred_languages_are_kept_lower_case(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """SPEC 2.3: tags compared without regard to case and kept lower-case; "" or a
    missing one is none."""
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"][0]["preferred_language"] = "pt-BR"
    document["users"][1]["preferred_language"] = " ET "
    document["users"][2]["preferred_language"] = ""
    result = herald(database_url, "directory", "import", str(_write(tmp_path, document)))
    assert result.returncode == 0, result.stderr
    with db.transaction(write=False) as session:
        from sqlalchemy import text

        found = dict(
            session.execute(text("SELECT uuid, preferred_language FROM users")).tuples().all()
        )
    users = document["users"]
    assert [found[u["uuid"]] for u in users[:4]] == ["pt-br", "et", "", ""]
