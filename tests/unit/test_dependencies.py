"""Every package Herald's code imports is declared in pyproject.toml: a fresh install
of Herald alone (no test tools) has everything it runs on."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_level(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["dependencies"]
    }


def test_every_imported_package_is_declared() -> None:
    third_party = _imported_top_level(ROOT / "src" / "herald") - set(sys.stdlib_module_names)
    third_party.discard("herald")
    distributions = packages_distributions()
    declared = _declared()
    missing = {
        module: distributions.get(module, ["?"])
        for module in sorted(third_party)
        if not any(d.lower().replace("_", "-") in declared for d in distributions.get(module, []))
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
