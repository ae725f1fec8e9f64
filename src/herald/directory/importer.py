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
class SectionChanges:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import changed (or, for a dry run, would change), per section."""

    sections: dict[str, SectionChanges] = field(default_factory=dict)
    kept_operators: int = 0  # Herald's own, never named by an import
    left: list[str] = field(default_factory=list)  # token holders kept inactive: who left
    dry_run: bool = False

    def summary(self) -> str:
        lines = []
        for section in SECTIONS:
            if section not in self.sections:
                continue
            c = self.sections[section]
            lines.append(
                f"  {section}: {c.added} added, {c.changed} changed, {c.removed} removed, "
                f"{c.unchanged} unchanged"
            )
        head = "would change (dry run, nothing written):" if self.dry_run else "imported:"
        text = "\n".join([head, *lines])
        if self.kept_operators:
            text += (
                f"\n  kept {self.kept_operators} of Herald's own operators "
                "(made by `herald create-staff`, named by no import)"
            )
        if self.left:
            text += (
                f"\n  {len(self.left)} users not in the file held API tokens: kept as inactive "
                f"authors of past records, their tokens no longer work ({', '.join(self.left)})"
            )
        return text

    def removed(self, section: str) -> int:
        return self.sections[section].removed if section in self.sections else 0


@dataclass
class _Plan:
    """The rows to write and the keys to remove, per section."""

    writes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removals: dict[str, set[Any]] = field(default_factory=dict)
    # Users who left the portal but hold tokens: kept, inactive (SPEC 8).
    deactivations: set[str] = field(default_factory=set)


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


def check_document(
    session: Session, document: Any, replace: bool, consume: bool = False
) -> Directory:
    """The checked directory. References may point at rows already in the database,
    except, with --replace, into a section the file replaces."""
    present = {
        section for section in SECTIONS if isinstance(document, dict) and section in document
    }

    def known(section: str, uuids: set[str]) -> set[str]:
        if replace and section in present:
            return set()
        return repository.existing_uuids(session, section, uuids)

    return parse_directory(document, known, consume=consume)


def _stored_form(section: str, row: dict[str, Any]) -> dict[str, Any]:
    if section == "customers":
        return {**row, "notification_emails": orjson.dumps(row["notification_emails"]).decode()}
    if section == "users":
        # A user the portal names is the portal's, even one `create-staff` made first.
        return {**row, "local": False}
    return row


def _plan(session: Session, directory: Directory, replace: bool, report: ImportReport) -> _Plan:
    """Compare the file with the database: what is new, what differs, what goes."""
    plan = _Plan()
    for section in SECTIONS:
        if section not in directory.present:
            continue
        position, current = repository.rows_by_key(session, section)
        writes = []
        changes = SectionChanges()
        named = set()
        for row in directory.rows[section]:
            stored = _stored_form(section, row)
            key = row_key(section, row)
            named.add(key)
            before = current.get(key)
            if before is None:
                changes.added += 1
                writes.append(stored)
            elif any(before[position[column]] != value for column, value in stored.items()):
                changes.changed += 1
                writes.append(stored)
            else:
                changes.unchanged += 1
        if section == "offerings":
            writes = offerings_parents_first(writes)
        plan.writes[section] = writes
        if replace:
            doomed = set(current) - named
            if section == "users" and doomed:
                # Herald's own operators are not in the portal's export: they stay.
                operators = doomed & repository.local_users(session)
                report.kept_operators = len(operators)
                # Whoever else the portal no longer names has left: a token holder
                # is kept, inactive, as the author of what they did; the rest go.
                leaving = (doomed - operators) & repository.users_holding_tokens(session)
                plan.deactivations = leaving
                # Reported once, when they leave (later runs find them inactive already).
                report.left = sorted(
                    str(current[uuid][position["email"]]) or uuid
                    for uuid in leaving
                    if current[uuid][position["is_active"]]
                )
                doomed -= operators | leaving
            plan.removals[section] = doomed
            changes.removed = len(doomed)
        report.sections[section] = changes
    return plan


def plan_directory(
    session: Session, directory: Directory, replace: bool
) -> tuple[_Plan, ImportReport]:
    """What writing this directory would change, per section; writes nothing."""
    report = ImportReport()
    return _plan(session, directory, replace, report), report


def write_plan(session: Session, plan: _Plan, progress: Progress | None = None) -> None:
    """Write what differs (parents before children), then remove what a replace omits."""
    for section in SECTIONS:
        rows = plan.writes.get(section, [])
        for start in range(0, len(rows), repository.CHUNK):
            chunk = rows[start : start + repository.CHUNK]
            repository.upsert(session, section, chunk)
            if progress:
                progress(len(chunk))
    # Children first, so nothing is removed by a cascade the report does not count.
    for section in reversed(SECTIONS):
        if plan.removals.get(section):
            repository.delete_keys(session, section, plan.removals[section])
    repository.deactivate_users(session, plan.deactivations)


def write_directory(
    session: Session,
    directory: Directory,
    replace: bool,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Write what differs and, with `replace`, remove what the file omits from the
    sections it names. A dry run only reports."""
    plan, report = plan_directory(session, directory, replace)
    report.dry_run = dry_run
    if not dry_run:
        write_plan(session, plan, progress)
    return report


def import_document(
    session: Session,
    document: Any,
    replace: bool = False,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    directory = check_document(session, document, replace)
    return write_directory(session, directory, replace, progress, dry_run)
