"""Pictures of a network: golden DOT text, SVG, compact fanouts, the text and Mermaid fallbacks.

Golden files live in tests/golden/. After an intended change to the look, run
    DISSYSLAB_UPDATE_GOLDEN=1 pytest tests/test_diagram.py
to rewrite them, and read the diff before committing it.
"""

import functools
import html
import os
import re
import shutil
import subprocess
import sys
import warnings
from itertools import pairwise
from pathlib import Path

import pytest

from dissyslab import (
    DuplicateEdgeWarning,
    ListSource,
    MergeSynch,
    NetworkError,
    Sink,
    Source,
    Split,
    Transform,
    diagram,
    network,
)

graphviz = pytest.importorskip("graphviz")

T = 10  # seconds: the time limit of every run in this file
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DISSYSLAB_UPDATE_GOLDEN") == "1"
ADDRESS = re.compile(r"0x[0-9a-f]{6,}", re.IGNORECASE)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")


# --- the networks the lessons draw -------------------------------------------

def to_uppercase(text):
    return text.upper()


def reverse_text(text):
    return text[::-1]


def invert(x):
    return 1 / x


def keep_even(x):
    return x if x % 2 == 0 else None


def by_parity(x):
    return [x, None] if x % 2 == 0 else [None, x]


def halve(x):
    return x / 2


def triple(x):
    return 3 * x


def words(*items, name="word_source"):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def spec_fanout():
    """The fanout lesson's network: word_source → uppercase/reverse → two collectors."""
    source = words("hello", "world", "python")
    uppercase = Transform(fn=to_uppercase, name="uppercase")
    reverse = Transform(fn=reverse_text, name="reverse")
    collector_upper = Sink(fn=[].append, name="collector_upper")
    collector_reverse = Sink(fn=[].append, name="collector_reverse")
    return network([
        (source, uppercase), (source, reverse),
        (uppercase, collector_upper), (reverse, collector_reverse),
    ])


def fanin():
    a, b, c = (words("x", name=n) for n in ("left", "middle", "right"))
    sink = Sink(fn=[].append, name="all_words")
    return network([(a, sink), (b, sink), (c, sink)])


def split():
    numbers = Source(fn=ListSource(items=[1, 2, 3, 4]).run, name="numbers")
    sp = Split(fn=by_parity, num_outputs=2, name="even_or_odd")
    evens = Sink(fn=[].append, name="evens")
    odds = Sink(fn=[].append, name="odds")
    return network([(numbers, sp), (sp.out_0, evens), (sp.out_1, odds)])


def merge_synch():
    names = words("ada", "alan", name="names")
    ages = Source(fn=ListSource(items=[36, 41]).run, name="ages")
    pair = MergeSynch(num_inputs=2, name="pair")
    out = Sink(fn=[].append, name="people")
    return network([(names, pair.in_0), (ages, pair.in_1), (pair, out)])


def diamond():
    numbers = Source(fn=ListSource(items=[1, 2, 3]).run, name="numbers")
    h = Transform(fn=halve, name="halve")
    t = Transform(fn=triple, name="triple")
    both = Sink(fn=[].append, name="both")
    return network([(numbers, h), (numbers, t), (h, both), (t, both)])


def failing():
    """A fanout whose one path fails on its last message, so every counter is deterministic."""
    numbers = Source(fn=ListSource(items=[1, 2, 0]).run, name="numbers")
    inv = Transform(fn=invert, name="invert")
    ev = Transform(fn=keep_even, name="evens")
    net = network([
        (numbers, inv), (numbers, ev),
        (inv, Sink(fn=[].append, name="inverses")), (ev, Sink(fn=[].append, name="even_numbers")),
    ])
    with pytest.raises(NetworkError):
        net.run_network(timeout=T)
    return net


def wide_fanout(n=100, chain=False):
    numbers = Source(fn=ListSource(items=[1, 2, 3]).run, name="numbers")
    workers = [Transform(fn=triple, name=f"worker_{i}") for i in range(n)]
    if chain:  # each worker has its own sink
        return network([(numbers, w) for w in workers]
                       + [(w, Sink(fn=[].append, name=f"keep_{i}")) for i, w in enumerate(workers)])
    collector = Sink(fn=[].append, name="collector")
    return network([(numbers, w) for w in workers] + [(w, collector) for w in workers])


