"""network() checks its edges and explains every mistake, naming the nodes at fault."""


import pytest

from dissyslab import (
    DuplicateEdgeWarning,
    ListSource,
    MergeSynch,
    Sink,
    Source,
    Split,
    Transform,
    network,
)


def src(name="src", items=("a", "b")):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def sink(name="out", into=None):
    return Sink(fn=(into if into is not None else []).append, name=name)


def test_empty_network_is_explained():
    with pytest.raises(ValueError, match=r"network\(\[\]\) has no edges"):
        network([])


def test_not_a_list_of_edges():
    with pytest.raises(TypeError, match="needs a list of edges"):
        network("source -> sink")


def test_edge_that_is_not_a_pair():
    s, t, k = src(), Transform(fn=str.upper, name="up"), sink()
    with pytest.raises(TypeError, match=r"The 2nd edge in the list is \(src, up, out\).*pair"):
        network([(s, t), (s, t, k)])


def test_endpoint_that_is_a_plain_function_suggests_wrapping():
    def shout(x):
        return x.upper()
    with pytest.raises(TypeError,
                       match=r"the receiver is the function shout, not a node.*Transform\(fn=shout\)"):
        network([(src(), shout)])


def test_endpoint_that_is_a_string_says_use_the_node():
    with pytest.raises(TypeError, match=r"receiver is 'out', a str, not a node.*not its name"):
        network([(src(), "out")])


def test_sink_as_sender_and_source_as_receiver():
    s, k = src(), sink()
    with pytest.raises(ValueError, match="uses sink 'out' as a sender"):
        network([(s, k), (k, Transform(fn=str.upper, name="up"))])
    with pytest.raises(ValueError, match="sends to source 'src2'"):
        network([(s, src("src2"))])


def test_split_needs_a_port_and_ports_are_checked():
    sp = Split(fn=lambda m: [m, m], num_outputs=2, name="router")
    with pytest.raises(ValueError,
                       match=r"split 'router' has 2 outputs, so say which one sends: \(router.out_0, out\)"):
        network([(src(), sp), (sp, sink())])
    with pytest.raises(AttributeError,
                       match="Split 'router' has 2 ports .out_0 to out_1., so there is no out_2"):
        _ = sp.out_2
    with pytest.raises(AttributeError, match="has no in_0: it has numbered outputs"):
        _ = sp.in_0
    with pytest.raises(ValueError, match=r"out_1 is not connected"):
        network([(src(), sp), (sp.out_0, sink())])
    with pytest.raises(ValueError, match=r"uses router.out_0 as the receiver.*output port"):
        network([(src(), sp.out_0)])


def test_merge_needs_a_port_and_all_inputs():
    m = MergeSynch(num_inputs=2, name="pair")
    a, b = src("a"), src("b")
    with pytest.raises(ValueError, match=r"merge 'pair' has 2 inputs, so say which one receives"):
        network([(a, m), (m, sink())])
    with pytest.raises(ValueError, match=r"merge 'pair' has 2 inputs but in_1 is not connected"):
        network([(a, m.in_0), (m, sink())])
    with pytest.raises(ValueError, match=r"uses pair.in_0 as the sender"):
        network([(m.in_0, sink()), (a, m.in_0), (b, m.in_1)])
    with pytest.raises(AttributeError,
                       match="MergeSynch 'pair' has 2 ports .in_0 to in_1., so there is no in_2"):
        _ = m.in_2


def test_bad_port_counts():
    with pytest.raises(ValueError, match="num_outputs must be a whole number of at least 1"):
        Split(fn=list, num_outputs=0)
    with pytest.raises(ValueError, match="num_inputs must be a whole number"):
        MergeSynch(num_inputs="2")


def test_two_nodes_with_one_name():
    with pytest.raises(ValueError,
                       match=r"Two different nodes are both named 'up' \(a transform and a transform\)"):
        s = src()
        a, b = Transform(fn=str.upper, name="up"), Transform(fn=str.lower, name="up")
        network([(s, a), (s, b), (a, sink("k1")), (b, sink("k2"))])


def test_node_without_input_or_output():
    s, t, k = src(), Transform(fn=str.upper, name="up"), sink()
    with pytest.raises(ValueError, match=r"transform 'up' has no incoming edge.*\(some_node, up\)"):
        network([(s, k), (t, k)])
    with pytest.raises(ValueError, match=r"transform 'up' sends to nothing.*\(up, some_node\)"):
        network([(s, t)])


def test_an_edge_naming_the_wrong_node_is_pointed_at():
    """(t2, k) written for (t1, k): t1 sends to nothing and t2 has no input; say both, and the fix."""
    s, k = src(), sink("k")
    t1, t2 = Transform(fn=str.upper, name="t1"), Transform(fn=str.lower, name="t2")
    with pytest.raises(ValueError) as info:
        network([(s, t1), (t2, k)])
    text = str(info.value)
    assert "transform 't1' sends to nothing" in text
    assert "transform 't2' has no incoming edge" in text
    assert "Did you write (t2, k) where you meant (t1, k)?" in text
    # the receiver mistyped: (s, t2) written for (s, t1); t2 then sends to nothing
    with pytest.raises(ValueError) as info:
        network([(s, t2), (t1, k)])
    text = str(info.value)
    assert "transform 't2' sends to nothing" in text and "'t1' has no incoming edge" in text
    assert "Did you write (t1, k) where you meant (t2, k)?" in text
    # one loose end alone: no guess about another node
    with pytest.raises(ValueError) as info:
        network([(s, t1)])
    assert "Also" not in str(info.value)


