"""The terminal progress bar: drawn on a terminal at most every interval, silent elsewhere."""

from __future__ import annotations

import io

from fixbridge.ops.progress_bar import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_a_redrawn_line_at_most_every_interval_then_a_cleared_line() -> None:
    out, clock = Terminal(), Clock()
    bar = ProgressBar("decoding events", 40_000, stream=out, clock=clock, interval_s=0.2)
    for done in range(1000, 40_001, 1000):  # 40 updates in 2 s: 10 frames at most
        clock.now += 0.05
        bar.update(done)
    bar.close()
    frames = out.getvalue().split("\r")[1:]
    assert 2 <= len(frames) - 1 <= 11  # 2 s at most every 0.2 s; the last one clears the line
    assert frames[-1] == "\x1b[2K"
    bar_text = "[#" + "." * 29 + "]"  # 1,000 of 40,000: 2.5 %, rounded to 1 of 30 marks
    assert frames[0] == f"decoding events {bar_text}   2% 1,000/40,000 (20,000/s)"
    last = frames[-2]
    assert last.startswith("decoding events [") and "/40,000" in last


def test_a_full_bar_and_an_empty_total_read_one_hundred_percent() -> None:
    clock = Clock()
    bar = ProgressBar("x", 10, stream=Terminal(), clock=clock)
    clock.now += 1
    assert bar.line(10) == f"x [{'#' * 30}] 100% 10/10 (10/s)"
    assert ProgressBar("x", 0, stream=Terminal(), clock=clock).line(0).startswith("x [###")


def test_a_pipe_or_a_file_gets_nothing() -> None:
    out = io.StringIO()
    bar = ProgressBar("decoding events", 10, stream=out)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""