def cleaner(name="cleaner"):
    """A piece: strip, then lower-case."""
    strip = Transform(fn=str.strip, name="strip")
    lower = Transform(fn=str.lower, name="lower")
    return network([(strip, lower)], inputs=[strip], outputs=[lower], name=name)


def nested_pieces():
    """Two cleaners nested in 'prepare', then a 'router' piece with two outputs (its split's)."""
    a, b = cleaner(), cleaner()
    prepare = network([(a, b)], inputs=[a], outputs=[b], name="prepare")
    sp = Split(fn=lambda w: [w, None] if len(w) < 5 else [None, w], num_outputs=2, name="by_length")
    shout = Transform(fn=to_uppercase, name="shout")
    router = network([(sp.out_0, shout)], inputs=[sp], outputs=[shout, sp.out_1], name="router")
    return network([(words(" Hi ", " Hello "), prepare), (prepare, router),
                    (router.out_0, Sink(fn=[].append, name="short")),
                    (router.out_1, Sink(fn=[].append, name="long"))])


def check_golden(name, dot_text):
    path = GOLDEN / f"{name}.dot"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(dot_text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with DISSYSLAB_UPDATE_GOLDEN=1 to make it"
    expected = path.read_text(encoding="utf-8")
    assert dot_text == expected, (
        f"the DOT of {name!r} differs from tests/golden/{path.name}; if the change is intended, "
        "rerun with DISSYSLAB_UPDATE_GOLDEN=1 and review the diff"
    )


def drawn_nodes(dot_text):
    """The node statements of a DOT text (not the graph/node/edge defaults, not edges)."""
    return [line for line in dot_text.splitlines()
            if line.startswith("\t") and "->" not in line
            and not line.strip().startswith(("graph ", "node ", "edge ", "label=", "}"))]


def drawn_edges(dot_text):
    return [line for line in dot_text.splitlines() if " -> " in line]


def plain_layout(digraph):
    """Node positions and sizes as laid out by dot (``-Tplain``)."""
    out = subprocess.run(["dot", "-Tplain"], input=digraph.source, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return [line.split()[:6] for line in out.splitlines() if line.startswith(("graph", "node"))]


# --- golden DOT --------------------------------------------------------------

@pytest.mark.parametrize("name, make", [
    ("fanout", spec_fanout), ("fanin", fanin), ("split", split),
    ("merge_synch", merge_synch), ("diamond", diamond),
])
def test_golden_dot(name, make):
    check_golden(name, make().diagram().source)


def test_golden_failed_run_with_stats():
    net = failing()
    check_golden("failed_run_stats", net.diagram(stats=True).source)


def test_golden_live_view():
    net = split()
    states = {"numbers": "done", "even_or_odd": "busy", "evens": "waiting", "odds": "failed"}
    counts = {e: 10 * i for i, e in enumerate(net.edges)}
    check_golden("split_live", diagram.build(net, states=states, edge_counts=counts).source)


def test_golden_nested_sub_networks_are_labelled_frames_inside_frames():
    dot = nested_pieces().diagram().source
    check_golden("subnetworks", dot)
    assert "subgraph cluster_prepare {" in dot and "\t\tsubgraph cluster_prepare_cleaner_2 {" in dot
    assert "label=cleaner_2" in dot and "label=router" in dot


def test_golden_sub_networks_drawn_as_one_box_each_with_their_ports():
    net = nested_pieces()
    dot = net.diagram(expand=False).source
    check_golden("subnetworks_collapsed", dot)
    assert "subgraph" not in dot and "<B>strip</B>" not in dot
    assert [line.strip() for line in drawn_edges(dot)] == [
        "word_source -> prepare", "prepare -> router", "router:out_0:e -> short",
        "router:out_1:e -> long"]


@needs_dot
def test_sub_network_pictures_render_with_dot():
    net = nested_pieces()
    assert 'id="cluster_prepare_cleaner"' in diagram.svg(net.diagram())
    assert 'id="router"' in diagram.svg(net.diagram(expand=False))


def test_a_collapsed_sub_network_shows_the_state_of_its_nodes_and_what_crossed_its_border():
    net = nested_pieces()
    net.run_network(timeout=T)
    dot = net.diagram(expand=False, stats=True).source
    assert "received 2 \u00b7 sent 2" in dot  # prepare: 2 words in, 2 out to the router
    states = {name: "done" for name in net.stats}
    states["router/shout"] = "busy"
    dot = diagram.build(net, states=states, expand=False).source
    router = next(line for line in drawn_nodes(dot) if line.strip().startswith("router "))
    assert "busy" in router


def test_a_sub_network_drawn_on_its_own_marks_its_inputs_and_outputs():
    router = nested_pieces().parts[-1].network
    dot = router.diagram().source
    assert [line.strip() for line in drawn_edges(dot)] == [
        "by_length:out_0:e -> shout", "in_0 -> by_length [color=\"#52606D\" style=dashed]",
        "shout -> out_0 [color=\"#52606D\" style=dashed]",
        "by_length:out_1:e -> out_1 [color=\"#52606D\" style=dashed]"]
    assert diagram.text(router).endswith(
        "inputs: in_0 → by_length\noutputs: out_0 ← shout, out_1 ← by_length.out_1")


def test_text_and_mermaid_show_sub_networks():
    net = nested_pieces()
    assert "transform  prepare/cleaner_2/strip" in diagram.text(net)
    m = diagram.mermaid(net)
    assert 'subgraph cluster_prepare ["prepare"]' in m and 'subgraph cluster_prepare_cleaner ["cleaner"]' in m
    assert 'n_router[["router<br/><small>2 nodes</small>"]]' in diagram.mermaid(net, expand=False)


def test_golden_wide_fanout():
    check_golden("fanout_100", wide_fanout().diagram().source)


def test_golden_legend():
    check_golden("legend", diagram.legend(states=True).source)


def test_the_legend_explains_states_and_the_marks_on_an_arrow():
    plain = diagram.legend().source
    assert "idle" not in plain and "waiting" not in plain
    full = diagram.legend(states=True).source
    for word in ("idle", "● busy", "✓ done", "✗ failed", "■ stopped"):
        assert word in full
    # the arrows are drawn as the diagram draws them: what passed, then "+N waiting"
    assert ">12<" in full and ">7<" in full and ">+5 waiting<" in full
    assert "wait in the queue" in full and "no message has crossed it yet" in full
    assert diagram.ZERO_WIRE in full  # the pale arrow


def test_legend_is_at_hand_from_the_package():
    import dissyslab

    assert dissyslab.legend is diagram.legend
    assert "Transform" in dissyslab.legend().source


# --- what the pictures say ---------------------------------------------------

def test_the_same_network_always_gives_the_same_dot():
    one, two = spec_fanout(), spec_fanout()
    assert one.diagram().source == two.diagram().source == one.diagram().source
    assert diagram.text(one) == diagram.text(two)
    assert diagram.mermaid(one) == diagram.mermaid(two)


def test_equal_picture_keys_mean_the_same_dot():
    """The live view keeps laid-out pictures by Picture.key, to skip writing DOT again."""
    one, two, other = spec_fanout(), spec_fanout(), split()
    for options in ({}, {"stats": True}, {"states": {}, "edge_counts": {}}):
        pictures = [diagram.picture(net, **options) for net in (one, two, other)]
        built = [diagram.build(net, **options) for net in (one, two, other)]
        assert [diagram.digraph(p).source for p in pictures] == [b.source for b in built]
        assert [list(p.arrows) for p in pictures] == [b.arrows for b in built]
        assert pictures[0].key == pictures[1].key != pictures[2].key
        assert hash(pictures[0].key) == hash(pictures[1].key)
        assert pictures[0].arrows != pictures[1].arrows  # each network's own edges


def test_a_run_does_not_change_the_plain_picture():
    net = spec_fanout()
    before = net.diagram().source
    net.run_network(timeout=T)
    assert net.diagram().source == before


def test_left_to_right_with_each_kind_its_own_shape_and_colour():
    dot = split().diagram().source
    assert "rankdir=LR" in dot
    shapes = {kind: look.shape for kind, look in diagram.LOOKS.items()}
    assert len({(look.shape, look.fill) for look in diagram.LOOKS.values()}) == len(diagram.LOOKS)
    assert len({look.fill for look in diagram.LOOKS.values()}) == len(diagram.LOOKS)
    assert f"shape={shapes['source']}" in dot and f"shape={shapes['sink']}" in dot
    fan = spec_fanout().diagram().source
    assert "shape=box" in fan and 'style="filled,rounded"' in fan


def test_function_name_shown_only_when_it_adds_something():
    same = Transform(fn=to_uppercase)  # named after its function
    other = Transform(fn=reverse_text, name="backwards")
    dot = network([(words("a"), same), (same, other), (other, Sink(fn=print, name="show"))]
                  ).diagram().source
    lines = {line.split(" [")[0].strip(): line for line in drawn_nodes(dot)}
    assert ">to_uppercase<" in lines["to_uppercase"]
    assert "POINT-SIZE" not in lines["to_uppercase"]  # no second line repeating the name
    assert ">backwards<" in lines["backwards"] and ">reverse_text<" in lines["backwards"]
    assert ">print<" in lines["show"]


def test_split_and_merge_ports_are_labelled_and_wired_to_their_port():
    dot = split().diagram().source
    assert 'PORT="out_0"' in dot and 'PORT="out_1"' in dot
    assert "even_or_odd:out_0:e -> evens" in dot and "even_or_odd:out_1:e -> odds" in dot
    dot = merge_synch().diagram().source
    assert 'PORT="in_0"' in dot and 'PORT="in_1"' in dot
    assert "names -> pair:in_0:w" in dot and "ages -> pair:in_1:w" in dot


def test_fanout_and_fanin_are_one_edge_per_connection():
    assert sorted(drawn_edges(spec_fanout().diagram().source)) == sorted([
        "\tword_source -> uppercase", "\tword_source -> reverse",
        "\tuppercase -> collector_upper", "\treverse -> collector_reverse",
    ])
    assert len(drawn_edges(fanin().diagram().source)) == 3


def test_a_duplicate_edge_is_drawn_twice():
    source, sink = words("a"), Sink(fn=print, name="show")
    with pytest.warns(DuplicateEdgeWarning):
        net = network([(source, sink), (source, sink)])
    assert drawn_edges(net.diagram().source) == ["\tword_source -> show"] * 2
    assert diagram.mermaid(net).count("n_word_source --> n_show") == 2


def test_awkward_names_get_safe_unique_ids_and_are_shown_as_written():
    names = ['my source', 'say "hi"', "naïve café", "a:b", "a_b", "<tag> & co", "back\\slash", "1st"]
    source = words("x", name=names[0])
    steps = [Transform(fn=to_uppercase, name=n) for n in names[1:-1]]
    sink = Sink(fn=print, name=names[-1])
    chain = [source, *steps, sink]
    net = network(list(pairwise(chain)))
    ids = diagram.node_ids(net.nodes)
    assert len(set(ids.values())) == len(names)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i) for i in ids.values())
    if shutil.which("dot"):
        picture = html.unescape(diagram.svg(net.diagram()))
        for name in names:
            assert name in picture
    mer = diagram.mermaid(net)
    assert '"say #quot;hi#quot;' in mer and "#lt;tag#gt; #amp; co" in mer


