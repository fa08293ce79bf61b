"""journal/bulk_insert.py against executemany of the same statement over the same rows, on
two fresh SQLite databases: the tables must come out the same, row for row (ids included)."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from fixbridge.journal.bulk_insert import CHUNK_SIZES, chunked, insert_rows, values_statement

SCHEMA = """
CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL, v INTEGER);
CREATE TABLE uniq (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
CREATE TABLE latest (k TEXT PRIMARY KEY, v INTEGER NOT NULL, t INTEGER NOT NULL);
"""
UPSERT_TAIL = (
    " ON CONFLICT (k) DO UPDATE SET v=excluded.v, t=excluded.t WHERE excluded.t >= latest.t"
)
CASES = (
    ("INSERT INTO log (k, v)", ""),
    ("INSERT OR IGNORE INTO uniq (k, v)", ""),
    ("INSERT INTO latest (k, v, t)", UPSERT_TAIL),
)

keys = st.sampled_from("abcdefgh")
rows = st.lists(st.tuples(keys, st.integers(-5, 5), st.integers(0, 9)), max_size=1200)


def _fresh() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return db


def _dump(db: sqlite3.Connection) -> list[list[tuple[object, ...]]]:
    tables = ("log", "uniq", "latest")
    return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables]


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=4))
def test_the_tables_come_out_as_with_executemany(batches: list[list[tuple[str, int, int]]]) -> None:
    ours, theirs = _fresh(), _fresh()
    for batch in batches:
        for head, tail in CASES:
            width = head.count(",") + 1
            values = [r[:width] for r in batch]
            insert_rows(ours, head, values, tail=tail)
            placeholders = ", ".join("?" * width)
            theirs.executemany(f"{head} VALUES ({placeholders}){tail}", values)
    assert _dump(ours) == _dump(theirs)


def test_a_batch_is_cut_into_the_fixed_sizes_only() -> None:
    db = _fresh()
    seen: list[str] = []
    db.set_trace_callback(seen.append)
    insert_rows(db, "INSERT INTO log (k, v)", [("a", n) for n in range(1000)])
    sizes = [statement.count("('a', ") for statement in seen]  # the SQL as run, values in
    assert set(sizes) <= set(CHUNK_SIZES) and sum(sizes) == 1000
    assert [r[2] for r in db.execute("SELECT * FROM log ORDER BY id")] == list(range(1000))


def test_a_chunk_stays_within_the_variable_limit() -> None:
    db = _fresh()
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)  # 50 rows of two at most
    insert_rows(db, "INSERT INTO log (k, v)", [("a", n) for n in range(130)])
    assert db.execute("SELECT COUNT(*), MIN(v), MAX(v) FROM log").fetchone() == (130, 0, 129)


@given(st.integers(0, 2000), st.integers(1, 600))
def test_chunks_keep_every_row_in_order_within_the_sizes_and_the_bound(
    count: int, most: int
) -> None:
    rows = [(n,) for n in range(count)]
    chunks = list(chunked(rows, most))
    assert [r for chunk in chunks for r in chunk] == rows
    assert all(len(c) in CHUNK_SIZES and len(c) <= max(1, most) for c in chunks)


def test_a_statement_for_psycopg_has_its_markers() -> None:
    assert values_statement("INSERT INTO t (a, b)", 2, 2, "", "%s") == (
        "INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)"
    )
