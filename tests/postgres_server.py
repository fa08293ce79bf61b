"""A real PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` into a temporary directory.

The server is Debian's (package ``postgresql``; ``scripts/test.sh`` installs it where it may),
found on PATH or under /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root,
so under root it runs as the ``postgres`` user (or ``nobody``), which owns the directory. It
listens on 127.0.0.1 on a free port and on a Unix socket in its directory, with fsync on (the
tests that kill a bridge rely on durability, as production does); each test gets a database
of its own. Where no server can be found the tests that need one skip, except under CI, where
they fail with the reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "fixbridge"
START_TIMEOUT_S = 60


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries here (say which package would bring them)."""


def server_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then the newest version
    under /usr/lib/postgresql."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
    )
    if not versions:
        raise PostgresUnavailable(
            "no PostgreSQL server (initdb, pg_ctl): install Debian's postgresql package"
        )
    return versions[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root, and neither a postgres nor a nobody user exists")


@dataclass
class PostgresServer:
    """One running server; :meth:`database` makes a fresh database and its DSN."""

    root: Path
    port: int
    binaries: Path
    user: pwd.struct_passwd | None
    _databases: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.binaries / args[0]), *args[1:]],
            capture_output=True, text=True, timeout=timeout, cwd=self.root,
            **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
            )

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync",
        )  # fmt: skip
        options = " ".join([
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.root}",
            "-c fsync=on",
            "-c max_connections=60",
            "-c shared_buffers=32MB",
        ])  # fmt: skip
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t",
            str(START_TIMEOUT_S), "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)

    def database(self) -> str:
        """A new, empty database; its DSN."""
        import psycopg

        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # a generated name, not input
        return self.dsn(name)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a server in a new private directory; stop it and remove the directory after."""
    binaries = server_binaries()
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="fixbridge-pg-"))
    try:
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        root.chmod(0o700)
        server = PostgresServer(root, _free_port(), binaries, user)
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