def test_stats_show_counters_and_mark_the_failed_node():
    net = failing()
    dot = net.diagram(stats=True).source
    assert "received 3 · sent 2 · failed 1" in dot  # invert: 1, 2 then 0 fails
    assert "received 3 · sent 2 · dropped 1" in dot  # evens drops the 1
    assert "✗ ZeroDivisionError: division by zero" in dot
    assert "on message 0" in dot
    assert dot.count(diagram.FAIL) >= 2  # the failed node's border and its error text
    text = diagram.text(net, stats=True)
    assert "ZeroDivisionError: division by zero" in text and "dropped 1" in text


def test_stats_before_any_run_say_so():
    assert "not run yet" in spec_fanout().diagram(stats=True).source


def test_states_are_words_not_only_colours():
    net = spec_fanout()
    states = {"word_source": "done", "uppercase": "busy", "reverse": "stopped",
              "collector_upper": "failed"}
    dot = diagram.build(net, states=states).source
    for word in ("✓ done", "● busy", "■ stopped", "✗ failed", "idle"):
        assert word in dot
    # a node waiting for messages is "idle": "waiting" is said of messages on an edge
    assert "waiting" not in dot


def test_edge_counts_label_every_edge():
    net = spec_fanout()
    net.run_network(timeout=T)
    dot = diagram.build(net, edge_counts=net.edge_counts).source
    assert all(">3<" in line for line in drawn_edges(dot))
    dot = diagram.build(net, edge_counts={net.edges[0]: 123456}).source
    assert ">123k<" in dot and ">0<" in dot


