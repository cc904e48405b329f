"""Batches sent straight from process to process on Ray, against every batch through the hub.

    python benchmarks/ray_direct.py [--reps 7] [--only large]

With ``engine="ray"`` a batch for a transform can go straight from its sender's
process to the transform's (``ray_engine.DIRECT``, on by default): the hub makes
the receiver's call with the sender's result as its argument, and Ray hands the
batch over between the two processes. Off, every batch comes back to the hub
(the notebook's process) and is sent out again. This times both, alternating,
in one process with Ray started and the pool warm, a new network object per run,
and prints the medians and the median ratio (through the hub / direct: above 1
means direct is faster).

Workloads:

* ``large``: 200 messages of 1 MB (``bytes``) through two transforms into a sink.
* ``small``: the small-message pipeline of ``workloads.py`` (100,000 integers).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Blobs:
    """A source function: ``n`` messages of ``size`` zero bytes, then None."""

    def __init__(self, n, size):
        self.n, self.size = n, size

    def next(self):
        if self.n == 0:
            return None
        self.n -= 1
        return bytes(self.size)


def same(x):
    return x


def build(workload):
    """A new network of ``workload`` and a check of what its sink got."""
    from dissyslab import Sink, Source, Transform, network

    if workload == "small":
        from workloads import pipeline

        w = pipeline(100_000)
        return network(w.edges), lambda: w.check("small messages")
    got = []
    src = Source(fn=Blobs(200, 1_000_000).next, name="blobs")
    a, b = Transform(fn=same, name="a"), Transform(fn=len, name="b")
    g = network([(src, a), (a, b), (b, Sink(fn=got.append, name="sizes"))])

    def check():
        assert got == [1_000_000] * 200, "the large-message run lost messages"
    return g, check


def timed(workload, direct):
    from dissyslab import ray_engine

    ray_engine.DIRECT = direct
    g, check = build(workload)
    start = time.perf_counter()
    g.run_network(engine="ray", timeout=600, live=False)
    took = time.perf_counter() - start
    check()
    assert (g.last_run.ray_direct > 0) == direct
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", choices=["large", "small"], action="append")
    args = ap.parse_args()
    from dissyslab.ray_pool import connect

    connect()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"medians of {args.reps} repetitions")
    for workload in args.only or ["large", "small"]:
        timed(workload, True)  # the pool warm, the modules imported
        times, ratios = {True: [], False: []}, []
        for rep in range(args.reps):
            for direct in ((True, False) if rep % 2 == 0 else (False, True)):
                times[direct].append(timed(workload, direct))
            ratios.append(times[False][-1] / times[True][-1])
        print(f"{workload}: direct {statistics.median(times[True]):.3f} s, through the hub "
              f"{statistics.median(times[False]):.3f} s; hub / direct "
              f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}), "
              f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
