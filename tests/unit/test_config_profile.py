"""``[[sessions]] fix_profile``: one of the three profiles, exchange by default, reaching the
session's rendering style; anything else is a configuration error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixbridge.config import ConfigError, load_config
from fixbridge.fix.outbound import style_of
from fixbridge.normalize.style import Profile

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "fixbridge.example.toml"
LINE = 'fix_profile = "exchange"'


def config_with(tmp_path: Path, line: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert LINE in text
    path = tmp_path / "fixbridge.toml"
    path.write_text(text.replace(LINE, line), encoding="utf-8")
    return path


@pytest.mark.parametrize("profile", list(Profile))
def test_each_profile_reaches_the_sessions_style(profile: Profile, tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, f'fix_profile = "{profile.value}"'))
    assert style_of(config.sessions[0]).profile is profile


def test_the_default_is_the_exchange_profile(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, ""))
    assert config.sessions[0].fix_profile is Profile.EXCHANGE


def test_an_unknown_profile_names_the_key_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sessions\.0\.fix_profile: .*'fix50sp2'"):
        load_config(config_with(tmp_path, 'fix_profile = "fix44"'))
