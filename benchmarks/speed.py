"""Speed: the dissyslab runtime against hand-written threads, each run in a fresh interpreter.

The common case of a student's network: 100,000 int messages from a source,
transforms ``x + 1`` and ``x * 2``, ``list.append`` sinks. Two kinds of source:

* ``method``: a Python method counting up, like ``ListSource.run`` (students'
  functions are Python code);
* ``c``: ``lambda: next(it, None)``, whose work is all in C.

Every measurement is one fresh interpreter that builds the network, makes a
100-message warm-up run, then times one run of ``--n`` messages (wall clock
and CPU of its own process). The runtime and the hand-written threads of
``handwritten.py`` (one thread per node, ``queue.SimpleQueue`` between them)
alternate, which goes first swapping each repetition, so a busy neighbour on
a shared machine slows both alike. Printed per workload: the median of the
per-repetition ratios (hand-written time / dissyslab time: above 1 means
dissyslab is faster), their range, and the median CPU-time ratio, the
steadier figure on a shared machine. "copied records" fans dict records out
to 4 paths that change them: the runtime copies, the hand-written threads
``copy.deepcopy`` for each path.

    python benchmarks/speed.py [--reps 9] [--n 100000] [--only pipeline] [--source method]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: the lowest wall-clock ratio (hand-written / dissyslab) each workload must reach
TARGETS = {"pipeline": 1.0, "fanout 2": 1.0, "fanout 10": 1.0, "fanin 4": 1.0, "copied records": 2.0}
#: and the mean over the four plain workloads
MEAN_TARGET = 1.1
WARM_UP = 100


class Counter:
    """A source function in Python, as a student writes one: ``run()`` counts up to n, then None."""

    def __init__(self, n):
        self.n = n
        self.i = 0

    def run(self):
        if self.i >= self.n:
            return None
        self.i += 1
        return self.i


def make_source(kind, n):
    if kind == "method":
        return Counter(n).run
    it = iter(range(1, n + 1))
    return lambda: next(it, None)


def add_one(x):
    return x + 1


def double(x):
    return x * 2


def tag(record):
    record["tags"].append("seen")
    return record


def records(n):
    it = iter(range(n))

    def next_record():
        i = next(it, None)
        if i is None:
            return None
        return {"id": i, "name": f"user{i}", "score": i % 100, "tags": ["new"]}
    return next_record


def build(workload, kind, n):
    """(edges, sinks' lists, how many messages each must get)."""
    from dissyslab import Sink, Source, Transform

    if workload == "copied records":
        src = Source(fn=records(n), name="records")
        edges, outs = [], []
        for i in range(4):
            t, out = Transform(fn=tag, name=f"tag_{i}"), []
            edges += [(src, t), (t, Sink(fn=out.append, name=f"keep_{i}"))]
            outs.append(out)
        return edges, outs, n
    if workload == "fanin 4":
        t, out = Transform(fn=add_one, name="add_one"), []
        edges = [(Source(fn=make_source(kind, n // 4), name=f"src_{i}"), t) for i in range(4)]
        return edges + [(t, Sink(fn=out.append, name="keep"))], [out], n // 4 * 4
    src = Source(fn=make_source(kind, n), name="numbers")
    if workload == "pipeline":
        a, b, out = Transform(fn=add_one, name="add_one"), Transform(fn=double, name="double"), []
        return [(src, a), (a, b), (b, Sink(fn=out.append, name="keep"))], [out], n
    k = int(workload.split()[1])  # fanout k
    edges, outs = [], []
    for i in range(k):
        t, out = Transform(fn=add_one, name=f"add_one_{i}"), []
        edges += [(src, t), (t, Sink(fn=out.append, name=f"keep_{i}"))]
        outs.append(out)
    return edges, outs, n


def one(who, workload, kind, n):
    """In a fresh interpreter: warm up, then time one run; print 'wall cpu'."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    from dissyslab import network
    from handwritten import run_threads

    copying = workload == "copied records"

    def go(size):
        edges, outs, expected = build(workload, kind, size)
        if who == "dissyslab":
            g = network(edges)
            started = time.perf_counter(), time.process_time()
            g.run_network(timeout=600, live=False)
        else:
            started = time.perf_counter(), time.process_time()
            run_threads(edges, deep_copy=copying)
        took = time.perf_counter() - started[0], time.process_time() - started[1]
        if any(len(out) != expected for out in outs):
            raise SystemExit(f"{who} {workload}: a sink got {[len(o) for o in outs]}, not {expected}")
        if copying and any(len(r["tags"]) != 2 for out in outs for r in out):
            raise SystemExit(f"{who} {workload}: two paths shared a record")
        return took

    go(WARM_UP)
    wall, cpu = go(n)
    print(f"{wall} {cpu}")


def measure(who, workload, kind, n):
    out = subprocess.run([sys.executable, __file__, "--one", who, workload, kind, str(n)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr or out.stdout)
    wall, cpu = map(float, out.stdout.split())
    return wall, cpu


def run(workloads, kinds, reps, n):
    """Measure each workload with each kind of source, printing a line as each finishes.

    Returns rows: dicts with workload, source, ratio, low, high, cpu, target, ok (the
    mean of the four plain workloads has its own row per source).
    """
    print(f"speed: {n:,} messages, {reps} repetitions, each in a fresh interpreter; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'workload':<16}{'source':<8}{'ratio':>7}{'range':>13}{'CPU ratio':>11}{'target':>8}  result")
    rows = []
    for kind in kinds:
        means = []
        for workload in workloads:
            if workload == "copied records" and kind == "c":
                continue  # its source makes records either way
            walls, cpus = [], []
            for rep in range(reps):
                order = ["dissyslab", "threads"] if rep % 2 == 0 else ["threads", "dissyslab"]
                got = {who: measure(who, workload, kind, n) for who in order}
                walls.append(got["threads"][0] / got["dissyslab"][0])
                cpus.append(got["threads"][1] / got["dissyslab"][1])
            row = {"workload": workload, "source": kind, "ratio": statistics.median(walls),
                   "low": min(walls), "high": max(walls), "cpu": statistics.median(cpus),
                   "target": TARGETS[workload]}
            row["ok"] = row["ratio"] >= row["target"]
            rows.append(row)
            if workload != "copied records":
                means.append(row)
            print(f"{workload:<16}{kind:<8}{row['ratio']:>6.2f}x{row['low']:>7.2f}-{row['high']:<5.2f}"
                  f"{row['cpu']:>10.2f}x{row['target']:>7.1f}x  {'PASS' if row['ok'] else 'FAIL'}",
                  flush=True)
        if len(means) == 4:
            mean = {"workload": "mean of four", "source": kind,
                    "ratio": statistics.mean(r["ratio"] for r in means),
                    "cpu": statistics.mean(r["cpu"] for r in means), "target": MEAN_TARGET}
            mean["low"], mean["high"] = mean["ratio"], mean["ratio"]
            mean["ok"] = mean["ratio"] >= MEAN_TARGET
            rows.append(mean)
            print(f"{'mean of four':<16}{kind:<8}{mean['ratio']:>6.2f}x{'':>13}{mean['cpu']:>10.2f}x"
                  f"{MEAN_TARGET:>7.1f}x  {'PASS' if mean['ok'] else 'FAIL'}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per workload (default 9)")
    parser.add_argument("--n", type=int, default=100_000, help="messages per run (default 100,000)")
    parser.add_argument("--only", action="append", choices=list(TARGETS), help="only this workload")
    parser.add_argument("--source", action="append", choices=["method", "c"],
                        help="only this kind of source (default both)")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        who, workload, kind, n = args.one
        one(who, workload, kind, int(n))
        return 0
    rows = run(args.only or list(TARGETS), args.source or ["method", "c"], args.reps, args.n)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
