"""Cost of the live view: the same 100,000-message networks with ``live=True`` and ``live=False``.

The runs happen in a real Jupyter kernel (started with nbclient, as when a
notebook is executed), so the widgets really send their updates over the
kernel's messaging to a client, just as they reach JupyterLab. Inside the
kernel the two settings alternate (which goes first swaps every repetition),
so a busy neighbour on a shared machine slows both alike. Prints, per
network, the median run time of each and the median of the per-repetition
ratios (live on / live off), with the spread of those ratios as the noise.

Target: the ratio is at most 1.10 (the live view costs at most 10%).

    python benchmarks/live_overhead.py [--reps 15] [--n 100000]
"""

import argparse
import json
import os
import sys

import nbclient
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.10

SETUP = r'''
import gc, statistics, sys, time
sys.path.insert(0, {root!r})
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
    words = Source(fn=ListSource(items=[f"word{{i}}" for i in range(n)]).run, name="word_source")
    up = Transform(fn=str.upper, name="uppercase")
    rev = Transform(fn=lambda s: s[::-1], name="reverse")
    return network([(words, up), (words, rev),
                    (up, Sink(fn=upper.append, name="collector_upper")),
                    (rev, Sink(fn=backwards.append, name="collector_reverse"))]), upper

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
results = {{}}
for build in (pipeline, fanout):
    once(build, {n}, True), once(build, {n}, False)  # warm up: imports, first widgets, caches
    on, off = [], []
    for rep in range({reps}):
        order = (True, False) if rep % 2 == 0 else (False, True)
        for live in order:
            (on if live else off).append(once(build, {n}, live))
    results[build.__name__] = {{"on": on, "off": off}}
import json
print("RESULTS" + json.dumps(results))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.format(root=ROOT)),
                nbformat.v4.new_code_cell(MEASURE.format(n=args.n, reps=args.reps))]
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600)
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    line = next((ln for ln in text.splitlines() if ln.startswith("RESULTS")), None)
    if line is None:
        sys.exit(f"the kernel printed no results:\n{text}\n{nb.cells[1].outputs}")
    results = json.loads(line[len("RESULTS"):])
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})

    import statistics

    print(f"live view overhead, {args.n:,} messages from the source, {args.reps} repetitions "
          f"each, in a real kernel ({len(widgets.get('state', {}))} widget models sent to the client)")
    worst = 0.0
    for name, r in results.items():
        ratios = [a / b for a, b in zip(r["on"], r["off"])]
        ratio = statistics.median(ratios)
        worst = max(worst, ratio)
        spread = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else ratios
        print(f"  {name:<9} off {statistics.median(r['off']) * 1000:7.1f} ms   "
              f"on {statistics.median(r['on']) * 1000:7.1f} ms   "
              f"ratio on/off {ratio:.3f} (quartiles {spread[0]:.3f} .. {spread[-1]:.3f})")
    verdict = "OK" if worst <= TARGET else "ABOVE TARGET"
    print(f"worst ratio {worst:.3f}, target <= {TARGET:.2f}: {verdict}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
