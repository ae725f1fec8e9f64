"""The README works when followed: its Python client example runs, as written,
against the demo directory that `make run` loads."""

from __future__ import annotations

from pathlib import Path

from herald.core.db import Database
from herald.directory.demo import demo_directory
from tests.conftest import load_directory

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_client_example_runs_against_the_demo_data(
    db: Database,
    server_url: str,
    staff: dict[str, str],
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    load_directory(db, demo_directory())
    example = README.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert 'base_url="http://127.0.0.1:8000"' in example
    code = example.replace("http://127.0.0.1:8000", server_url)
    exec(compile(code, "README.md", "exec"), {"KEY": staff["token"]})  # noqa: S102
    printed = capsys.readouterr().out
    # the Physics Institute's people and the author (send_to_me), then the list
    assert "'olga@physics.example'" in printed and "'staff@herald.example'" in printed
    assert "Maintenance on Monday SENT" in printed
