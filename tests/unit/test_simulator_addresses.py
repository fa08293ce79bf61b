"""`fixbridge simulate --listen` and `--token-listen` take HOST:PORT and nothing less.

gRPC reads a bare host as port 443 (its default for a target without a port), so
`--listen 127.0.0.1` used to serve somewhere the user did not ask for.
"""

from __future__ import annotations

import pytest

from fixbridge.cli import main


@pytest.mark.parametrize("option", ["--listen", "--token-listen"])
@pytest.mark.parametrize("value", ["127.0.0.1", ":50051", "localhost:http", "::1:0",
                                   "127.0.0.1:65536", "[]:1", "host:"])  # fmt: skip
def test_an_address_without_a_usable_port_is_refused_naming_the_option(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", option, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "must be HOST:PORT" in err and repr(value) in err


@pytest.mark.parametrize("value", ["127.0.0.1:0", "localhost:50051", "[::1]:0", "0.0.0.0:65535"])
def test_host_port_forms_are_accepted(value: str) -> None:
    from fixbridge.simulator.addresses import listen_address

    assert listen_address(value) == value