def slow_sink_network(n=100, pause=0.05):
    import time

    def slowly(x):
        time.sleep(pause)

    src = Source(fn=ListSource(items=list(range(n))).run, name="numbers")
    return network([(src, Sink(fn=slowly, name="slow_sink"))])


def test_a_timeout_with_a_slow_sink_shows_the_messages_waiting_on_its_edge():
    from dissyslab import NetworkTimeout

    net = slow_sink_network()
    with pytest.raises(NetworkTimeout):
        net.run_network(timeout=0.5)
    (edge,) = net.edges
    sent, taken = net.edge_counts[edge], net.edge_received[edge]
    assert sent > taken > 0 and net.edge_discarded[edge] == 0
    (label,) = drawn_edges(diagram.build(net, stats=True).source)
    # what passed, and what still waits: together what was sent
    assert f">{taken}<" in label and f">+{sent - taken} waiting<" in label
    assert diagram.waiting_counts(net) == {edge: sent - taken}
    # the plain picture and explicit counts without ``waiting`` are as before
    assert "waiting" not in diagram.build(net).source
    assert "waiting" not in diagram.build(net, edge_counts=net.edge_counts).source


def test_a_clean_run_shows_no_waiting_cell_after_it():
    net = spec_fanout()
    net.run_network(timeout=T)
    assert diagram.waiting_counts(net) == {}
    assert "waiting" not in "".join(drawn_edges(diagram.build(net, stats=True).source))


