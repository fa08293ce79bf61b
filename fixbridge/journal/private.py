"""Files and directories the journal creates are private to the bridge's user.

The journal holds every order, account and ClOrdID the bridge has seen, so its directory is
made 0700 and its database, write-ahead log, shared-memory index, lock and backup files 0600,
whatever the process umask. SQLite gives a database's -wal and -shm files the mode of the
database file, so creating that file 0600 before SQLite opens it is what keeps the others
private. A directory that already exists belongs to the operator: it is never changed, only
reported when other users can enter it. Must never widen a mode, and never touch a file the
journal does not own.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("fixbridge.journal")

FILE_MODE = 0o600
DIR_MODE = 0o700
SIDE_FILES = ("-wal", "-shm")  # SQLite's, beside the database file


def private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700; an existing one open to other users gets
    a warning naming it."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, not ours
        os.chmod(directory, DIR_MODE)  # the umask may have taken bits away; never added
    if not missing and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "journal directory %s is open to other users (mode %o); chmod 700 it",
            path,
            stat.S_IMODE(path.stat().st_mode),
        )


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 if it does not exist; True when it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def tighten(path: Path) -> None:
    """Make an existing journal file 0600 if other users could read it (a journal written
    before files were created private); a missing file is fine."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, mode & ~(stat.S_IRWXG | stat.S_IRWXO))
        log.warning("journal file %s was readable by other users (mode %o); made 0600", path, mode)


def database_files(path: Path) -> list[Path]:
    """The database file and SQLite's side files beside it."""
    return [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)]
