"""Any setting can be given by the environment: FIXBRIDGE_SECTION__KEY (sections and keys joined
by a double underscore), a session by its name. Containers and systemd units supply secrets
that way without writing them into the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixbridge.config import ConfigError, load_config
from fixbridge.fix.credentials import hash_password

FILE = """
[fix]
port = 9878
[[sessions]]
name = "back-office.1"
sender_comp_id = "FB"
target_comp_id = "BO"
[[sessions]]
name = "ops"
sender_comp_id = "FB"
target_comp_id = "OPS"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "fixbridge.toml"
    path.write_text(FILE)
    return path


def test_overrides_reach_sections_nested_tables_and_one_session(config_file: Path) -> None:
    secret = hash_password("s3cret")
    environ = {
        "FIXBRIDGE_CONFIG": "/ignored/not/a/setting.toml",
        "FIXBRIDGE_FIX__PORT": "19878",
        "FIXBRIDGE_FIX__SOURCE_THROTTLE__LOCKOUT_S": "120",
        "FIXBRIDGE_UPSTREAM__TLS": "true",
        "FIXBRIDGE_JOURNAL__PATH": "/var/lib/fixbridge/journal.db",
        "FIXBRIDGE_SESSIONS__BACK_OFFICE_1__USERNAME": "bo-user",
        "FIXBRIDGE_SESSIONS__BACK_OFFICE_1__PASSWORD_HASH": secret,
        "FIXBRIDGE_SESSIONS__OPS__SCOPE__MESSAGE_KINDS": '["executions", "trades"]',
    }
    config = load_config(config_file, environ)
    assert config.fix.port == 19878
    assert config.fix.source_throttle.lockout_s == 120.0
    assert config.upstream.tls is True
    assert config.journal.path == Path("/var/lib/fixbridge/journal.db")
    first, ops = config.sessions
    assert (first.username, first.password_hash) == ("bo-user", secret)
    assert ops.username is None and ops.scope.message_kinds == ("executions", "trades")


def test_without_overrides_the_file_is_read_as_written(config_file: Path) -> None:
    assert load_config(config_file, {}).fix.port == 9878


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FIXBRIDGE_FIX__PROT": "1"}, "fix.prot: is not a setting here"),
        ({"FIXBRIDGE_FIX__PORT": "no"}, "fix.port: must be a whole number"),
        ({"FIXBRIDGE_SESSIONS__NOBODY__USERNAME": "x"}, "no session named 'NOBODY'"),
        ({"FIXBRIDGE_FIX__PORT__X": "1"}, "fix.port is not a table"),
        ({"FIXBRIDGE_FIX____PORT": "1"}, "an empty section or key"),
    ],
)
def test_a_bad_override_is_refused_naming_the_variable_or_key(
    config_file: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(config_file, environ)
    assert message in str(refused.value)
    variable = next(iter(environ))
    assert variable in str(refused.value)


def test_a_refused_secret_override_is_not_repeated_in_the_error(config_file: Path) -> None:
    environ = {"FIXBRIDGE_SESSIONS__OPS__PASSWORD_HASH": "plain-text-password"}
    with pytest.raises(ConfigError) as refused:
        load_config(config_file, environ)
    assert "plain-text-password" not in str(refused.value)
    assert "FIXBRIDGE_SESSIONS__OPS__PASSWORD_HASH" in str(refused.value)
