"""Fanout copies of less common values: what is shared, what is copied, and batches."""

import datetime
import decimal
import fractions
import uuid
from collections import defaultdict, namedtuple

from dissyslab import ListSource, Sink, Source, Transform, network
from dissyslab.copying import all_immutable, copy_batch, copy_message


class Key:
    """A hashable object that can still be changed: a mutable dict key."""

    def __init__(self, label):
        self.label = label


def test_standard_immutable_values_are_shared():
    for value in [datetime.datetime(2024, 5, 1, 12), datetime.date(2024, 5, 1),
                  datetime.timedelta(seconds=3), decimal.Decimal("1.50"),
                  fractions.Fraction(1, 3), uuid.UUID(int=7)]:
        assert copy_message(value) is value
        assert copy_message({"when": value})["when"] is value


def test_tuples_and_frozensets_of_immutable_values_are_shared():
    nested = ((1, "a"), (2.5, (None, b"x")), frozenset({1, 2}))
    assert copy_message(nested) is nested
    mixed = ((1, 2), (3, [4]))
    copy = copy_message(mixed)
    assert copy == mixed and copy[0] is mixed[0] and copy[1][1] is not mixed[1][1]


def test_a_mutable_dict_key_is_copied_too():
    key = Key("k")
    copy = copy_message({key: [1]})
    (copied_key, value), = copy.items()
    assert copied_key is not key and copied_key.label == "k" and value == [1]


def test_subclasses_keep_their_type_and_are_copied():
    Point = namedtuple("Point", "x y")
    counts = defaultdict(list, a=[1])
    assert copy_message(Point(1, [2])) == Point(1, [2])
    copy = copy_message(counts)
    assert type(copy) is defaultdict and copy == counts and copy["a"] is not counts["a"]
    copy["new"].append(1)  # still a defaultdict
    assert "new" not in counts


def test_all_immutable_tells_shareable_batches_apart():
    assert all_immutable([1, "a", 2.0, None, b"x", True])
    assert all_immutable([])
    assert not all_immutable([1, [2]])
    assert not all_immutable([(1, 2)])  # a tuple may hold mutable things: not judged here
    numbers = list(range(10))
    copy = copy_batch(numbers)
    assert copy == numbers and copy is not numbers


def test_each_fanout_path_can_change_its_own_records():
    records = [{"id": i, "tags": ["new"], "when": datetime.date(2024, 1, 1) + datetime.timedelta(days=i)}
               for i in range(300)]

    def tag(record, label):
        record["tags"].append(label)
        return record

    src = Source(fn=ListSource(items=records).run, name="records")
    outs = {label: [] for label in "abc"}
    edges = []
    for label, out in outs.items():
        t = Transform(fn=tag, params={"label": label}, name=f"tag_{label}")
        edges += [(src, t), (t, Sink(fn=out.append, name=f"keep_{label}"))]
    network(edges).run_network(timeout=10)
    for label, out in outs.items():
        assert [r["tags"] for r in out] == [["new", label]] * 300
        assert [r["when"] for r in out] == [r["when"] for r in records]
