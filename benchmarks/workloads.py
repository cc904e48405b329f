"""The workloads the benchmarks run: the functions, and the networks built from them.

Every workload is built fresh for each run (a source keeps its place in
its stream), and both runners, the dissyslab runtime and the hand-written
threads in ``handwritten.py``, get the very same callables and edges.
"""

from dissyslab import Sink, Source, Transform

N = 100_000  # messages per workload


class Numbers:
    """A source function: ``next()`` returns 0, 1, ..., n-1, then None."""

    def __init__(self, n):
        self._it = iter(range(n))

    def next(self):
        return next(self._it, None)


class Records:
    """A source function: ``next()`` returns n small dict records, then None.

    Each record has five fields, one of them a list, like a row a student
    might read from a file or an API.
    """

    def __init__(self, n):
        self._it = iter(range(n))

    def next(self):
        i = next(self._it, None)
        if i is None:
            return None
        return {"id": i, "name": f"user{i}", "score": i % 100,
                "active": i % 2 == 0, "tags": ["new"]}


def triple(x):
    return 3 * x


def add_one(x):
    return x + 1


def tag_record(record):
    """Mutates its record in place: harmless only if every path has its own copy."""
    record["tags"].append("seen")
    record["score"] += 1
    return record


class Tally:
    """A sink function: ``add(msg)`` counts messages and keeps a checksum."""

    def __init__(self):
        self.count = 0
        self.total = 0

    def add(self, x):
        self.count += 1
        self.total += x


class RecordCheck:
    """A sink for records: counts them and counts any that another path has touched."""

    def __init__(self):
        self.count = 0
        self.shared = 0  # records whose tags show another path's change

    def add(self, record):
        self.count += 1
        if len(record["tags"]) != 2 or record["score"] != record["id"] % 100 + 1:
            self.shared += 1


class Workload:
    """One fresh instance of a workload: its edges, its sinks, and what they must see."""

    def __init__(self, edges, sinks, expected_count, expected_total=None):
        self.edges = edges
        self.sinks = sinks
        self.expected_count = expected_count
        self.expected_total = expected_total

    def check(self, who):
        """Raise unless every sink got every message, unshared and correct."""
        for sink in self.sinks:
            bad = sink.count != self.expected_count
            bad |= self.expected_total is not None and sink.total != self.expected_total
            bad |= getattr(sink, "shared", 0) != 0
            if bad:
                raise AssertionError(f"{who}: a sink saw {vars(sink)}, expected "
                                     f"count {self.expected_count}, total {self.expected_total}")


def pipeline(n=N):
    """source → triple → add_one → sink"""
    src = Source(fn=Numbers(n).next, name="numbers")
    a, b = Transform(fn=triple), Transform(fn=add_one)
    tally = Tally()
    sink = Sink(fn=tally.add, name="tally")
    total = sum(3 * i + 1 for i in range(n))
    return Workload([(src, a), (a, b), (b, sink)], [tally], n, total)


def fanout(k, n=N):
    """source → k transforms (triple) → k sinks: every message goes down every path."""
    src = Source(fn=Numbers(n).next, name="numbers")
    edges, tallies = [], []
    for i in range(k):
        t = Transform(fn=triple, name=f"triple_{i}")
        tally = Tally()
        edges += [(src, t), (t, Sink(fn=tally.add, name=f"tally_{i}"))]
        tallies.append(tally)
    return Workload(edges, tallies, n, 3 * sum(range(n)))


def fanin(k=4, n=N):
    """k sources (n/k messages each) → one transform (triple) → sink"""
    per = n // k
    t = Transform(fn=triple)
    tally = Tally()
    edges = [(Source(fn=Numbers(per).next, name=f"numbers_{i}"), t) for i in range(k)]
    edges.append((t, Sink(fn=tally.add, name="tally")))
    return Workload(edges, [tally], per * k, 3 * k * sum(range(per)))


def records(k=4, n=N):
    """source of dict records → k paths, each mutating its record (tag_record) → k sinks"""
    src = Source(fn=Records(n).next, name="records")
    edges, checks = [], []
    for i in range(k):
        t = Transform(fn=tag_record, name=f"tag_{i}")
        check = RecordCheck()
        edges += [(src, t), (t, Sink(fn=check.add, name=f"check_{i}"))]
        checks.append(check)
    return Workload(edges, checks, n)


#: name → (builder, does the hand-written version deep-copy each message per path?)
WORKLOADS = {
    "pipeline": (pipeline, False),
    "fanout 2": (lambda n=N: fanout(2, n), False),
    "fanout 10": (lambda n=N: fanout(10, n), False),
    "fanin 4": (lambda n=N: fanin(4, n), False),
    "records fanout 4": (lambda n=N: records(4, n), True),
}
