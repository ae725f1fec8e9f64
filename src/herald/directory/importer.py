"""`herald directory import FILE [--replace]`: check the whole file, then write it at once.

The caller holds the one transaction the whole import is written in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from herald.directory import repository
from herald.directory.schemas import (
    SECTIONS,
    Directory,
    DirectoryError,
    offerings_parents_first,
    parse_directory,
    row_key,
)

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    written: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    kept_token_holders: int = 0

    def summary(self) -> str:
        parts = [f"{self.written.get(s, 0)} {s}" for s in SECTIONS]
        text = "imported " + ", ".join(parts)
        removed = {s: n for s, n in self.removed.items() if n}
        if removed:
            text += "; removed " + ", ".join(f"{n} {s}" for s, n in removed.items())
        if self.kept_token_holders:
            text += (
                f"; kept {self.kept_token_holders} users not in the file because they hold "
                "API tokens"
            )
        return text


def read_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DirectoryError([f"{path}: cannot read the file ({exc.strerror})"]) from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # json's message names the line and column; orjson's only the byte.
        try:
            json.loads(raw)
        except ValueError as detailed:
            raise DirectoryError([f"{path}: not valid JSON: {detailed}"]) from exc
        raise DirectoryError([f"{path}: not valid JSON: {exc}"]) from exc


def check_document(session: Session, document: Any, replace: bool) -> Directory:
    """The checked directory; references may point at existing rows unless replacing."""
    known = (
        None
        if replace
        else (lambda section, uuids: repository.existing_uuids(session, section, uuids))
    )
    return parse_directory(document, known)


def write_directory(
    session: Session, directory: Directory, replace: bool, progress: Progress | None = None
) -> ImportReport:
    """Upsert every section (parents before children), then drop what a replace omits."""
    report = ImportReport()
    for section in SECTIONS:
        rows = directory.rows[section]
        if section == "offerings":
            rows = offerings_parents_first(rows)
        if section == "customers":
            rows = [
                {**row, "notification_emails": orjson.dumps(row["notification_emails"]).decode()}
                for row in rows
            ]
        for start in range(0, len(rows), repository.CHUNK):
            chunk = rows[start : start + repository.CHUNK]
            repository.upsert(session, section, chunk)
            if progress:
                progress(len(chunk))
        report.written[section] = len(rows)
    if replace:
        _remove_unnamed(session, directory, report)
    return report


def _remove_unnamed(session: Session, directory: Directory, report: ImportReport) -> None:
    # Children first, so nothing is removed by a cascade the report does not count.
    for section in reversed(SECTIONS):
        named = {row_key(section, row) for row in directory.rows[section]}
        doomed = repository.all_keys(session, section) - named
        if section == "users":
            # Herald's own operators are usually not in the portal's export:
            # removing them would lock staff out of the API they are using.
            keep = doomed & repository.users_holding_tokens(session)
            report.kept_token_holders = len(keep)
            doomed -= keep
        report.removed[section] = repository.delete_keys(session, section, doomed)


def import_document(
    session: Session, document: Any, replace: bool = False, progress: Progress | None = None
) -> ImportReport:
    directory = check_document(session, document, replace)
    return write_directory(session, directory, replace, progress)
