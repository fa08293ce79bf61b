"""The market-data shard plan: at most N symbols a stream, stable under change, never a move.

The rules (fixbridge/upstream/md_shards.py): a symbol that stays keeps its stream; one that
leaves is unsubscribed where it is; a new one goes to the first stream with room, and a new
stream opens only when every open one is full."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fixbridge.upstream.md_shards import ShardChange, ShardPlan


def names(count: int, prefix: str = "s") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


def test_2500_symbols_take_three_streams_of_at_most_1000() -> None:
    plan = ShardPlan(1000)
    changes = plan.update(names(2500))
    assert [(c.shard, c.opened, len(c.subscribe)) for c in changes] == [
        (0, True, 1000), (1, True, 1000), (2, True, 500)]
    assert plan.shard_count == 3
    assert sorted(s for i in range(3) for s in plan.symbols(i)) == names(2500)


def test_adding_one_symbol_is_one_subscribe_on_the_stream_with_room() -> None:
    plan = ShardPlan(1000)
    plan.update(names(2500))
    assert plan.update([*names(2500), "new"]) == [ShardChange(2, subscribe=("new",))]


def test_removing_one_symbol_is_one_unsubscribe_on_its_own_stream() -> None:
    plan = ShardPlan(1000)
    plan.update(names(2500))
    wanted = names(2500)
    wanted.remove("s00007")
    assert plan.update(wanted) == [ShardChange(0, unsubscribe=("s00007",))]


def test_a_freed_place_is_reused_before_a_new_stream_opens() -> None:
    plan = ShardPlan(2)
    plan.update(["a", "b", "c", "d"])
    assert plan.update(["b", "c", "d", "e"]) == [
        ShardChange(0, subscribe=("e",), unsubscribe=("a",))]
    assert plan.shard_count == 2


def test_a_new_stream_opens_only_when_all_are_full() -> None:
    plan = ShardPlan(2)
    plan.update(["a", "b"])
    assert plan.update(["a", "b", "c"]) == [ShardChange(1, subscribe=("c",), opened=True)]


def test_an_emptied_stream_stays_and_is_filled_first() -> None:
    plan = ShardPlan(2)
    plan.update(["a", "b", "c"])
    assert plan.update(["a", "b"]) == [ShardChange(1, unsubscribe=("c",))]
    assert plan.shard_count == 2 and plan.symbols(1) == ()
    assert plan.update(["a", "b", "x"]) == [ShardChange(1, subscribe=("x",))]


def test_no_change_is_no_command() -> None:
    plan = ShardPlan(3)
    plan.update(["a", "b"])
    assert plan.update(["b", "a"]) == []


symbol_sets = st.lists(st.frozensets(st.sampled_from(names(40)), max_size=40), min_size=1,
                       max_size=8)


@settings(max_examples=200, deadline=None)
@given(steps=symbol_sets, limit=st.integers(1, 12))
def test_any_sequence_keeps_the_limit_and_never_moves_a_symbol(
    steps: list[frozenset[str]], limit: int
) -> None:
    plan = ShardPlan(limit)
    carried: list[set[str]] = []  # what each stream holds, replaying only the commands
    for wanted in steps:
        before = {s: i for i, shard in enumerate(carried) for s in shard}
        for change in plan.update(wanted):
            if change.opened:  # only when every open stream is full (they come first)
                assert change.shard == len(carried) and not change.unsubscribe
                assert all(len(shard) == limit for shard in carried)
                carried.append(set())
            shard = carried[change.shard]
            assert set(change.unsubscribe) <= shard
            shard.difference_update(change.unsubscribe)
            assert not set(change.subscribe) & shard
            shard.update(change.subscribe)
        assert set().union(*carried) == wanted if carried else not wanted
        assert all(len(shard) <= limit for shard in carried)
        for i, shard in enumerate(carried):
            assert set(plan.symbols(i)) == shard
            assert all(before.get(s, i) == i for s in shard)  # nothing moved streams
