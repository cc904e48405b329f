"""Memory: 1,000,000 records through a fanout whose one path is slow.

The slow path sleeps a few milliseconds every thousand records, so it
falls behind the fast one. With bounded channels the source waits for it
(backpressure) and memory stays flat; unbounded queues would have to hold
almost every record the slow path has not reached yet. The sinks only
count what they receive (and sum the ids, to check nothing is lost or
repeated); they store nothing.

Each run happens in a fresh Python process, so its peak memory (VmHWM
from /proc, or getrusage elsewhere) is its own. ``--baseline`` also runs
the same network as hand-written threads with unbounded SimpleQueues (and
no copies, so the source is as fast as it can be), for comparison.

A second workload joins a fast source and a slow one with a MergeSynch:
the fast input's messages wait there for partners, and without a bound per
input they would pile up as fast as the source makes them.

    python benchmarks/memory.py [--n 1000000] [--baseline]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

LIMIT_MB = 200
SLOW_EVERY = 1000  # the slow path sleeps once per this many records ...
SLOW_SLEEP = 0.01  # ... for this many seconds


class SlowTag:
    """A transform function that sleeps briefly every ``SLOW_EVERY`` records."""

    def __init__(self):
        self.calls = 0

    def tag(self, record):
        self.calls += 1
        if self.calls % SLOW_EVERY == 0:
            time.sleep(SLOW_SLEEP)
        record["tags"].append("slow")
        return record


class Count:
    """A sink function that keeps only a count and a sum of ids."""

    def __init__(self):
        self.count = 0
        self.ids = 0

    def add(self, record):
        self.count += 1
        self.ids += record["id"]


def peak_rss_mb():
    """Peak resident memory of this process so far, in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


class SlowRecords:
    """A source of ``n`` records that sleeps briefly every ``SLOW_EVERY`` of them."""

    def __init__(self, n):
        from workloads import Records
        self.records = Records(n)
        self.calls = 0

    def next(self):
        self.calls += 1
        if self.calls % SLOW_EVERY == 0:
            time.sleep(SLOW_SLEEP)
        return self.records.next()


class CountPairs:
    """A sink function for a MergeSynch's pairs: a count, and a sum of ids of pairs that match."""

    def __init__(self):
        self.count = 0
        self.ids = 0

    def add(self, pair):
        self.count += 1
        if pair[0]["id"] == pair[1]["id"]:
            self.ids += pair[0]["id"]


def child(runner, n):
    """Run one workload once in this process; print a JSON line of figures."""
    from dissyslab import MergeSynch, Sink, Source, Transform, network
    from handwritten import run_threads
    from workloads import Records, tag_record

    fast, slow = Count(), Count()
    if runner == "join":
        m = MergeSynch(num_inputs=2, name="join")
        pairs = CountPairs()
        edges = [(Source(fn=Records(n).next, name="fast"), m.in_0),
                 (Source(fn=SlowRecords(n).next, name="slow"), m.in_1),
                 (m, Sink(fn=pairs.add, name="pairs"))]
        fast = slow = pairs
    else:
        src = Source(fn=Records(n).next, name="records")
        quick = Transform(fn=tag_record, name="quick")
        lagging = Transform(fn=SlowTag().tag, name="lagging")
        edges = [(src, quick), (quick, Sink(fn=fast.add, name="fast")),
                 (src, lagging), (lagging, Sink(fn=slow.add, name="slow"))]
    before = peak_rss_mb()
    started = time.perf_counter()
    if runner in ("dissyslab", "join"):
        network(edges).run_network(timeout=600)
    else:
        run_threads(edges)
    elapsed = time.perf_counter() - started
    ids = n * (n - 1) // 2
    print(json.dumps({
        "runner": runner, "n": n, "seconds": elapsed, "start_mb": before, "peak_mb": peak_rss_mb(),
        "fast": fast.count, "slow": slow.count,
        "all_delivered": fast.count == slow.count == n and fast.ids == slow.ids == ids,
    }))


def measure(runner, n):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", runner,
                          "--n", str(n)], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"the {runner} memory run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(result):
    return (f"{result['runner']:<13} peak {result['peak_mb']:6.1f} MB "
            f"(at start {result['start_mb']:.1f} MB), "
            f"{result['seconds']:5.1f} s, fast path got {result['fast']:,}, slow path {result['slow']:,}, "
            f"{'all delivered' if result['all_delivered'] else 'MESSAGES LOST'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records (default 1,000,000)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run hand-written threads with unbounded queues")
    parser.add_argument("--child", choices=["dissyslab", "join", "hand-written"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.n)
        return 0
    print(f"memory: {args.n:,} records, fanout to a fast path and a path that sleeps "
          f"{SLOW_SLEEP * 1000:g} ms every {SLOW_EVERY:,}; sinks keep counts only")
    ours = measure("dissyslab", args.n)
    print(report(ours), flush=True)
    if args.baseline:
        print(report(measure("hand-written", args.n)) + " (unbounded queues, no copies)")
    ok = ours["peak_mb"] <= LIMIT_MB and ours["all_delivered"]
    print(f"peak memory {ours['peak_mb']:.0f} MB <= {LIMIT_MB} MB with every record delivered: "
          f"{'PASS' if ok else 'FAIL'}")
    print(f"join: {args.n:,} records from a fast source and from a source that sleeps "
          f"{SLOW_SLEEP * 1000:g} ms every {SLOW_EVERY:,}, paired by a MergeSynch")
    join = measure("join", args.n)
    print(report(join).replace("fast path got", "pairs").split(", slow path")[0]
          + (", every pair matched" if join["all_delivered"] else ", PAIRS LOST OR MISMATCHED"))
    join_ok = join["peak_mb"] <= LIMIT_MB and join["all_delivered"]
    print(f"peak memory {join['peak_mb']:.0f} MB <= {LIMIT_MB} MB with every pair matched: "
          f"{'PASS' if join_ok else 'FAIL'}")
    return 0 if ok and join_ok else 1


if __name__ == "__main__":
    sys.exit(main())