def test_waiting_counts_are_shown_next_to_what_passed():
    net = spec_fanout()
    counts = {e: 10 for e in net.edges}
    waiting = {e: i for i, e in enumerate(net.edges)}
    labels = drawn_edges(diagram.build(net, edge_counts=counts, waiting=waiting).source)
    assert ">10<" in labels[0] and "waiting" not in labels[0]  # none wait: the cell is empty
    assert ">9<" in labels[1] and ">+1 waiting<" in labels[1]
    dot = diagram.build(net, edge_counts={net.edges[0]: 5}, waiting={net.edges[0]: 123456}).source
    assert ">0<" in dot and ">+5 waiting<" in dot  # never more waiting than were sent


@needs_dot
def test_layout_does_not_move_when_states_and_counts_change():
    for net in (split(), merge_synch(), spec_fanout(), wide_fanout(30)):
        for with_waiting in (False, True):
            layouts = set()
            for k, state in enumerate(diagram.STATES):
                states = {n.name: state for n in net.nodes}
                counts = {e: (7 ** k) * (i + 1) for i, e in enumerate(net.edges)}
                waiting = ({e: (3 ** k) * i for i, e in enumerate(net.edges)}
                           if with_waiting else None)
                layouts.add(repr(plain_layout(diagram.build(
                    net, states=states, edge_counts=counts, waiting=waiting))))
            assert len(layouts) == 1


# --- big fanouts stay readable -----------------------------------------------

def test_fanout_100_is_compact():
    net = wide_fanout(100)
    dot = net.diagram().source
    nodes = drawn_nodes(dot)
    assert len(nodes) <= 8, nodes
    assert "… 97 more like this" in dot and "worker_3 … worker_99" in dot
    assert "×97" in dot
    assert len(drawn_nodes(net.diagram(compact=False).source)) == 102


def test_fanout_100_of_chains_is_compact_too():
    dot = wide_fanout(100, chain=True).diagram().source
    assert len(drawn_nodes(dot)) <= 10
    assert "… 97 more like this" in dot and "keep_3 … keep_99" in dot


def test_small_fanouts_are_drawn_in_full_unless_asked():
    net = wide_fanout(8)
    assert len(drawn_nodes(net.diagram().source)) == 10
    assert len(drawn_nodes(net.diagram(compact=True).source)) == 6
    assert len(drawn_nodes(net.diagram(compact=4).source)) == 6
    with pytest.raises(ValueError, match="compact="):
        net.diagram(compact="yes")


