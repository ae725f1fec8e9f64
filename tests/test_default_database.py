"""The default database is var/herald.db (SPEC 6), and an install upgraded from the
releases that misnamed it var/herald.core.db opens its own data, not an empty file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from herald.core.config import Settings
from tests.cli import HERALD


def _herald(
    cwd: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HERALD_DATABASE_URL"}
    if database_url is not None:
        env["HERALD_DATABASE_URL"] = database_url
    return subprocess.run(
        [str(HERALD), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_default_database_is_var_herald_db(tmp_path: Path) -> None:
    assert Settings.model_fields["database_url"].default == "sqlite:///./var/herald.db"
    (tmp_path / "var").mkdir()
    result = _herald(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "herald.db").exists()
    assert not (tmp_path / "var" / "herald.core.db").exists()


def _misnamed_install(tmp_path: Path) -> None:
    """What the misnamed releases left: a database with a staff token at var/herald.core.db."""
    (tmp_path / "var").mkdir()
    misnamed = "sqlite:///./var/herald.core.db"
    assert _herald(tmp_path, "migrate", database_url=misnamed).returncode == 0
    made = _herald(
        tmp_path, "create-staff", "--email", "ada@example.org", "--full-name", "Ada Ng",
        database_url=misnamed,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def test_an_upgraded_install_keeps_its_data(tmp_path: Path) -> None:
    _misnamed_install(tmp_path)
    listed = _herald(tmp_path, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ada@example.org" in listed.stdout  # its own data, not an empty database
    assert "moved the database var/herald.core.db to var/herald.db" in listed.stderr
    assert (tmp_path / "var" / "herald.db").exists()
    assert not (tmp_path / "var" / "herald.core.db").exists()
    # Once moved, nothing more is said.
    again = _herald(tmp_path, "tokens", "list")
    assert again.returncode == 0 and "moved" not in again.stderr


def test_two_databases_are_the_operators_call(tmp_path: Path) -> None:
    _misnamed_install(tmp_path)
    shutil.copy(tmp_path / "var" / "herald.core.db", tmp_path / "var" / "herald.db")
    refused = _herald(tmp_path, "tokens", "list")
    assert refused.returncode == 2
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1, refused.stderr
    assert "var/herald.db" in line and "var/herald.core.db" in line and "move" in line
    assert (tmp_path / "var" / "herald.core.db").exists()  # nothing moved or lost
    served = _herald(tmp_path, "serve", "--port", "1")
    assert served.returncode == 2 and "two databases" in served.stderr
