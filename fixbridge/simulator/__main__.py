"""``python -m fixbridge.simulator``: the simulated exchange on its own, same options as
``fixbridge simulate``. Only parses arguments and hands over to :mod:`fixbridge.simulator.cli`."""

from __future__ import annotations

import argparse

from fixbridge.simulator.cli import add_simulate_arguments, run_simulate


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fixbridge.simulator",
        description="Simulated exchange serving polymarket.v1.DropCopyAPI over plaintext gRPC.",
    )
    add_simulate_arguments(parser)
    return run_simulate(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