def test_a_failed_node_in_a_big_fanout_stays_visible():
    def picky(x):
        if x == 3:
            raise ValueError("three is not allowed")
        return x

    numbers = Source(fn=ListSource(items=[1, 2, 3]).run, name="numbers")
    workers = [Transform(fn=picky if i == 50 else triple, name=f"worker_{i}") for i in range(100)]
    out = Sink(fn=[].append, name="collector")
    net = network([(numbers, w) for w in workers] + [(w, out) for w in workers])
    with pytest.raises(NetworkError):
        net.run_network(timeout=T)
    dot = net.diagram(stats=True).source
    assert ">worker_50<" in dot and "three is not allowed" in dot
    assert ">picky<" in dot
    assert len(drawn_nodes(dot)) <= 8


def test_text_of_a_big_fanout_stays_short():
    lines = diagram.text(wide_fanout(100)).splitlines()
    assert len(lines) < 40
    assert any("97 more like this" in line for line in lines)
    assert "paths from a source to a sink (100):" in lines


# --- SVG ---------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize("make", [spec_fanout, fanin, split, merge_synch, diamond])
def test_svg_renders_every_node(make):
    net = make()
    picture = diagram.svg(net.diagram())
    assert picture.lstrip().startswith("<?xml") and picture.rstrip().endswith("</svg>")
    for node in net.nodes:
        assert f">{html.escape(node.name)}<" in picture
    assert "Generated by graphviz" not in picture
    assert diagram.svg(make().diagram()) == picture


@needs_dot
def test_failed_run_and_legend_render():
    picture = diagram.svg(failing().diagram(stats=True))
    assert "division by zero" in picture
    legend = html.unescape(diagram.svg(diagram.legend(states=True)))
    for look in diagram.LOOKS.values():
        assert look.title in legend


