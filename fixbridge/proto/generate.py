"""Regenerate the exchange's protobuf and gRPC Python modules from protos/.

The generated modules are committed (so a plain ``pip install`` needs no code generation) and
``tests/unit/test_proto_drift.py`` fails when they no longer match what this script produces.
grpc_tools writes absolute imports (``from polymarket.v1 import x_pb2``); they are rewritten to
live under ``fixbridge.proto`` so fixbridge never claims a top-level ``polymarket`` package.

Usage: ``python -m fixbridge.proto.generate [OUTPUT_DIR]`` (needs the ``dev`` extra).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent.parent
PROTO_ROOT = REPO_ROOT / "protos"
IMPORT_PREFIX = "fixbridge.proto."
_IMPORT = re.compile(r"^(from|import) polymarket\.v1\b", re.MULTILINE)


def _rewrite(source: str) -> str:
    return _IMPORT.sub(lambda m: f"{m.group(1)} {IMPORT_PREFIX}polymarket.v1", source)


def generate(out_dir: Path) -> list[Path]:
    """Write the generated modules below ``out_dir/polymarket/v1`` and return their paths."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {protos}")
        written: list[Path] = []
        for produced in sorted(Path(raw).rglob("*.py*")):
            rel = produced.relative_to(raw)
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_rewrite(produced.read_text()))
            written.append(target)
    for pkg in ("polymarket", "polymarket/v1"):
        init = out_dir / pkg / "__init__.py"
        init.write_text(
            '"""Generated from protos/; do not edit (python -m fixbridge.proto.generate)."""\n'
        )
        written.append(init)
    return written


if __name__ == "__main__":
    target_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE_ROOT
    for path in generate(target_dir):
        print(path)
