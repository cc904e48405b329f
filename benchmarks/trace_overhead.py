"""Cost of tracing being available but off: ``g.run_network(trace=False)`` against the bare runtime.

Tracing is an observer attached only when ``trace=True``: with it off, no
function is wrapped and the runtime's hot path is the plain one. This script
checks that: the same 100,000-message networks run through
``run_network(trace=False)`` (the tracing and seeding wiring in place, off) and
through ``dissyslab.threads.run`` directly (no wiring at all). The two
alternate (which goes first swaps every repetition) so a busy neighbour on a
shared machine slows both alike. Prints, per network, the median run time of
each and the median of the per-repetition ratios (off / bare), with the
spread of those ratios as the noise. For information it also times
``trace=True`` (every event recorded: that one is meant to cost).

Target: the ratio off / bare is at most 1.05, i.e. within measurement noise.

    python benchmarks/trace_overhead.py [--reps 9] [--n 100000]
"""

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dissyslab.threads import run  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_networks import fanout, pipeline  # noqa: E402

TARGET = 1.05


def once(build, n, how):
    g, out = build(n)
    gc.collect()
    started = time.perf_counter()
    if how == "bare":
        run(g, timeout=300)
    else:
        g.run_network(timeout=300, trace=(how == "traced"), live=False)
    elapsed = time.perf_counter() - started
    assert len(out) == n, (len(out), n)
    return elapsed


def measure(build, n, reps, traced_reps):
    times = {"bare": [], "off": [], "traced": []}
    ratios = []
    for i in range(reps):
        order = ("bare", "off") if i % 2 == 0 else ("off", "bare")
        got = {how: once(build, n, how) for how in order}
        for how, t in got.items():
            times[how].append(t)
        ratios.append(got["off"] / got["bare"])
    for _ in range(traced_reps):
        times["traced"].append(once(build, n, "traced"))
    return times, ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--traced-reps", type=int, default=3)
    args = parser.parse_args(argv)
    worst = 0.0
    for build in (pipeline, fanout):
        times, ratios = measure(build, args.n, args.reps, args.traced_reps)
        bare, off = statistics.median(times["bare"]), statistics.median(times["off"])
        ratio = statistics.median(ratios)
        worst = max(worst, ratio)
        line = (f"{build.__name__:<9} {args.n:,} messages: bare runtime {bare * 1000:7.1f} ms, "
                f"trace off {off * 1000:7.1f} ms, ratio {ratio:.3f} "
                f"(spread {min(ratios):.3f}-{max(ratios):.3f})")
        if times["traced"]:
            traced = statistics.median(times["traced"])
            line += f"; trace on {traced * 1000:.0f} ms ({traced / bare:.1f}x)"
        print(line, flush=True)
    verdict = "PASS" if worst <= TARGET else "FAIL"
    print(f"{verdict}: tracing off costs {100 * (worst - 1):+.1f}% (target at most "
          f"{100 * (TARGET - 1):+.0f}%)")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