@needs_dot
def test_jupyter_gets_an_svg():
    bundle = spec_fanout()._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert "collector_reverse" in bundle["image/svg+xml"]
    assert bundle["text/html"].endswith(bundle["image/svg+xml"][bundle["image/svg+xml"].find(
        "<svg"):].split(">", 1)[1] + "</div>")   # the same picture, fitted to the page
    assert "word_source" in bundle["text/plain"]
    assert set(spec_fanout()._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    assert set(spec_fanout()._repr_mimebundle_(exclude={"text/plain"})) == {"text/html",
                                                                           "image/svg+xml"}


def _fitted(svg_text):
    """(min-width in px, max-width) of the inline style a fitted picture's <svg> tag carries."""
    tag = re.search(r"<svg\b[^>]*>", svg_text).group(0)
    style = re.search(r'style="([^"]*)"', tag).group(1)
    rules = dict(r.split(":", 1) for r in style.split(";") if r)
    return float(rules["min-width"].rstrip("px")), rules["max-width"], rules["height"]


@needs_dot
def test_a_wide_diagram_is_scaled_to_the_page_but_keeps_its_text_readable():
    """A chain of 14 nodes is wider than any page: it shrinks to the page's width, but no
    further than keeps its smallest text (9 points, 12 px) 8 px high (then the page scrolls),
    with inline styles
    only, so that it fits where style sheets are stripped (GitHub)."""
    nodes = [Transform(fn=str.upper, name=f"stage_{i}") for i in range(14)]
    g = network([(Source(fn=ListSource(items=["a"]).run, name="words"), nodes[0])]
                + list(zip(nodes, nodes[1:], strict=False))
                + [(nodes[-1], Sink(fn=print, name="out"))])
    for shown in (g._repr_mimebundle_()["text/html"], g.diagram()._repr_mimebundle_()["text/html"]):
        assert shown.startswith('<div class="dsl-picture" style="overflow-x:auto;width:0;min-width:100%">')
        assert "<?xml" not in shown and "<style" not in shown
        width_pt = float(re.search(r'<svg\b[^>]*\swidth="([0-9.]+)pt"', shown).group(1))
        least, most, height = _fitted(shown)
        assert (most, height) == ("100%", "auto")
        assert diagram.least_scale(shown) == pytest.approx(diagram.MIN_TEXT_PX / 12, rel=0.01)
        assert least == round(width_pt * 4 / 3 * diagram.least_scale(shown)) and least > 1300


def test_diagram_returns_a_digraph_you_can_use():
    g = spec_fanout().diagram()
    assert isinstance(g, graphviz.Digraph)
    assert g.source.startswith("digraph network {")


# --- without Graphviz --------------------------------------------------------

@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """PATH is an empty folder: the dot program cannot be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None


def test_without_dot_a_network_shows_as_text_and_mermaid(no_dot):
    assert diagram.dot_available() is False
    net = spec_fanout()
    bundle = net._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown"}
    plain, markdown = bundle["text/plain"], bundle["text/markdown"]
    assert plain.startswith(diagram.text(net))
    assert markdown.startswith("```mermaid\nflowchart LR\n")
    for both in (plain, markdown):
        last = both.splitlines()[-1]
        assert "apt-get install graphviz" in last and "brew install graphviz" in last
        assert "conda install -c conda-forge graphviz python-graphviz" in last
    for node in net.nodes:
        assert node.name in plain and node.name in markdown
    # the Digraph itself still builds: only rendering needs dot
    assert "word_source" in net.diagram().source


def test_without_dot_svg_says_how_to_install(no_dot):
    with pytest.raises(diagram.DotNotFound, match="apt-get install graphviz"):
        diagram.svg(spec_fanout().diagram())


def test_displaying_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("dot crashed\nwith details")

    monkeypatch.setattr(diagram, "build", broken)
    bundle = spec_fanout()._repr_mimebundle_()
    assert "text/markdown" in bundle and "image/svg+xml" not in bundle
    assert "could not draw this network (RuntimeError: dot crashed)" in bundle["text/plain"]
    monkeypatch.setattr(diagram, "text", broken)
    assert spec_fanout()._repr_mimebundle_() == {"text/plain": repr(spec_fanout())}


def test_without_the_graphviz_package_text_says_pip_install(monkeypatch):
    monkeypatch.setattr(diagram, "graphviz_package_available", lambda: False)
    bundle = spec_fanout()._repr_mimebundle_()
    assert "pip install graphviz" in bundle["text/plain"].splitlines()[-1]


def test_without_dot_in_a_fresh_python_display_works(tmp_path):
    """In a new process with no dot on PATH, IPython's formatter shows text and Mermaid."""
    pytest.importorskip("IPython")
    code = (
        "import sys\n"
        "from IPython.core.formatters import DisplayFormatter\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import test_diagram as t\n"
        "data, meta = DisplayFormatter().format(t.spec_fanout())\n"
        "print(sorted(data))\n"
        "print(data['text/markdown'].splitlines()[0])\n"
        "print(data['text/plain'].splitlines()[-1])\n"
    )
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": _repo_path()}
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['text/markdown', 'text/plain']"
    assert lines[1] == "```mermaid"
    assert "apt-get install graphviz" in lines[2]


# --- no memory addresses, no graphviz on import ----------------------------

class Counter:
    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return self.n if self.n <= 2 else None


class Shout:
    def __call__(self, text):
        return text.upper()


def add(x, amount):
    return x + amount


def test_no_memory_address_in_any_text_output():
    counter = Counter()
    source = Source(fn=counter.next, name="counter")
    shout = Transform(fn=Shout())
    lam = Transform(fn=lambda x: x, params={"thing": object()})
    part = Transform(fn=functools.partial(add, amount=1))
    sink = Sink(fn=[].append)
    net = network([(source, shout), (shout, lam), (lam, part), (part, sink)])
    outputs = [net.diagram().source, repr(net), net.describe(), diagram.text(net),
               diagram.mermaid(net), *map(str, net._repr_mimebundle_().values()),
               diagram.build(net, stats=True, states={}, edge_counts={}).source]
    for out in outputs:
        assert not ADDRESS.search(out), out


def test_no_memory_address_in_a_failure_picture():
    class Thing:
        pass

    def explode(x):
        raise ValueError(f"cannot use {Thing()!r}")

    source = Source(fn=ListSource(items=[Thing()]).run, name="things")
    bad = Transform(fn=explode, name="explode")
    net = network([(source, bad), (bad, Sink(fn=print, name="show"))])
    with pytest.raises(NetworkError):
        net.run_network(timeout=T)
    for out in (net.diagram(stats=True).source, diagram.text(net, stats=True)):
        assert not ADDRESS.search(out), out
    assert "<Thing object>" in diagram.text(net, stats=True)


def _repo_path():
    return str(Path(__file__).resolve().parent.parent)


def test_import_dissyslab_does_not_import_graphviz():
    code = (
        "import sys, dissyslab, dissyslab.diagram\n"
        "from dissyslab import network, Source, Sink, ListSource\n"
        "net = network([(Source(fn=ListSource(items=[1]).run), Sink(fn=[].append))])\n"
        "repr(net); net.describe(); dissyslab.diagram.text(net); dissyslab.diagram.mermaid(net)\n"
        "net.run_network(timeout=10)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('graphviz', 'ipywidgets', 'IPython', 'jupyterlab'))\n"
        "print(bad)\n"
    )
    env = {**os.environ, "PYTHONPATH": _repo_path()}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- a real notebook ---------------------------------------------------------

@needs_dot
@pytest.mark.slow
def test_an_executed_notebook_keeps_the_svg(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import sys; sys.path.insert(0, %r)\n"
        "from dissyslab import network, Source, Transform, Sink, ListSource\n"
        "s = Source(fn=ListSource(items=['a']).run, name='word_source')\n"
        "t = Transform(fn=str.upper, name='uppercase')\n"
        "g = network([(s, t), (t, Sink(fn=print, name='show'))])\n"
        "g" % _repo_path()
    )]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert len(outputs) == 1 and outputs[0].output_type == "execute_result"
    assert "uppercase" in outputs[0].data["image/svg+xml"]


