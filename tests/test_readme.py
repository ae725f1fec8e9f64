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


SOURCE = README.parent / "src" / "herald"


def _section(title: str) -> str:
    text = README.read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_layout_names_every_package_and_module() -> None:
    """Issue 23: the layout omitted bounces, suppressions and audit and misplaced two
    files. Every package of src/herald, and every module in it, is where the README
    says, under its package's line."""
    layout = _section("How it works").split("```\n", 2)[1]
    blocks: dict[str, str] = {}
    current = ""
    for line in layout.splitlines():
        head = (
            line[2:].split(" ", 1)[0]
            if line.startswith("  ") and not line.startswith("   ")
            else ""
        )
        if head.endswith("/"):
            current = head.rstrip("/")
        blocks[current] = blocks.get(current, "") + line + "\n"
    for package in sorted(p for p in SOURCE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        name = "web" if package.name == "web" else package.name
        key = "web/static" if name == "web" else name
        assert key in blocks, f"{key}/ is not in the README's layout"
        files = (package / "static").rglob("*.js") if name == "web" else package.glob("*.py")
        for module in files:
            # A screen is named by what it shows ("compose"), under screens/.
            named = module.stem if module.parent.name == "screens" else module.name
            if module.name != "__init__.py":
                assert named in blocks[key], f"{module.relative_to(SOURCE)} is not under {key}/"


def test_using_it_names_every_command() -> None:
    """Every command `herald --help` lists, and each command of each group."""
    from typer.main import get_command

    from herald.entry.cli import app

    using = _section("Using it").split("```sh\n", 1)[1].split("```", 1)[0]
    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        for full in [f"{name} {sub}" for sub in subcommands] if subcommands else [name]:
            assert f"herald {full}" in using, f"`herald {full}` is not in the README's Using it"
