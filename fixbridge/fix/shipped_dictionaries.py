"""The QuickFIX data dictionaries fixbridge ships for each ``fix_profile``, and writing them
out for a client (``fixbridge dictionary``).

They are installed as the package ``fixbridge.dictionaries`` (specs/dictionaries/ in the
source tree, written by specs/generate_dictionary.py). This module only reads and copies
them: it never edits one, and never overwrites a file that is not one of them.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Final

from fixbridge.normalize.style import Profile

TRANSPORT_FILE: Final = "FIXT11-fixbridge.xml"  # QuickFIX TransportDataDictionary
APPLICATION_FILE: Final = "FIX50SP2-fixbridge.xml"  # QuickFIX AppDataDictionary
FILES: Final = (TRANSPORT_FILE, APPLICATION_FILE)


class DictionaryError(RuntimeError):
    """A profile's dictionaries are missing from the installation, or cannot be written."""


def dictionary_text(profile: Profile, name: str) -> bytes:
    """The bytes of one shipped dictionary file (``name`` one of :data:`FILES`)."""
    if name not in FILES:
        raise DictionaryError(f"no dictionary named {name!r} (expected one of {FILES})")
    source = resources.files("fixbridge.dictionaries").joinpath(profile.value, name)
    try:
        return source.read_bytes()
    except OSError as exc:
        raise DictionaryError(
            f"the {profile.value} profile's {name} is missing from this installation: {exc}"
        ) from exc


def write_dictionaries(profile: Profile, out: Path) -> list[Path]:
    """Write ``profile``'s two dictionaries into ``out`` (created if needed); their paths."""
    contents = [(name, dictionary_text(profile, name)) for name in FILES]
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in contents:
            target = out / name
            partial = out / f".{name}.{os.getpid()}.part"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(partial, target)
            written.append(target)
    except OSError as exc:
        raise DictionaryError(f"cannot write the dictionaries to {out}: {exc}") from exc
    return written
