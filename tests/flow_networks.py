"""Random networks for comparing the schedulers (tests/test_flow.py, tests/test_ray.py).

A network is described by plain data (``spec``), so the same one can be built
again for each scheduler. Every message is ``[source, number, route]``; every
transform and split adds its name (a split also its port) to the route of its
own copy, so a sink can tell which path, and which edge, a message came along.

* Transforms may filter (by number), fail at one number, or return a message
  that can be neither copied nor pickled at one number.
* Splits have two ports, and may send both into one receiver.
* A node may send to several receivers (fanout).
* Optionally a retry loop: a node sends each message round a loop a few times.
"""

import threading

from hypothesis import strategies as st

from dissyslab import ListSource, NetworkError, Sink, Source, Split, Transform, network


class Unsendable:
    """A message that can be neither copied nor pickled (it holds a lock)."""

    def __init__(self, n):
        self.n = n
        self.lock = threading.Lock()

    def __repr__(self):
        return f"Unsendable({self.n})"


@st.composite
def specs(draw, determinate=False, faults=True, loops=True, unsendable=True):
    """A random network as data: (kinds, edges, params, counts).

    ``determinate``: every input of every node has exactly one edge (Kahn: the
    same results under every schedule, failures included). ``unsendable``: nodes
    may make messages that cannot be copied or pickled (on Ray no such message
    can travel at all, where threads copy only for fanout: compare those apart).
    """
    n_src = draw(st.integers(1, 2 if not determinate else 1))
    n_mid = draw(st.integers(1, 4))
    n_snk = draw(st.integers(1, 3))
    kinds = (["source"] * n_src + [draw(st.sampled_from(["transform", "split"])) for _ in range(n_mid)]
             + ["sink"] * n_snk)
    n = len(kinds)
    params = []
    for k in kinds:
        p = {}
        if k in ("transform", "split"):
            p["mod"] = draw(st.integers(0, 4))
            if faults:
                p["fail_at"] = draw(st.one_of(st.none(), st.integers(0, 12)))
                if unsendable:
                    p["bad_at"] = draw(st.one_of(st.none(), st.integers(0, 12)))
        params.append(p)
    edges = []  # (src, src_port, dst)
    outs = {i: ([0, 1] if kinds[i] == "split" else [None]) for i in range(n)
            if kinds[i] != "sink"}
    if determinate:
        # a tree: each non-source has exactly one sender (port), each port any number of receivers
        free_ports = [(i, p) for i in range(n_src) for p in outs[i]]
        for j in range(n_src, n):
            i, p = draw(st.sampled_from(free_ports))
            edges.append((i, p, j))
            if kinds[j] != "sink":
                free_ports += [(j, q) for q in outs[j]]
        used = {(i, p) for i, p, _ in edges}
        unused = [(a, q) for a in outs for q in outs[a] if (a, q) not in used]
        for a, q in unused:  # a sink of its own: every input keeps one edge
            kinds.append("sink")
            params.append({})
            edges.append((a, q, len(kinds) - 1))
    else:
        for j in range(n_src, n):
            for _ in range(draw(st.integers(1, 3))):
                i = draw(st.integers(0, min(j, n_src + n_mid) - 1))
                p = draw(st.sampled_from(outs[i]))
                if (i, p, j) not in edges:
                    edges.append((i, p, j))
        for i in outs:
            for p in outs[i]:
                if not any(a == i and q == p for a, q, _ in edges):
                    edges.append((i, p, draw(st.integers(max(i + 1, n_src), n - 1))))
    loop = None
    if loops and not determinate and draw(st.booleans()):
        # a retry loop at one middle node: it sends each message round up to ``rounds`` times
        loop = {"at": draw(st.integers(n_src, n_src + n_mid - 1)), "rounds": draw(st.integers(1, 3)),
                "fail_at": draw(st.one_of(st.none(), st.integers(0, 8))) if faults else None}
    counts = [draw(st.integers(0, 12)) for _ in range(n_src)]
    return kinds, sorted(edges, key=lambda e: (e[0], -1 if e[1] is None else e[1], e[2])), \
        params, counts, loop


