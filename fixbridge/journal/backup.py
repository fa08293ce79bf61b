"""Online backup of a journal, and putting a backup back in its place.

``backup`` copies a journal while the bridge keeps running: SQLite's backup API on a read-only
connection copies one consistent snapshot in a single step (in WAL mode a reader never blocks
the bridge's writes, and a single step never restarts because of them). The copy is written
under a temporary name, private (0600), checked with SQLite's integrity check and fsynced
before it takes its final name, so a file with the backup's name is always a complete one.

``restore`` puts a checked backup in place of a journal no bridge has open (the lock file says
so), after moving the current files aside, never deleting them.

Must never write into a journal a bridge has open, never overwrite an existing file, and
never leave a partial copy under the final name.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from fixbridge.journal.integrity import structural_problems
from fixbridge.journal.private import create_private_file, database_files, private_directory
from fixbridge.journal.sqlite import SCHEMA_VERSION, LockFile
from fixbridge.journal.store import JournalError


@dataclass(frozen=True, slots=True)
class BackupSummary:
    path: Path
    size_bytes: int
    events: int
    head_offset: int
    sessions: int


def backup(journal: Path, out: Path) -> BackupSummary:
    """Copy ``journal`` (it may be in use) to ``out``, which must not exist."""
    if not journal.is_file():
        raise JournalError(f"no journal file at {journal}")
    if out.exists():
        raise JournalError(f"{out} exists already; a backup never overwrites a file")
    private_directory(out.parent)
    partial = out.with_name(out.name + ".partial")
    if not create_private_file(partial):
        raise JournalError(f"{partial} exists (another backup running, or one that failed)")
    try:
        try:
            summary, problems = _copy(journal, partial)
        except sqlite3.Error as exc:
            raise JournalError(f"backup of {journal} failed: {exc}") from exc
        if problems:
            raise JournalError(f"the copy of {journal} fails SQLite's check: {problems}")
        _fsync(partial)
        os.rename(partial, out)
        _fsync_directory(out.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupSummary(out, out.stat().st_size, *summary)


def restore(backup_file: Path, journal: Path, now_ns: int | None = None) -> Path | None:
    """Put ``backup_file`` in place of ``journal`` (no bridge may have it open). The current
    files are moved aside with a ``.before-restore-<time>`` suffix; returns the moved database's
    new path (None when there was no journal)."""
    check = check_backup(backup_file)
    if check:
        raise JournalError(f"{backup_file} is not a usable journal backup: {check}")
    private_directory(journal.parent)
    lock = LockFile(journal.with_name(journal.name + ".lock"))  # refuses a journal in use
    try:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime((now_ns or time.time_ns()) / 1e9))
        moved: Path | None = None
        for existing in database_files(journal):
            if existing.exists():
                aside = existing.with_name(f"{existing.name}.before-restore-{stamp}")
                os.rename(existing, aside)
                moved = aside if existing == journal else moved
        partial = journal.with_name(journal.name + ".partial")
        if not create_private_file(partial):
            raise JournalError(f"{partial} exists (a restore that failed?); remove it first")
        try:
            with open(backup_file, "rb") as src, open(partial, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            _mark_restored(partial, now_ns or time.time_ns())
            _fsync(partial)
            os.rename(partial, journal)
            _fsync_directory(journal.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return moved
    finally:
        lock.close()


def _mark_restored(path: Path, at_ns: int) -> None:
    """Note in the copy when it was restored: its first open marks every session's events
    made before then PossResend (``SqliteJournal._after_restore``)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('restored_at', ?)", (str(at_ns),)
        )
    finally:
        db.close()


def check_backup(path: Path) -> str | None:
    """Why ``path`` cannot be restored (None when it can): missing, damaged, or written by a
    fixbridge whose journal this one cannot read."""
    if not path.is_file():
        return "no such file"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problems = structural_problems(db, full=False)
            if problems:
                return "; ".join(problems)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return str(exc)
    if row is None or not str(row[0]).isdigit() or int(row[0]) > SCHEMA_VERSION:
        found = row[0] if row else "missing"
        return f"journal schema version {found} (this fixbridge reads up to {SCHEMA_VERSION})"
    return None


def _copy(journal: Path, partial: Path) -> tuple[tuple[int, int, int], list[str]]:
    """One consistent snapshot of ``journal`` into ``partial``: its summary and the copy's
    integrity problems (none, normally)."""
    source = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # one step: one consistent snapshot
            return _summary(target), structural_problems(target, full=False)
        finally:
            target.close()
    finally:
        source.close()


def _summary(db: sqlite3.Connection) -> tuple[int, int, int]:
    events, head = db.execute("SELECT COUNT(*), COALESCE(MAX(offset), 0) FROM events").fetchone()
    sessions = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    return int(events), int(head), int(sessions)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
