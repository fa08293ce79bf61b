"""What the wheel carries: every package under fixbridge/, and each fix_profile's QuickFIX
dictionaries from specs/dictionaries/, which ``fixbridge dictionary`` writes out unchanged."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from fixbridge.cli import main
from fixbridge.fix.shipped_dictionaries import FILES, DictionaryError, dictionary_text
from fixbridge.normalize.style import Profile

REPO = Path(__file__).resolve().parents[2]
SPECS_DICTIONARIES = REPO / "specs" / "dictionaries"


def test_the_package_list_names_every_package_on_disk() -> None:
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "fixbridge").rglob("__init__.py")
    }
    profiles = {f"fixbridge.dictionaries.{profile.value}" for profile in Profile}
    dictionaries = {"fixbridge.dictionaries"} | profiles
    assert set(listed["packages"]) == on_disk | dictionaries
    assert listed["package-dir"] == {"fixbridge.dictionaries": "specs/dictionaries"}


def test_the_wheel_carries_every_profiles_dictionaries(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    assert "absent from the `packages` configuration" not in build.stderr, build.stderr
    (wheel,) = tmp_path.glob("fixbridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for profile in Profile:
            for name in FILES:
                packed = archive.read(f"fixbridge/dictionaries/{profile.value}/{name}")
                assert packed == (SPECS_DICTIONARIES / profile.value / name).read_bytes()
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
        (license_name,) = [n for n in archive.namelist() if n.endswith("licenses/LICENSE")]
        assert archive.read(license_name) == (REPO / "LICENSE").read_bytes()
    # An SPDX expression and the license text in the wheel; no deprecated license table.
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "license" not in build.stderr.lower(), build.stderr
    # simplefix reads frames in the tests only: not something the service needs.
    runtime = [
        line for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]  # fmt: skip
    assert not [line for line in runtime if "simplefix" in line], runtime
    assert "grpcio" in " ".join(runtime)


@pytest.mark.parametrize("profile", list(Profile))
def test_fixbridge_dictionary_writes_the_profiles_files(
    profile: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "qf" / "spec"
    assert main(["dictionary", "--profile", profile.value, "--out", str(out)]) == 0
    for name in FILES:
        written = out / name
        assert written.read_bytes() == (SPECS_DICTIONARIES / profile.value / name).read_bytes()
        assert written.stat().st_mode & 0o777 == 0o600
        assert f"fix_profile = {profile.value}:" in written.read_text().splitlines()[0]
    assert f"AppDataDictionary={out / 'FIX50SP2-fixbridge.xml'}" in capsys.readouterr().out


def test_an_unwritable_folder_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["dictionary", "--profile", "fix50sp2", "--out", str(blocker / "x")]) == 1
    assert "cannot write the dictionaries to" in capsys.readouterr().err


def test_only_the_shipped_files_can_be_read() -> None:
    with pytest.raises(DictionaryError, match="no dictionary named"):
        dictionary_text(Profile.EXCHANGE, "../../config.py")
