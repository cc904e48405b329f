"""Sub-networks: a piece built once with network(edges, inputs=, outputs=, name=), used like a node.

The larger network is built flat, so it must run exactly as the same network
written out edge by edge: same results, same copies, same errors, in every
scheduler. Names of inner nodes are qualified by the piece's name.
"""

import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dissyslab import (
    DuplicateEdgeWarning,
    ListSource,
    MergeSynch,
    NetworkError,
    Sink,
    Source,
    Split,
    Transform,
    check,
    network,
)
from dissyslab.check import CheckFailed
from random_dags import build, check_delivery, dags

T = 20  # seconds: the time limit of every run in this file


# --- a piece built by a function, used twice ------------------------------------------------

def cleaner(name="cleaner"):
    """strip, then lower-case: a piece with one input and one output."""
    strip = Transform(fn=str.strip, name="strip")
    lower = Transform(fn=str.lower, name="lower")
    return network([(strip, lower)], inputs=[strip], outputs=[lower], name=name)


def words(*items, name="words"):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def collector(name="results"):
    got = []
    return Sink(fn=got.append, name=name), got


def test_a_piece_is_wired_like_a_transform_and_its_nodes_get_qualified_names():
    piece = cleaner()
    sink, got = collector()
    g = network([(words("  Hello ", " WORLD"), piece), (piece, sink)])
    assert [g.name_of(n) for n in g.nodes] == ["words", "cleaner/strip", "cleaner/lower", "results"]
    assert [e.label for e in g.edges] == [
        "words → cleaner/strip", "cleaner/strip → cleaner/lower", "cleaner/lower → results"]
    g.run_network(timeout=T)
    assert got == ["hello", "world"]
    assert g.stats["cleaner/lower"].sent == 2
    assert g.node("cleaner/strip") is piece.node("strip")
    assert g.part_of(g.node("cleaner/strip")) == "cleaner"
    assert g.part_of(g.node("words")) is None


def test_a_builder_called_twice_gives_two_independent_pieces_named_apart():
    a, b = cleaner(), cleaner()
    assert not {id(n) for n in a.nodes} & {id(n) for n in b.nodes}
    sink, got = collector()
    g = network([(words(" Ab "), a), (a, b), (b, sink)])
    assert [g.name_of(n) for n in g.nodes] == [
        "words", "cleaner/strip", "cleaner/lower", "cleaner_2/strip", "cleaner_2/lower", "results"]
    assert [p.name for p in g.parts] == ["cleaner", "cleaner_2"]
    g.run_network(timeout=T, seed=1)
    assert got == ["ab"]
    assert g.stats["cleaner_2/strip"].received == 1


def test_pieces_without_a_name_are_named_network_network_2_like_nodes():
    def piece():
        t = Transform(fn=str.upper, name="up")
        u = Transform(fn=str.strip, name="trim")
        return network([(t, u)], inputs=[t], outputs=[u])

    sink, got = collector()
    p1, p2 = piece(), piece()
    g = network([(words(" a "), p1), (p1, p2), (p2, sink)])
    assert [p.name for p in g.parts] == ["network", "network_2"]
    assert "network_2/trim" in g.stats
    g.run_network(timeout=T)
    assert got == ["A"]


def test_ports_of_a_piece_with_a_split_output_and_a_merge_input():
    def router():
        sp = Split(fn=lambda x: [x, x], num_outputs=2, name="sp")
        double = Transform(fn=lambda x: 2 * x, name="double")
        return network([(sp.out_0, double)], inputs=[sp], outputs=[double, sp.out_1], name="router")

    def pairer():
        m = MergeSynch(num_inputs=2, name="m")
        neg = Transform(fn=lambda x: -x, name="neg")
        return network([(neg, m.in_1)], inputs=[m.in_0, neg], outputs=[m], name="pairer")

    r, p = router(), pairer()
    assert (repr(r.in_0), repr(r.out_1)) == ("router.in_0", "router.out_1")
    sink, got = collector()
    g = network([(Source(fn=ListSource([1, 2, 3, 4]).run, name="nums"), r),
                 (r.out_0, p.in_0), (r.out_1, p.in_1), (p, sink)])
    assert [e.label for e in g.edges] == [
        "nums → router/sp", "router/sp.out_0 → router/double", "router/double → pairer/m.in_0",
        "pairer/neg → pairer/m.in_1", "router/sp.out_1 → pairer/neg", "pairer/m → results"]
    g.run_network(timeout=T)
    assert got == [[2, -1], [4, -2], [6, -3], [8, -4]]


