"""Property: on any DAG, every message reaches every reachable sink once per path, in order."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissyslab import ListSource, Sink, Source, Transform, network


@st.composite
def dags(draw):
    """A random layered DAG: sources, then transforms (some filter), then sinks."""
    n_src = draw(st.integers(1, 3))
    n_mid = draw(st.integers(0, 5))
    n_snk = draw(st.integers(1, 3))
    names = [f"s{i}" for i in range(n_src)] + [f"t{i}" for i in range(n_mid)] + [f"k{i}" for i in range(n_snk)]
    edges = set()
    for j in range(n_src, len(names)):
        # every non-source gets one or more senders from earlier in the order
        senders = draw(st.sets(st.integers(0, min(j, n_src + n_mid) - 1), min_size=1, max_size=3))
        edges |= {(i, j) for i in senders}
    for i in range(n_src + n_mid):
        if not any(a == i for a, _ in edges):
            edges.add((i, draw(st.integers(max(i + 1, n_src), len(names) - 1))))
    filters = draw(st.lists(st.integers(0, 4), min_size=n_mid, max_size=n_mid))
    counts = draw(st.lists(st.integers(0, 40), min_size=n_src, max_size=n_src))
    return names, sorted(edges), filters, counts


def keeps(name, modulus, m):
    """The filter of transform ``name``: drops messages whose number hits its modulus."""
    return modulus < 2 or (m[1] + len(name)) % modulus != 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_every_message_reaches_every_sink_once_per_path_in_order(dag):
    names, edges, filters, counts = dag
    n_src = len(counts)
    results = {n: [] for n in names if n.startswith("k")}
    nodes = []
    for idx, name in enumerate(names):
        if name.startswith("s"):
            items = [(name, i, (name,)) for i in range(counts[idx])]
            nodes.append(Source(fn=ListSource(items).run, name=name))
        elif name.startswith("t"):
            mod = filters[idx - n_src]

            def step(m, name=name, mod=mod):
                return (m[0], m[1], m[2] + (name,)) if keeps(name, mod, m) else None
            nodes.append(Transform(fn=step, name=name))
        else:
            nodes.append(Sink(fn=lambda m, name=name: results[name].append(m[:2] + (m[2] + (name,),)), name=name))
    g = network([(nodes[a], nodes[b]) for a, b in edges])
    g.run_network(timeout=20)

    # expected: for each path, the messages that survive every filter on it, in order
    expected = {}
    for path in g.paths():
        route = tuple(n.name for n in path)
        src = route[0]
        kept = [i for i in range(counts[names.index(src)])
                if all(keeps(n, filters[names.index(n) - n_src], (src, i)) for n in route[1:-1])]
        expected[route] = kept
    got = {}
    for sink_results in results.values():
        for src, i, route in sink_results:
            got.setdefault(route, []).append(i)
    assert {r: v for r, v in got.items()} == {r: v for r, v in expected.items() if v}
