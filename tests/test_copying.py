"""Fanout copies: independent of the original, shared only where nothing can change."""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import pytest

from dissyslab.copying import copy_batch, copy_message


@dataclass
class Record:
    name: str
    tags: list = field(default_factory=list)


def all_mutables(value, seen=None):
    """Every mutable object reachable from ``value`` (by identity)."""
    seen = {} if seen is None else seen
    if isinstance(value, (list, dict, set, bytearray, Record, OrderedDict)):
        if id(value) in seen:
            return seen
        seen[id(value)] = value
    items = (value.values() if isinstance(value, dict) else
             vars(value).values() if isinstance(value, Record) else
             value if isinstance(value, (list, tuple, set, frozenset)) else ())
    for item in list(items):
        all_mutables(item, seen)
    return seen


@pytest.mark.parametrize("message", [
    1, 2.5, "text", b"bytes", None, True, (1, "a"), frozenset({1, 2}),
    [1, [2, [3]]], {"a": [1, {"b": {2}}]}, ({"in": [1]}, 2), {1, 2, 3},
    bytearray(b"xy"), Record("r", ["t"]), OrderedDict(a=[1]), [Record("x")],
])
def test_a_copy_equals_the_original_and_shares_nothing_mutable(message):
    copy = copy_message(message)
    assert copy == message
    assert not set(all_mutables(copy)) & set(all_mutables(message))


def test_immutable_values_are_shared_not_copied():
    s = "a long string" * 10
    assert copy_message(s) is s


def test_a_container_that_contains_itself_is_copied():
    loop = [1]
    loop.append(loop)
    copy = copy_message(loop)
    assert copy is not loop and copy[1] is copy


def test_copy_batch_copies_every_message():
    batch = [{"n": i, "tags": [i]} for i in range(5)] + ["s", 3]
    copies = copy_batch(batch)
    assert copies == batch
    assert all(a is not b for a, b in zip(copies[:5], batch[:5], strict=True))
    assert all(a["tags"] is not b["tags"] for a, b in zip(copies[:5], batch[:5], strict=True))


def test_an_uncopyable_message_raises():
    with pytest.raises(TypeError):
        copy_message(threading.Lock())


def test_a_copy_to_keep_does_not_change_with_the_message_and_never_fails():
    from dissyslab.copying import copy_to_keep

    message = {"tags": ["a"]}
    kept = copy_to_keep(message)
    message["tags"].append("b")
    assert kept == {"tags": ["a"]}
    lock = threading.Lock()  # cannot be copied: kept as its short repr, without an address
    assert copy_to_keep(lock) == "<lock object>"
    assert copy_to_keep([lock], stand_in=lambda text: ("shown", text)) == ("shown", "<list object>")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [None, 0, 3], ids=["threads", "seed 0", "seed 3"])
@pytest.mark.parametrize("paths", [2, 3])
def test_fanout_shares_numbers_and_copies_what_can_change_even_after_numbers(seed, paths):
    """A fanout's edges share results that cannot change (numbers, strings) until a result that
    can change comes; from then on every edge gets its own copy of each such result, in place."""
    from dissyslab import ListSource, Sink, Source, Transform, network

    items = [1, "a", [1], 2, {"k": [0]}, 3, [2], "b"]

    def change(msg):
        if isinstance(msg, list):
            msg.append("changed")
        elif isinstance(msg, dict):
            msg["k"].append("changed")
        return msg

    src = Source(fn=ListSource(items=items).run, name="src")
    got = [[] for _ in range(paths)]
    edges = []
    for i in range(paths):
        t = Transform(fn=change, name=f"change_{i}")
        edges += [(src, t), (t, Sink(fn=got[i].append, name=f"keep_{i}"))]
    network(edges).run_network(seed=seed, timeout=30, live=False)
    expected = [1, "a", [1, "changed"], 2, {"k": [0, "changed"]}, 3, [2, "changed"], "b"]
    for i in range(paths):
        assert got[i] == expected, (i, got[i])  # each path changed its own copy, once
    for i in range(1, paths):
        assert all(a is not b for a, b in zip(got[0], got[i], strict=True)
                   if not isinstance(a, (int, str)))