def build(spec):
    """The network of ``spec`` and the dict its sinks fill (sink name -> [(source, i, route)])."""
    kinds, edges, params, counts, loop = spec
    results = {}
    nodes = []
    for idx, kind in enumerate(kinds):
        name = f"{kind[:2]}{idx}"
        p = params[idx]
        if kind == "source":
            items = [[name, i, (name,)] for i in range(counts[idx])]
            nodes.append(Source(fn=ListSource(items).run, name=name))
        elif kind == "transform":
            nodes.append(Transform(fn=_step(name, p), name=name))
        elif kind == "split":
            nodes.append(Split(fn=_split(name, p), num_outputs=2, name=name))
        else:
            results[name] = []
            nodes.append(Sink(fn=lambda m, name=name: results[name].append(
                (m[0], m[1], tuple(m[2]) + (name,))), name=name))
    pairs = []
    for a, port, b in edges:
        src = nodes[a] if port is None else getattr(nodes[a], f"out_{port}")
        pairs.append((src, nodes[b]))
    if loop is not None:
        at = nodes[loop["at"]]
        back = Transform(fn=_back(loop["rounds"], loop["fail_at"]), name="back")
        src = at if kinds[loop["at"]] == "transform" else at.out_0
        pairs += [(src, back), (back, at)]
    return network(pairs), results


def _keeps(name, mod, i):
    return mod < 2 or (i + len(name)) % mod != 0


def _step(name, p):
    def step(m):
        if type(m) is not list:
            return m
        if m[1] == p.get("fail_at"):
            raise ValueError(f"{name} fails at {m[1]}")
        if m[1] == p.get("bad_at") and len(m) == 3:
            return Unsendable(m[1])
        if not _keeps(name, p.get("mod", 0), m[1]):
            return None
        return [m[0], m[1], m[2] + (name,)] + m[3:]
    return step


def _split(name, p):
    def split(m):
        if type(m) is not list:
            return [m, None]
        if m[1] == p.get("fail_at"):
            raise ValueError(f"{name} fails at {m[1]}")
        if m[1] == p.get("bad_at") and len(m) == 3:
            return [Unsendable(m[1]), None]
        first = [m[0], m[1], m[2] + (f"{name}.0",)] + m[3:]
        second = [m[0], m[1], m[2] + (f"{name}.1",)] + m[3:]
        return [first, second if _keeps(name, p.get("mod", 0), m[1]) else None]
    return split


def _back(rounds, fail_at):
    def back(m):
        if type(m) is not list:
            return None
        if m[1] == fail_at and len(m) == 3:
            raise ValueError(f"back fails at {m[1]}")
        done = m[3] if len(m) > 3 else 0
        if done >= rounds:
            return None
        return [m[0], m[1], m[2] + ("back",), done + 1]
    return back


def outcome(spec, **run):
    """Run a fresh network of ``spec``; what a user relies on, to compare between schedulers."""
    g, results = build(spec)
    failed = False
    try:
        g.run_network(live=False, **run)
    except NetworkError:
        failed = True
    r = g.last_run
    assert r.outcome == "finished", r.outcome
    received, discarded, sent = g.edge_received, g.edge_discarded, g.edge_counts
    for e in g.edges:  # every message sent along an edge is handled or thrown away
        assert sent[e] == received[e] + discarded[e], (e.label, sent[e], received[e], discarded[e])
    per_route = {}  # each path's messages, by number, in the order its sink got them
    for got in results.values():
        for _source, i, route in got:
            per_route.setdefault(route, []).append(i)
    return {
        "sinks": {name: sorted(map(repr, got)) for name, got in results.items()},
        "per_route": per_route,
        "stats": {name: (s.received, s.sent, s.dropped, s.failed, s.discarded)
                  for name, s in g.stats.items()},
        "edges": {e.label: (sent[e], received[e], discarded[e]) for e in g.edges},
        "failed": failed,
    }
