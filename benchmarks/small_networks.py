"""Two lesson-shaped networks for the overhead benchmarks (tracing, live view).

Each builder returns ``(network, results)``, ``results`` being the list the
first sink fills, so a benchmark can check that every message arrived.
"""

from dissyslab import ListSource, Sink, Source, Transform, network


def pipeline(n):
    """source -> transform -> sink"""
    out = []
    src = Source(fn=ListSource(items=range(n)).run, name="numbers")
    double = Transform(fn=lambda x: 2 * x, name="double")
    return network([(src, double), (double, Sink(fn=out.append, name="collect"))]), out


def fanout(n):
    """the fanout lesson's shape: words -> (uppercase, reverse) -> two collectors"""
    upper, backwards = [], []
    words = Source(fn=ListSource(items=[f"word{i}" for i in range(n)]).run, name="word_source")
    up = Transform(fn=str.upper, name="uppercase")
    rev = Transform(fn=lambda s: s[::-1], name="reverse")
    return network([(words, up), (words, rev),
                    (up, Sink(fn=upper.append, name="collector_upper")),
                    (rev, Sink(fn=backwards.append, name="collector_reverse"))]), upper
