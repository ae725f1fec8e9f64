"""The OpenAPI document tells the truth: schemathesis with every check, on both databases.

`schemathesis run --checks all` against a live Herald with the example directory:
the examples, coverage, fuzzing and stateful phases (the stateful one follows
the document's links from a created message or template to everything that
can be done with it). Every answer must be documented (status, content type,
headers, body schema), valid input must be taken and invalid input refused,
auth must be required where the document says so, and no request may get a
500. The settings, and the 400s the SPEC asks for that no schema can express,
are in schemathesis.toml at the top of the repository, each with its reason.

One operation runs on its own: schemathesis 4.32.5 holds `PATCH
/api/broadcast-messages/{uuid}/` to the create operation's required keys
when both are in one run (a PATCH without a subject is called "invalid" and
its 200 a failure). So the first run leaves that one check off for that one
operation, and the second run gives it every check on a real draft.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from herald.core.db import Database
from tests.conftest import EXAMPLE_DIRECTORY, load_directory

ROOT = Path(__file__).resolve().parents[1]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
PATCH = "broadcast_messages_partial_update"


def _run(server_url: str, token: str, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run in the config's folder (a temporary one): schemathesis keeps a cache
    # where it runs, and the work tree stays clean.
    return subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{server_url}/api/schema/",
         "--header", f"Authorization: Token {token}", "--checks", "all",
         "--max-examples", "25", "--seed", "1", "--workers", "1", "--no-color", *args],
        capture_output=True, text=True, timeout=900, cwd=config.parent,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def _report(result: subprocess.CompletedProcess[str]) -> str:
    """What schemathesis found, without the kilobytes of generated input in each curl line."""
    lines = [line[:300] for line in result.stdout.splitlines()]
    return "\n".join(lines)[-8000:] + result.stderr[-2000:]


def test_schemathesis_finds_nothing_to_report(
    server_url: str, api: httpx.Client, staff: dict[str, str], db: Database, tmp_path: Path
) -> None:
    load_directory(db, json.loads(EXAMPLE_DIRECTORY.read_text()))
    base = (ROOT / "schemathesis.toml").read_text()

    everything = tmp_path / "everything.toml"
    everything.write_text(
        base + f'\n[[operations]]\ninclude-operation-id = "{PATCH}"\n'
        "checks.negative_data_rejection.enabled = false\n"
    )
    first = _run(server_url, staff["token"], everything)
    assert first.returncode == 0, _report(first)
    assert "✅ Stateful" in first.stdout, _report(first)  # run, and passed

    draft = api.post("/api/broadcast-messages/", json={"subject": "Draft", "body": "Hello"})
    patch_alone = tmp_path / "patch.toml"
    patch_alone.write_text(
        base + f'\n[[operations]]\ninclude-operation-id = "{PATCH}"\n'
        f'parameters = {{ "path.uuid" = "{draft.json()["uuid"]}" }}\n'
    )
    second = _run(
        server_url, staff["token"], patch_alone,
        "--include-operation-id", PATCH, "--phases", "examples,coverage,fuzzing",
    )  # fmt: skip
    assert second.returncode == 0, _report(second)
    assert "✅ Coverage" in second.stdout, _report(second)