def test_fn_not_callable():
    with pytest.raises(TypeError,
                       match=r"Transform named 'x': fn=... must be a function to call, "
                             r"but got 'hello' \(a str\)"):
        Transform(fn="hello", name="x")
    with pytest.raises(TypeError, match=r"Source\(fn=my_function\), not Source\(fn=my_function\(\)\)"):
        Source(fn=None)
    with pytest.raises(TypeError, match="params must be a dict"):
        Transform(fn=str.upper, params=[1])
    with pytest.raises(TypeError, match=r"Sink\(name=...\) must be a non-empty string"):
        Sink(fn=print, name="")


def test_duplicate_edge_warns_naming_both_nodes():
    s, t, k = src(), Transform(fn=str.upper, name="up"), sink()
    with pytest.warns(DuplicateEdgeWarning,
                      match=r"src → up is listed twice.*'up' will receive every message from 'src' twice"):
        g = network([(s, t), (s, t), (t, k)])
    assert len(g.edges) == 3


def test_derived_names_are_readable_and_unique():
    def to_upper(x):
        return x.upper()
    s = Source(fn=ListSource(["a"]).run)
    t1, t2 = Transform(fn=to_upper), Transform(fn=to_upper)
    lam = Transform(fn=lambda x: x)
    k1, k2, k3 = Sink(fn=[].append), Sink(fn=[].append), Sink(fn=print, name="append")
    g = network([(s, t1), (s, t2), (s, lam), (t1, k1), (t2, k2), (lam, k3)])
    assert [n.name for n in g.nodes] == [
        "list_source", "to_upper", "to_upper_2", "transform", "append_2", "append_3", "append"]


def test_introspection():
    s, k1, k2 = src(), sink("k1"), sink("k2")
    up, rev = Transform(fn=str.upper, name="up"), Transform(fn=lambda x: x[::-1], name="rev")
    g = network([(s, up), (s, rev), (up, k1), (rev, k2)])
    assert [n.name for n in g.nodes] == ["src", "up", "rev", "k1", "k2"]
    assert [n.kind for n in g.nodes] == ["source", "transform", "transform", "sink", "sink"]
    assert [e.label for e in g.edges] == ["src → up", "src → rev", "up → k1", "rev → k2"]
    assert g.downstream("src") == [up, rev] and g.upstream(k1) == [up]
    assert g.path_names() == ["src → up → k1", "src → rev → k2"]
    assert g.sources == [s] and g.sinks == [k1, k2]
    assert "0x" not in repr(g) + g.describe() + repr(up) + repr(g.edges)
    with pytest.raises(KeyError, match="no node named 'nope'; its nodes are: src, up, rev, k1, k2"):
        g.node("nope")


def test_a_list_source_without_run_is_explained():
    with pytest.raises(TypeError,
                       match=r"To use a ListSource here, pass its run method: "
                             r"Source\(fn=my_listsource.run\)"):
        Source(fn=ListSource(["a"]))


def test_an_edge_is_a_fixed_value_compared_by_identity():
    s, k = src(), sink()
    with pytest.warns(DuplicateEdgeWarning):
        g = network([(s, k), (s, k)])
    first, second = g.edges
    assert repr(first) == "Edge(src → out)" and (first.src, first.dst) == (s, k)
    assert (first.src_port, first.dst_port, first.names) == (None, None, ("src", "out"))
    assert first != second and len({first, second}) == 2  # an edge listed twice is two edges
    with pytest.raises(AttributeError, match="an Edge cannot be changed once made"):
        first.dst = s
    with pytest.raises(AttributeError, match="cannot be changed"):
        del first.src


def test_an_edge_survives_pickling_and_copying():
    # Ray sends a network's edges to other processes; snapshots copy what they record
    import copy
    import pickle

    g = network([(src(), sink())])
    for again in (pickle.loads(pickle.dumps(g.edges[0])), copy.deepcopy(g.edges[0])):
        assert again.label == "src → out" and again.names == ("src", "out")
        assert again is not g.edges[0]
        with pytest.raises(AttributeError):
            again.src_port = 1


def test_node_stats_count_compare_and_show_like_a_record():
    from dissyslab import NodeStats

    stats = NodeStats(received=3, sent=2)
    assert repr(stats) == "NodeStats(received=3, sent=2, dropped=0, failed=0, discarded=0)"
    assert stats == NodeStats(3, 2, 0, 0, 0) and stats != NodeStats(received=3)
    assert stats != (3, 2, 0, 0, 0)
    assert vars(stats) == {"received": 3, "sent": 2, "dropped": 0, "failed": 0, "discarded": 0}
    stats.dropped += 1
    assert stats.dropped == 1
    with pytest.raises(TypeError, match="unhashable"):
        hash(stats)


def test_a_sub_network_is_seen_as_a_part():
    a, b = Transform(fn=str.strip, name="strip"), Transform(fn=str.lower, name="lower")
    piece = network([(a, b)], inputs=[a], outputs=[b], name="cleaner")
    g = network([(src(), piece), (piece, sink())])
    (part,) = g.parts
    assert repr(part) == "Part(name='cleaner', parent=None)"
    assert part.network is piece and part.nodes == (a, b)
    with pytest.raises(AttributeError, match="a Part cannot be changed"):
        part.name = "other"
