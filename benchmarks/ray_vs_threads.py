"""The Ray engine against threads, each measurement in a fresh interpreter: when do processes pay?

    python benchmarks/ray_vs_threads.py [--reps 3] [--n 100000] [--only cpu-24]

Every measurement is one new Python process that builds a network, runs it once
untimed, then builds a new network object of the same workload and times its
``g.run_network(...)`` call whole: everything inside it counts (on Ray the
checks, taking hosts from the pool and loading the nodes into them, the run,
giving the hosts back). On Ray that is the second run of the process, with Ray
already started and the pool of node-host processes warm, as for a student
running a cell again; the first run's time (its hosts started then) and Ray's
own start (``ray.init``) are printed beside it. Threads and Ray alternate, which
goes first swapping each repetition, so a busy neighbour slows both alike; the
median of the per-repetition ratios (threads time / Ray time: above 1 means Ray
is faster) is printed with its range.

Workloads:

* ``cpu-24``: a source and two paths, each doing about 20 ms of pure-Python
  work per message, 24 messages (about 1 s on threads), into one sink. Threads
  share one interpreter, so the two paths take turns at it (the GIL); on Ray
  each path is a process and they compute at once. Target: Ray >= 1.6x.
* ``cpu-150``: the same with 150 messages of about 10 ms. Target: Ray >= 1.6x.
* ``small``: the pipeline of ``workloads.py`` (source -> triple -> add_one ->
  sink, ``--n`` integers): each message costs far more to pickle and send than
  to compute. Target: Ray >= 0.5x threads.
* ``large``: 200 messages of 1 MB (``bytes``) through two transforms into a
  sink: what moving big messages between processes costs (threads move none:
  a bytes object is passed as it is). No target; the ratio is reported.

The work per message is calibrated once, by this process, and every measuring
process gets the same number of loops.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: workload: (messages per path, seconds of work per message) for the CPU-bound ones
CPU = {"cpu-24": (24, 0.020), "cpu-150": (150, 0.010)}
#: the lowest ratio (threads time / Ray time) each workload must reach
TARGETS = {"cpu-24": 1.6, "cpu-150": 1.6, "small": 0.5, "large": None}
TITLES = {"cpu-24": "CPU-bound, 2 paths x 24 messages x ~20 ms",
          "cpu-150": "CPU-bound, 2 paths x 150 messages x ~10 ms",
          "small": "small messages through source -> 2 transforms -> sink",
          "large": "200 messages of 1 MB through source -> 2 transforms -> sink"}


def spin(x, loops):
    """Pure-Python work: ``loops`` turns of a small loop."""
    total = 0
    for i in range(loops):
        total += (i * x) % 7
    return x + total * 0


def calibrate() -> float:
    """Seconds one loop of ``spin`` takes here (the best of 5)."""
    loops = 20_000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        spin(3, loops)
        best = min(best, time.perf_counter() - start)
    return best / loops


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


def build(workload, loops, n):
    """A new network of ``workload`` and a check of what its sinks got."""
    from dissyslab import ListSource, Sink, Source, Transform, network

    if workload == "small":
        from workloads import pipeline

        w = pipeline(n)
        return network(w.edges), lambda: w.check("small messages")
    if workload == "large":
        sizes = []
        a, b = Transform(fn=same, name="a"), Transform(fn=len, name="b")
        g = network([(Source(fn=Blobs(200, 1_000_000).next, name="blobs"), a), (a, b),
                     (b, Sink(fn=sizes.append, name="sizes"))])

        def check_sizes():
            assert sizes == [1_000_000] * 200, "the large-message run lost messages"
        return g, check_sizes
    m = CPU[workload][0]
    got = []
    src = Source(fn=ListSource(list(range(m))).run, name="numbers")
    left = Transform(fn=spin, params={"loops": loops}, name="left")
    right = Transform(fn=spin, params={"loops": loops}, name="right")
    sink = Sink(fn=got.append, name="results")
    g = network([(src, left), (src, right), (left, sink), (right, sink)])

    def check():
        assert sorted(got) == sorted(list(range(m)) * 2), "the CPU-bound run lost messages"
    return g, check


def measure(engine, workload, loops, n):
    """In a fresh process: one untimed run, then one timed run of a new network."""
    out = {}
    if engine == "ray":
        from dissyslab.ray_pool import connect

        start = time.perf_counter()
        connect()
        out["ray_start"] = time.perf_counter() - start
    runs = []
    for _ in range(2):
        g, check = build(workload, loops, n)
        start = time.perf_counter()
        g.run_network(timeout=600, engine=engine, live=False)
        runs.append(time.perf_counter() - start)
        check()
        if engine == "ray":
            out.setdefault("processes", []).append(g.last_run.ray_processes)
    out["first"], out["time"] = runs
    return out


def child(engine, workload, loops, n):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", engine, workload,
           str(loops), str(n)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{engine} {workload} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000, help="messages of the small-message pipeline")
    ap.add_argument("--only", choices=list(TARGETS), action="append")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, workload, loops, n = args.child
        print(json.dumps(measure(engine, workload, int(loops), int(n))))
        return

    per_loop = calibrate()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
          f"medians of {args.reps} repetitions, each measurement a fresh interpreter")
    ray_starts, met = [], True
    for workload in args.only or list(TARGETS):
        loops = int(CPU[workload][1] / per_loop) if workload in CPU else 0
        times = {"threads": [], "ray": []}
        ratios, firsts, processes = [], [], []
        for rep in range(args.reps):
            for engine in (("threads", "ray") if rep % 2 == 0 else ("ray", "threads")):
                r = child(engine, workload, loops, args.n)
                times[engine].append(r["time"])
                if engine == "ray":
                    firsts.append(r["first"])
                    ray_starts.append(r["ray_start"])
                    processes.append(r["processes"][1])
            ratios.append(times["threads"][-1] / times["ray"][-1])
        th, ra = statistics.median(times["threads"]), statistics.median(times["ray"])
        ratio = statistics.median(ratios)
        target = TARGETS[workload]
        ok = target is None or ratio >= target
        met &= ok
        count = {"large": 200}.get(workload, 2 * CPU[workload][0] if workload in CPU else args.n)
        print(f"\n{TITLES[workload]}" + (f" ({loops} loops)" if loops else
                                         "" if workload == "large" else f" ({args.n:,})"))
        print(f"  threads              {th:7.2f} s   {count / th:10,.0f} messages/s")
        print(f"  ray, pool warm       {ra:7.2f} s   {count / ra:10,.0f} messages/s   "
              f"(hosts of that run: {processes[-1]})")
        print(f"  ray, first run       {statistics.median(firsts):7.2f} s   (its hosts started "
              f"then; Ray already started)")
        print(f"  threads / ray: {ratio:.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}), "
              f"load {os.getloadavg()[0]:.1f}; " + ("no target" if target is None else
                                                     f"target >= {target}x: {'PASS' if ok else 'FAIL'}"))
    print(f"\nRay's own start in a new process (ray.init): median {statistics.median(ray_starts):.1f} s "
          f"(range {min(ray_starts):.1f}-{max(ray_starts):.1f} s)")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