def test_nested_pieces_qualify_names_at_every_level():
    def pair():
        a, b = cleaner(), cleaner()
        return network([(a, b)], inputs=[a], outputs=[b], name="pair")

    outer = pair()
    assert [outer.name_of(n) for n in outer.nodes] == [
        "cleaner/strip", "cleaner/lower", "cleaner_2/strip", "cleaner_2/lower"]
    sink, got = collector()
    g = network([(words(" X "), outer), (outer, sink)])
    assert [p.name for p in g.parts] == ["pair", "pair/cleaner", "pair/cleaner_2"]
    assert [p.parent for p in g.parts] == [None, "pair", "pair"]
    assert g.part_of(g.node("pair/cleaner_2/lower")) == "pair/cleaner_2"
    g.run_network(timeout=T)
    assert got == ["x"]


def test_building_the_outer_network_changes_neither_piece_nor_nodes_and_both_run():
    piece = cleaner()
    before = ([piece.name_of(n) for n in piece.nodes], [e.label for e in piece.edges],
              [n.name for n in piece.nodes], repr(piece))
    s1, got1 = collector("first")
    s2, got2 = collector("second")
    g1 = network([(words(" A "), piece), (piece, s1)])
    g2 = network([(words(" B ", name="other"), piece), (piece, s2)])
    after = ([piece.name_of(n) for n in piece.nodes], [e.label for e in piece.edges],
             [n.name for n in piece.nodes], repr(piece))
    assert before == after
    g1.run_network(timeout=T)
    g2.run_network(timeout=T, seed=4)
    assert (got1, got2) == (["a"], ["b"])
    assert g1.stats["cleaner/strip"].received == 1 and g2.stats["cleaner/strip"].received == 1


def test_a_failure_inside_a_piece_is_reported_with_the_qualified_name():
    def fragile():
        inv = Transform(fn=lambda x: 1 / x, name="invert")
        size = Transform(fn=abs, name="size")
        return network([(inv, size)], inputs=[inv], outputs=[size], name="fragile")

    sink, got = collector()
    f = fragile()
    g = network([(Source(fn=ListSource([2, 0, 4]).run, name="nums"), f), (f, sink)])
    for kwargs in ({}, {"seed": 2}):
        got.clear()
        with pytest.raises(NetworkError, match="transform 'fragile/invert'") as info:
            g.run_network(timeout=T, **kwargs)
        assert [x.name for x in info.value.failures] == ["fragile/invert"]
        assert got == [0.5]  # what reached invert after it failed was thrown away


def test_traces_name_inner_nodes_qualified():
    piece = cleaner()
    sink, _ = collector()
    g = network([(words(" a "), piece), (piece, sink)])
    g.run_network(timeout=T, seed=0, trace=True)
    assert {r.node for r in g.trace} == {"words", "cleaner/strip", "cleaner/lower", "results"}


def test_checks_see_qualified_names_and_refuse_a_piece_on_its_own():
    piece = cleaner()
    sink, _ = collector()
    g = network([(words(" a "), piece), (piece, sink)])
    check.node(g, "cleaner/strip", kind="transform", fn=str.strip)
    check.edge(g, "cleaner/strip", "cleaner/lower")
    check.paths(g, ["words → cleaner/strip → cleaner/lower → results"])
    check.outputs(g, {"results": ["b"]}, inputs={"words": [" B "]}, timeout=T)
    with pytest.raises(CheckFailed, match="is a sub-network"):
        check.is_network(piece)


# --- errors name the piece and the inner node and say what to do ----------------------------

def _strip_lower():
    strip = Transform(fn=str.strip, name="strip")
    lower = Transform(fn=str.lower, name="lower")
    return strip, lower