# --- any network can be drawn ------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@st.composite
def random_networks(draw):
    """A random layered DAG of sources, transforms and sinks, with wide fanouts at times."""
    n_sources = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 16), min_size=0, max_size=3))
    layers = [[Source(fn=ListSource(items=[1]).run, name=f"s{i}") for i in range(n_sources)]]
    for depth, width in enumerate(widths):
        layers.append([Transform(fn=triple, name=f"t{depth}_{i}") for i in range(width)])
    sinks = [Sink(fn=[].append, name=f"k{i}") for i in range(draw(st.integers(1, 3)))]
    edges, hubs = [], [draw(st.booleans()) for _ in layers]  # a hub layer: one wide fanout
    for depth, layer in enumerate(layers[1:], start=1):
        for node in layer:
            if hubs[depth]:
                senders = [layers[depth - 1][0]]
            else:
                senders = draw(st.lists(st.sampled_from(layers[depth - 1]), min_size=1, max_size=2))
            edges += [(s, node) for s in senders]
    used = {id(s) for s, _ in edges}
    for depth, layer in enumerate(layers):
        for node in layer:
            if id(node) not in used or (not hubs[depth] and draw(st.booleans())):
                edges.append((node, sinks[0] if hubs[depth] else draw(st.sampled_from(sinks))))
    for sink in sinks:
        if not any(d is sink for _, d in edges):
            edges.append((layers[-1][0], sink))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateEdgeWarning)
        return network(edges)


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(random_networks(), st.sampled_from([None, True, False, 3]))
def test_any_network_draws_every_node_and_edge_once(net, compact):
    plan = diagram._plan(net, diagram._threshold(compact), pinned=set())
    shown = [b.node for b in plan.boxes if b.node is not None]
    grouped = [m for b in plan.boxes for m in b.members]
    assert sorted(n.name for n in shown + grouped) == sorted(n.name for n in net.nodes)
    # every edge is drawn once: on its own, or inside one "×N" arrow beside a group box
    drawn = [e for link in plan.links for e in link.edges]
    assert len(drawn) == len(set(map(id, drawn)))
    inside = [e for e in net.edges if e not in drawn]
    group = {m.name: b for b in plan.boxes for m in b.members}
    assert all(e.src.name in group and e.dst.name in group for e in inside)
    dot = diagram.build(net, compact=compact).source
    assert dot == diagram.build(net, compact=compact).source
    assert len(drawn_nodes(dot)) == len(plan.boxes)
    assert len(drawn_edges(dot)) == len(plan.links)
    diagram.text(net, compact=compact)
    diagram.mermaid(net, compact=compact)
