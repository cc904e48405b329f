"""What sub-networks cost: the same network built from pieces and written out flat.

A network built from pieces is written flat by ``network()``, so running it
must cost the same as running the flat network; building and drawing it do a
little more work (naming the pieces, framing them). This script measures
the three, each as a ratio against the flat network in the same run:

    python benchmarks/subnetworks.py                 # 200 diamonds, 9 repetitions
    python benchmarks/subnetworks.py --pieces 50 --reps 5 --messages 2000
"""

import argparse
import statistics
import time

from dissyslab import ListSource, Sink, Source, Transform, network
from dissyslab.diagram import picture


def diamond_nodes(i):
    top = Transform(fn=str.strip, name=f"top_{i}")
    left = Transform(fn=str.upper, name=f"left_{i}")
    right = Transform(fn=str.lower, name=f"right_{i}")
    join = Transform(fn=str.strip, name=f"join_{i}")
    return top, [(top, left), (top, right), (left, join), (right, join)], join


def flat(count, items):
    """A chain of ``count`` diamonds, one list of edges."""
    src = Source(fn=ListSource(items=items).run, name="letters")
    edges, last = [], src
    for i in range(count):
        top, inner, join = diamond_nodes(i)
        edges += [(last, top)] + inner
        last = join
    return network(edges + [(last, Sink(fn=lambda m: None, name="sink"))])


def pieces(count, items):
    """The same chain, each diamond a sub-network."""
    src = Source(fn=ListSource(items=items).run, name="letters")
    edges, last = [], src
    for i in range(count):
        top, inner, join = diamond_nodes(i)
        piece = network(inner, inputs=[top], outputs=[join], name=f"d{i}")
        edges.append((last, piece))
        last = piece
    return network(edges + [(last, Sink(fn=lambda m: None, name="sink"))])


def timed(fn, reps):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--messages", type=int, default=1000, help="messages sent through a run")
    a = ap.parse_args()
    words = ["a"] * a.messages
    print(f"a chain of {a.pieces} diamonds ({4 * a.pieces + 2} nodes), median of {a.reps}")
    rows = []
    for what, job in [
        ("build", lambda make: make(a.pieces, words)),
        ("picture", lambda make: picture(make(a.pieces, words))),
    ]:
        f = timed(lambda job=job: job(flat), a.reps)
        p = timed(lambda job=job: job(pieces), a.reps)
        rows.append((what, f, p))
    small = max(1, min(a.pieces, 8))  # 2**8 paths: enough work per run, not too much
    g_flat, g_pieces = flat(small, words[:50]), pieces(small, words[:50])
    f, p = [], []
    for _ in range(a.reps):  # turn about, so a busy moment of the machine hits both alike
        f.append(timed(lambda: g_flat.run_network(timeout=600, live=False), 1))
        p.append(timed(lambda: g_pieces.run_network(timeout=600, live=False), 1))
    f, p = statistics.median(f), statistics.median(p)
    rows.append((f"run ({small} diamonds, 50 messages)", f, p))
    for what, f, p in rows:
        print(f"{what:<34} flat {f * 1000:9.1f} ms   pieces {p * 1000:9.1f} ms   ratio {p / f:5.2f}")


if __name__ == "__main__":
    main()