ERRORS = {
    "plain network used as a node": (
        lambda: network([(words("a"), network([(words("b", name="w2"), collector()[0])])),
                         ]),
        ValueError, r"declares no inputs or outputs.*inputs=\[first_node\]"),
    "a piece that declares nothing": (
        lambda: network([_strip_lower()]),
        ValueError, r"transform 'strip' has no incoming edge.*say where messages come in: "
                    r"network\(edges, inputs=\[strip\]"),
    "port out of range": (
        lambda: cleaner().in_1,
        AttributeError, r"sub-network 'cleaner' has 1 input \(in_0\), so there is no in_1"),
    "no outputs declared": (
        lambda: network([(t := Transform(fn=str.strip, name="t"), Sink(fn=print))],
                        inputs=[t], name="ends").out_0,
        AttributeError, r"sub-network 'ends' has no outputs.*outputs=\[\.\.\.\]"),
    "several inputs used without a port": (
        lambda: (lambda p: network([(words("a"), p), (p, collector()[0])]))(two_inputs()),
        ValueError, r"sub-network 'two' has 2 inputs, so say which one receives: "
                    r"\(some_node, two\.in_0\)"),
    "input port not connected": (
        lambda: (lambda p: network([(words("a"), p.in_0), (p, collector()[0])]))(two_inputs()),
        ValueError, r"sub-network 'two' has 2 inputs but in_1 is not connected \(in_1 leads to "
                    r"two/m\.in_1\).*\(some_node, two\.in_1\)"),
    "inner node also used directly": (
        lambda: (lambda p: network([(words("a"), p), (p, collector()[0]),
                                    (p.node("strip"), collector("x")[0])]))(cleaner()),
        ValueError, r"transform 'strip' is inside sub-network 'cleaner' \(as cleaner/strip\), and "
                    r"this network also uses it directly"),
    "a source declared as an input": (
        lambda: source_input(),
        ValueError, r"the 1st item, words, is source 'words', but a Source only sends"),
    "a sink declared as an output": (
        lambda: sink_output(),
        ValueError, r"is sink 'results', but a Sink sends nothing on"),
    "a split declared without its port": (
        lambda: network([((sp := Split(fn=lambda x: [x, x], num_outputs=2, name="sp")).out_0,
                          Transform(fn=str, name="a"))],
                        inputs=[sp], outputs=[sp], name="bad"),
        ValueError, r"is split 'sp', which has 2 outputs: say which one sends outside, like sp\.out_0"),
    "a node declared as an input only, with no edge in the piece": (
        lambda: (lambda s, lo: network([(s, lo)], inputs=[s, Transform(fn=str.upper, name="up")],
                                       outputs=[lo], name="bad"))(*_strip_lower()),
        ValueError, r"In sub-network 'bad': transform 'up' sends to nothing"),
    "inputs not a list": (
        lambda: (lambda s, lo: network([(s, lo)], inputs=s, outputs=[lo]))(*_strip_lower()),
        TypeError, r"inputs=\.\.\.\) must be a list, like inputs=\[node\]"),
    "an inner node left unconnected in a piece": (
        lambda: (lambda s, lo: network([(s, lo)], inputs=[s], name="half"))(*_strip_lower()),
        ValueError, r"In sub-network 'half': transform 'lower' sends to nothing"),
    "an inner node not declared as an input": (
        lambda: (lambda s, lo: network([(s, lo)], outputs=[lo], name="half"))(*_strip_lower()),
        ValueError, r"In sub-network 'half': transform 'strip' has no incoming edge.*If it "
                    r"receives from outside this sub-network, list it in inputs=\[\.\.\.\]"),
    "a named network (not a piece) with a bad edge": (
        lambda: network([_strip_lower()], name="plain"),
        ValueError, r"^In network 'plain': transform 'strip' has no incoming edge"),
    "a piece run on its own": (
        lambda: cleaner().run_network(timeout=T),
        TypeError, r"sub-network 'cleaner' cannot be run on its own.*network\(\[\(source, cleaner\)"),
    "the same piece nested and used directly": (
        lambda: nested_and_direct(),
        ValueError, r"sub-network 'cleaner' is already inside sub-network 'pair'"),
    "a node inside two pieces": (
        lambda: node_in_two(),
        ValueError, r"transform 'shared' is inside two sub-networks, 'p' and 'q'"),
    "wrong direction port in an edge": (
        lambda: (lambda p: network([(p.in_0, collector()[0])]))(cleaner()),
        ValueError, r"uses cleaner\.in_0 as the sender, but cleaner\.in_0 is an input port of "
                    r"sub-network 'cleaner'\. Write it as \(cleaner\.out_0, \.\.\.\)"),
}


def two_inputs():
    m = MergeSynch(num_inputs=2, name="m")
    return network([(m, t := Transform(fn=str, name="t"))], inputs=[m.in_0, m.in_1],
                   outputs=[t], name="two")


def source_input():
    w = words("a")
    t = Transform(fn=str.strip, name="t")
    return network([(w, t)], inputs=[w], outputs=[t], name="bad")


def sink_output():
    t = Transform(fn=str.strip, name="t")
    s, _ = collector()
    return network([(t, s)], inputs=[t], outputs=[s], name="bad")


def nested_and_direct():
    a, b = cleaner(), cleaner()
    pair = network([(a, b)], inputs=[a], outputs=[b], name="pair")
    return network([(words("x"), pair), (pair, collector()[0]), (words("y", name="w2"), a),
                    (a, collector("other")[0])])


