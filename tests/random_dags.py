"""Random DAGs of sources, filtering transforms and sinks, for property tests.

Each message is ``[source, number, route]``; every transform appends its name to
the route of its own copy, so a sink can tell which path a message took (and a
copy shared between paths would show up as a wrong route).
"""

from hypothesis import strategies as st

from dissyslab import ListSource, Sink, Source, Transform, network


@st.composite
def dags(draw):
    """(names, edges, filters, counts, seed): a random layered DAG and a schedule seed."""
    n_src = draw(st.integers(1, 3))
    n_mid = draw(st.integers(0, 5))
    n_snk = draw(st.integers(1, 3))
    names = ([f"s{i}" for i in range(n_src)] + [f"t{i}" for i in range(n_mid)]
             + [f"k{i}" for i in range(n_snk)])
    edges = set()
    for j in range(n_src, len(names)):
        # every non-source gets one or more senders from earlier in the order
        senders = draw(st.sets(st.integers(0, min(j, n_src + n_mid) - 1), min_size=1, max_size=3))
        edges |= {(i, j) for i in senders}
    for i in range(n_src + n_mid):
        if not any(a == i for a, _ in edges):
            edges.add((i, draw(st.integers(max(i + 1, n_src), len(names) - 1))))
    filters = draw(st.lists(st.integers(0, 4), min_size=n_mid, max_size=n_mid))
    counts = draw(st.lists(st.integers(0, 30), min_size=n_src, max_size=n_src))
    seed = draw(st.integers(0, 2**32))
    return names, sorted(edges), filters, counts, seed


def keeps(name, modulus, i):
    """The filter of transform ``name``: drops the messages whose number hits its modulus."""
    return modulus < 2 or (i + len(name)) % modulus != 0


def build(dag):
    """The network of ``dag`` and the dict its sinks fill: sink name -> [(source, i, route)]."""
    names, edges, filters, counts, _ = dag
    n_src = len(counts)
    results = {n: [] for n in names if n.startswith("k")}
    nodes = []
    for idx, name in enumerate(names):
        if name.startswith("s"):
            items = [[name, i, [name]] for i in range(counts[idx])]
            nodes.append(Source(fn=ListSource(items).run, name=name))
        elif name.startswith("t"):
            mod = filters[idx - n_src]

            def step(m, name=name, mod=mod):
                if not keeps(name, mod, m[1]):
                    return None
                m[2].append(name)  # changes its own copy: must not be seen on other paths
                return m
            nodes.append(Transform(fn=step, name=name))
        else:
            nodes.append(Sink(fn=lambda m, name=name: results[name].append(
                (m[0], m[1], tuple(m[2]) + (name,))), name=name))
    return network([(nodes[a], nodes[b]) for a, b in edges]), results


def check_delivery(g, dag, results):
    """Each path got exactly the messages that pass its filters, once, in the source's order."""
    names, _, filters, counts, _ = dag
    n_src = len(counts)
    expected = {}
    for path in g.paths():
        route = tuple(n.name for n in path)
        kept = [i for i in range(counts[names.index(route[0])])
                if all(keeps(n, filters[names.index(n) - n_src], i) for n in route[1:-1])]
        if kept:
            expected[route] = kept
    got = {}
    for sink_results in results.values():
        for source, i, route in sink_results:
            assert route[0] == source
            got.setdefault(route, []).append(i)
    assert got == expected
