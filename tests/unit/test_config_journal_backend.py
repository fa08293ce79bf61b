"""[journal] backend and [ha]: what a config may say, and the errors for what it may not.

The rules: SQLite is the default and takes no database settings; PostgreSQL needs a libpq
DSN that holds no password (it comes from a file or an environment variable, and an error
never quotes it); [ha] needs the shared database and a lease that survives one late renewal
(ha/role.py's timing rule).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from fixbridge.config import ConfigError, parse_config
from fixbridge.pg import PasswordError, with_password

BASE = {"sessions": [{"name": "a", "sender_comp_id": "FB", "target_comp_id": "BO"}]}
DSN = "host=db1 port=5432 dbname=fixbridge user=fixbridge"


def config(**sections: object) -> dict[str, object]:
    return {**BASE, **sections}


def test_sqlite_is_the_default_and_postgresql_is_chosen_with_a_dsn() -> None:
    assert parse_config(config()).journal.backend == "sqlite"
    chosen = parse_config(config(journal={"backend": "postgresql", "dsn": DSN}))
    assert chosen.journal.backend == "postgresql" and chosen.journal.dsn == DSN
    both = parse_config(
        config(
            journal={"backend": "postgresql", "dsn": DSN, "password_env": "PGPW"},
            ha={"enabled": True, "name": "bridge-a"},
        )
    )
    assert both.ha.enabled and both.ha.lease_ttl_s == 4.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (config(journal={"dsn": DSN}), 'journal: dsn: only for backend = "postgresql"'),
        (
            config(journal={"backend": "postgresql"}),
            'journal: dsn is required with backend = "postgresql"',
        ),
        (
            config(journal={"backend": "postgresql", "dsn": "host=db1 password=Secret-9"}),
            "dsn must not hold the password: give it in password_file or password_env",
        ),
        (
            config(journal={"backend": "postgresql", "dsn": "not a dsn 'x"}),
            "the PostgreSQL DSN is not a valid libpq connection string",
        ),
        (
            config(
                journal={
                    "backend": "postgresql",
                    "dsn": DSN,
                    "password_file": "/p",
                    "password_env": "PGPW",
                }
            ),
            "set at most one of password_file and password_env",
        ),
        (config(ha={"enabled": True}), 'ha.enabled needs journal.backend = "postgresql"'),
        (
            config(journal={"backend": "postgresql", "dsn": DSN, "path": "j.db"}),
            'path: only for the SQLite journal, not with backend = "postgresql"',
        ),
        (
            config(
                journal={"backend": "postgresql", "dsn": DSN},
                ha={"enabled": True, "lease_ttl_s": 2.0, "renew_every_s": 1.0},
            ),
            "lease_ttl_s (2) must be at least twice renew_every_s (1) plus margin_s (1)",
        ),
    ],
)
def test_what_is_refused_is_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in str(caught.value)
    assert "Secret-9" not in str(caught.value)


def test_the_password_comes_from_a_file_or_the_environment_and_is_never_quoted(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "pg-password"
    secret.write_text("Pa55 word'\\n\n")
    os.chmod(secret, 0o600)
    from_file = conninfo_to_dict(with_password(DSN, secret, None))
    assert from_file["password"] == "Pa55 word'\\n" and from_file["host"] == "db1"
    from_env = conninfo_to_dict(with_password(DSN, None, "PGPW", {"PGPW": "env-pw"}))
    assert from_env["password"] == "env-pw"
    assert with_password(DSN, None, None) == DSN
    with pytest.raises(PasswordError, match=r"journal\.password_env: environment variable PGPW"):
        with_password(DSN, None, "PGPW", {})
    with pytest.raises(PasswordError, match=r"journal\.password_file: cannot read") as caught:
        with_password(DSN, tmp_path / "missing", None)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(PasswordError, match="the password is empty"):
        with_password(DSN, empty, None)
    assert "Pa55" not in str(caught.value)


def test_check_config_finds_a_password_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixbridge.cli import main

    config = tmp_path / "fixbridge.toml"
    config.write_text(
        '[journal]\nbackend = "postgresql"\n'
        f'dsn = "{DSN}"\npassword_file = "{tmp_path / "absent"}"\n'
        '[[sessions]]\nname = "a"\nsender_comp_id = "FB"\ntarget_comp_id = "BO"\n'
    )
    assert main(["check-config", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "journal.password_file: cannot read" in err and "No such file" in err