def node_in_two():
    shared = Transform(fn=str, name="shared")
    p = network([(shared, t1 := Transform(fn=str, name="t1"))], inputs=[shared], outputs=[t1], name="p")
    q = network([(shared, t2 := Transform(fn=str, name="t2"))], inputs=[shared], outputs=[t2], name="q")
    return network([(words("x"), p), (p, collector()[0]), (words("y", name="w2"), q),
                    (q, collector("k")[0])])


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_sub_networks_get_clear_errors(case):
    make, kind, pattern = ERRORS[case]
    with pytest.raises(kind, match=pattern):
        make()


def test_an_unconnected_node_in_a_piece_is_named_with_the_pieces_name_in_the_outer_network():
    piece = cleaner()
    lost = Transform(fn=str.upper, name="lost")
    with pytest.raises(ValueError, match="transform 'lost' sends to nothing"):
        network([(words("a"), piece), (piece, collector()[0]), (piece, lost)])


def test_a_duplicate_edge_is_reported_once_with_its_place_in_the_list_given():
    s, lo = _strip_lower()
    with pytest.warns(DuplicateEdgeWarning, match="1st and 2nd edges"):
        piece = network([(s, lo), (s, lo)], inputs=[s], outputs=[lo], name="p")
    w = words("a")
    sink, _ = collector()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network([(w, piece), (piece, sink)])  # the piece's own duplicate was reported already
    assert not caught
    with pytest.warns(DuplicateEdgeWarning,
                      match=r"The edge words → p/strip is listed twice \(1st and 3rd edges\)"):
        network([(w, piece), (piece, sink), (w, piece)])


# --- flattened and nested versions of random networks ----------------------------------------

def _nested(dag, nodes, groups):
    """The edges of ``dag`` with the transforms of ``groups`` (nested sets) built as pieces."""
    _, edges, _, _, _ = dag

    def piece_of(members, inner):
        """A piece holding ``members`` (node indexes), with the piece for ``inner`` inside it."""
        sub = piece_of(inner[0], inner[1:]) if inner else None
        inside = set(inner[0]) if inner else set()
        pairs = [_pair(a, b, nodes, sub, inside) for a, b in edges
                 if a in members and b in members and not (a in inside and b in inside)]
        ins = sorted({b for a, b in edges if b in members and a not in members})
        outs = sorted({a for a, b in edges if a in members and b not in members})
        piece = network(pairs, inputs=[_end(b, "in", nodes, sub, inside) for b in ins],
                        outputs=[_end(a, "out", nodes, sub, inside) for a in outs],
                        name=f"p{len(inner)}")
        piece.members = (ins, outs)
        return piece

    top = set(groups[0])
    sub = piece_of(groups[0], groups[1:])
    return [_pair(a, b, nodes, sub, top) for a, b in edges if not (a in top and b in top)]


def _end(i, direction, nodes, sub, inside):
    if i not in inside:
        return nodes[i]
    ins, outs = sub.members
    have = ins if direction == "in" else outs
    # a piece with one input (output) is written alone, like a Transform; with several, by port
    return sub if len(have) == 1 else getattr(sub, f"{direction}_{have.index(i)}")


def _pair(a, b, nodes, sub, inside):
    return (_end(a, "out", nodes, sub, inside), _end(b, "in", nodes, sub, inside))


@st.composite
def nested_dags(draw):
    dag = draw(dags())
    names = dag[0]
    mids = [i for i, n in enumerate(names) if n.startswith("t")]
    outer = sorted(draw(st.sets(st.sampled_from(mids), min_size=2))) if len(mids) > 1 else []
    inner = sorted(draw(st.sets(st.sampled_from(outer)))) if outer else []
    groups = [outer] + ([inner] if inner and inner != outer else [])
    return dag, groups


def _key(g):
    return sorted((id(e.src), e.src_port or 0, id(e.dst), e.dst_port or 0) for e in g.edges)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_dags())
def test_nested_random_networks_run_exactly_as_their_flat_versions(case):
    dag, groups = case
    assume(groups[0])
    flat, results = build(dag)
    nodes = [flat.node(n) for n in dag[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nested = network(_nested(dag, nodes, groups))
    assert _key(nested) == _key(flat)  # the same nodes and edges, with the same ports
    assert sorted(nested.name_of(n).rsplit("/", 1)[-1] for n in nested.nodes) == sorted(dag[0])
    for kwargs in ({}, {"seed": dag[4]}):
        got = {}
        for g in (flat, nested):
            for v in results.values():
                v.clear()
            g.run_network(timeout=T, **kwargs)
            check_delivery(flat, dag, results)
            got[g is flat] = {k: sorted(v) for k, v in results.items()}
        assert got[True] == got[False]
        assert [flat.stats[flat.name_of(n)] for n in nodes] == [
            nested.stats[nested.name_of(n)] for n in nodes]
