"""Run the real `herald` command against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERALD = Path(sys.executable).with_name("herald")


def herald(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(HERALD)] if HERALD.exists() else [sys.executable, "-m", "herald.entry.cli"]
    return subprocess.run(
        [*command, *args],
        env={**os.environ, "HERALD_DATABASE_URL": database_url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
