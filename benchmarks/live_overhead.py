"""Cost of the live view: the same 100,000-message networks with ``live=True`` and ``live=False``.

The runs happen in a real Jupyter kernel (started with nbclient, as when a
notebook is executed), so the widgets really send their updates over the
kernel's messaging to a client, just as they reach JupyterLab. Inside the
kernel the two settings alternate (which goes first swaps every repetition),
so a busy neighbour on a shared machine slows both alike. Prints, per
network, the median run time of each and the median of the per-repetition
ratios (live on / live off), with the spread of those ratios as the noise,
and the view's own time on the calling thread, which does all of the view's
work: before and after the nodes run (a fixed cost per run: setting up,
drawing the final state, showing the widget) and while they run (laying out
the final picture, updates at most 10 times a second).

Target: a fixed cost of at most 3 ms per run on the calling thread (the
median of the view's own time before and after the nodes run), and nothing
per message: the view's time while the nodes run comes from updates at most
10 times a second, so it follows the run's length, not its messages, and what
the sinks' threads spend telling the view of their results is one short call
per batch (both printed). A ratio on a run of a few tens of milliseconds
measures the machine as much as the view, so it is printed for information
only. ``--n 1000000`` shows a longer run.

Each repetition builds its network anew, but the same network, as a cell run
again does: the view lays out its final picture once and keeps it for the
next runs (``live._LaidOut``). ``--fresh`` forgets those pictures before each
run, so every run pays for a network drawn for the first time in the kernel.

    python benchmarks/live_overhead.py [--reps 41] [--n 100000] [--fresh]
"""

import argparse
import json
import os
import sys

import nbclient
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MS = 3.0

SETUP = r'''
import gc, statistics, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {benchmarks!r})
from small_networks import fanout, pipeline

def once(build, n, live):
    g, out = build(n)
    gc.collect()
    started = time.perf_counter()
    g.run_network(timeout=300, live=live)
    elapsed = time.perf_counter() - started
    assert len(out) == n, (len(out), n)
    return elapsed
'''

MEASURE = r'''
import dissyslab.live as live

# the view's own time in each run: before and after the nodes run, while they run
# (calling thread), and in the sinks' threads (told of each batch of results)
own = {"around": [0.0], "during": [0.0], "sinks": [0.0]}

def timed(fn, where):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            own[where][-1] += time.perf_counter() - began
    return wrapper

live.LiveView.__init__ = timed(live.LiveView.__init__, "around")
live.LiveView.started = timed(live.LiveView.started, "around")
live.LiveView.finished = timed(live.LiveView.finished, "around")
live.LiveView.tick = timed(live.LiveView.tick, "during")
live.LiveView.sink_received = timed(live.LiveView.sink_received, "sinks")

results = {}
for build in (pipeline, fanout):
    once(build, N_MESSAGES, True), once(build, N_MESSAGES, False)  # warm up: imports, first widgets, caches
    on, off = [], []
    for key in own:
        own[key][:] = []
    for rep in range(REPETITIONS):
        order = (True, False) if rep % 2 == 0 else (False, True)
        for live_on in order:
            if live_on:
                for key in own:
                    own[key].append(0.0)
                if FRESH:  # as if this network had never been drawn in this kernel
                    live._LaidOut._parts.clear()
            (on if live_on else off).append(once(build, N_MESSAGES, live_on))
    results[build.__name__] = {"on": on, "off": off, **{k: list(v) for k, v in own.items()}}
import json
print("RESULTS" + json.dumps(results))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=41)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true",
                        help="forget the pictures laid out by earlier runs before each run")
    args = parser.parse_args()

    nb = nbformat.v4.new_notebook()
    setup = SETUP.format(root=ROOT, benchmarks=os.path.join(ROOT, "benchmarks"))
    nb.cells = [nbformat.v4.new_code_cell(setup),
                nbformat.v4.new_code_cell(MEASURE.replace("N_MESSAGES", str(args.n))
                                           .replace("REPETITIONS", str(args.reps))
                                           .replace("FRESH", str(args.fresh)))]
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600)
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    line = next((ln for ln in text.splitlines() if ln.startswith("RESULTS")), None)
    if line is None:
        sys.exit(f"the kernel printed no results:\n{text}\n{nb.cells[1].outputs}")
    results = json.loads(line[len("RESULTS"):])
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})

    import statistics

    med = statistics.median
    print(f"live view overhead, {args.n:,} messages from the source, {args.reps} repetitions "
          f"each, in a real kernel ({len(widgets.get('state', {}))} widget models reached the "
          f"client){'; every run draws its network for the first time' if args.fresh else ''}")
    worst = 0.0
    for name, r in results.items():
        ratios = [a / b for a, b in zip(r["on"], r["off"], strict=True)]
        fixed = med(r["around"]) * 1000
        worst = max(worst, fixed)
        print(f"  {name:<9} the view's fixed cost per run, on the calling thread: {fixed:.2f} ms "
              f"(set up, final state, show; quartiles "
              f"{' .. '.join(f'{q * 1000:.2f}' for q in _quartiles(r['around']))} ms)")
        print(f"  {'':<9} while the nodes run: {med(r['during']) * 1000:.2f} ms on the calling "
              f"thread (lay out, updates at most 10 a second), {med(r['sinks']) * 1000:.2f} ms "
              f"in the sinks' threads (one call per batch of results)")
        print(f"  {'':<9} for information: run {med(r['off']) * 1000:.1f} ms off, "
              f"{med(r['on']) * 1000:.1f} ms on, ratio on/off {med(ratios):.3f}")
    verdict = "OK" if worst <= TARGET_MS else "ABOVE TARGET"
    print(f"largest fixed cost {worst:.2f} ms per run, target <= {TARGET_MS:.1f} ms: {verdict}")
    return 0 if worst <= TARGET_MS else 1


def _quartiles(values):
    import statistics

    return statistics.quantiles(values, n=4) if len(values) >= 4 else values


if __name__ == "__main__":
    sys.exit(main())
