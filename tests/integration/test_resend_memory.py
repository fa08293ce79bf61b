"""ResendRequest 1..0 over 100,000 stored messages: complete, correct, and flat in memory.

Runs ``bench/resend_memory.py``'s measurement. It starts the real bridge as a subprocess on a
journal holding 100,000 stored ExecutionReports, logs on without a reset and asks for
everything. It then checks every sequence number is covered exactly once, every replayed
message carries PossDupFlag=Y and OrigSendingTime, and the bridge's peak RSS (sampled every
20 ms, and the kernel's VmHWM) grows by less than 50 MB over its level before the request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.resend_memory import MB, report, run_benchmark

pytestmark = pytest.mark.integration

MESSAGES = 100_000
BOUND_MB = 50


def test_resend_of_everything_over_100k_stored_messages_keeps_memory_flat(
    tmp_path: Path,
) -> None:
    result = run_benchmark(MESSAGES, workdir=tmp_path, bound_mb=BOUND_MB)
    figures = report(result)
    print("\n" + figures)
    run, check = result.run, result.run.check

    assert run.error is None, figures
    # The Logon took MESSAGES + 1, so 1..0 means 1..MESSAGES + 1.
    assert check.last_seq == MESSAGES + 1, figures
    assert check.complete, figures
    assert check.uncovered == [], figures
    assert check.duplicated == [], f"covered more than once: {check.duplicated[:10]}"
    assert check.replayed == MESSAGES, figures
    assert check.missing_poss_dup == 0, figures
    assert check.missing_orig_sending_time == 0, figures
    assert check.body_mismatches == 0, figures
    assert check.out_of_order == 0, figures
    assert check.out_of_range == 0, figures
    # Only the Logon is not stored: one gap fill for it, NewSeqNo just past it.
    assert check.gap_fill_ranges == [(MESSAGES + 1, MESSAGES + 2)], figures

    assert run.memory.growth < BOUND_MB * MB, figures
    assert result.baseline is not None
    assert run.logout_confirmed, figures
    assert run.bridge_exit == 0, figures
