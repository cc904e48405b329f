"""The Ray engine against threads, side by side in one run: when do processes pay?

    python benchmarks/ray_vs_threads.py [--reps 3] [--messages 150] [--n 100000]

Two workloads, each run on both engines in turn (the order swapping at every
repetition, so that a busy neighbour slows both alike); the medians are printed.

* **CPU-bound**: a source and two paths, each path doing about 10 ms of pure
  Python work per message (calibrated on this machine first), into one sink.
  Threads share one interpreter, so the two paths take turns at it (the GIL);
  on Ray each path is a process of its own and they work at once. The Ray
  time is the run with the nodes' processes already started
  (``g.last_run.ray_times["run"]``); the cold start (Ray's first start, then
  each run's start of its processes) is reported beside it.
  Target: Ray at least 1.6x faster on a 2-core machine.
* **Small messages**: the pipeline of ``workloads.py`` (source → triple →
  add_one → sink, 100,000 integers). Here each message costs far more to
  pickle and send between processes than to compute: reported with its
  ratio, no target.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dissyslab import ListSource, Sink, Source, Transform, network  # noqa: E402
from workloads import pipeline  # noqa: E402

#: the per-message work of each CPU-bound path, in seconds
WORK = 0.010
LOOPS = 10_000  # set by calibrate()


def spin(x, loops):
    """Pure-Python work: about WORK seconds once ``loops`` is calibrated."""
    total = 0
    for i in range(loops):
        total += (i * x) % 7
    return x + total * 0


def calibrate() -> int:
    """The number of loops of ``spin`` that take about WORK seconds here."""
    loops = 20_000
    best = min(_time(lambda: spin(3, loops)) for _ in range(5))
    return max(1, int(loops * WORK / best))


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_bound(messages, loops):
    """source → two paths (each ~10 ms per message) → one sink; the network and its results."""
    got = []
    src = Source(fn=ListSource(list(range(messages))).run, name="numbers")
    left = Transform(fn=spin, params={"loops": loops}, name="left")
    right = Transform(fn=spin, params={"loops": loops}, name="right")
    sink = Sink(fn=got.append, name="results")
    return network([(src, left), (src, right), (left, sink), (right, sink)]), got


def one(engine, build, check):
    g, got = build()
    start = time.perf_counter()
    g.run_network(timeout=600, engine=engine, live=False)
    total = time.perf_counter() - start
    check(got)
    if engine == "ray":
        return g.last_run.ray_times["run"], total
    return total, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--messages", type=int, default=150, help="messages of the CPU-bound run")
    ap.add_argument("--n", type=int, default=100_000, help="messages of the small-message pipeline")
    args = ap.parse_args()

    from dissyslab.ray_engine import connect
    first = time.perf_counter()
    connect()
    ray_start = time.perf_counter() - first

    loops = calibrate()
    m = args.messages
    print(f"CPU-bound: {m} messages, two paths of ~{WORK * 1000:.0f} ms each "
          f"({loops} loops, calibrated), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")

    def cpu_check(got):
        assert sorted(got) == sorted(list(range(m)) * 2), "the CPU-bound run lost messages"

    def pipe_build():
        w = pipeline(args.n)
        g = network(w.edges)
        return g, w

    def pipe_check(w):
        w.check("pipeline")

    for name, build, check in (("CPU-bound", lambda: cpu_bound(m, loops), cpu_check),
                               ("small messages", pipe_build, pipe_check)):
        one("ray", build, check)  # untimed: imports and first start of the processes
        times = {"threads": [], "ray": [], "ray total": []}
        for rep in range(args.reps):
            for engine in (("threads", "ray") if rep % 2 == 0 else ("ray", "threads")):
                warm, total = one(engine, build, check)
                times[engine].append(warm)
                if engine == "ray":
                    times["ray total"].append(total)
        th, ra, cold = (statistics.median(times[k]) for k in ("threads", "ray", "ray total"))
        count = 2 * m if name == "CPU-bound" else args.n
        print(f"\n{name}:")
        print(f"  threads                 {th:7.2f} s   {count / th:10,.0f} messages/s")
        print(f"  ray (processes started) {ra:7.2f} s   {count / ra:10,.0f} messages/s")
        print(f"  ray with its start      {cold:7.2f} s   (each run starts its nodes' processes)")
        print(f"  speed-up of Ray: {th / ra:.2f}x (with its start: {th / cold:.2f}x)")
        if name == "CPU-bound":
            verdict = "PASS" if th / ra >= 1.6 else "FAIL"
            print(f"  target: at least 1.6x faster on Ray ... {verdict}")
    print(f"\nRay's own first start in this process (ray.init): {ray_start:.1f} s")


if __name__ == "__main__":
    main()
