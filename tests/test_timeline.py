"""The timeline: a space-time diagram of a traced run, as deterministic SVG."""

import re
import xml.etree.ElementTree as ET

import pytest

from dissyslab import ListSource, NetworkError, Sink, Source, Transform, network
from dissyslab.timeline import FAIL, Timeline

T = 10
SVG = "{http://www.w3.org/2000/svg}"


def src(items, name):
    return Source(fn=ListSource(items=list(items)).run, name=name)


def words(out):
    s = src(["hello", "world", "<b>&co</b>"], "word_source")
    up = Transform(fn=str.upper, name="uppercase")
    short = Transform(fn=lambda w: w if len(w) < 6 else None, name="short_only")
    k = Sink(fn=out.append, name="collector")
    # the sink is listed first: lanes still go in the order messages flow
    return network([(up, k), (s, up), (s, short), (short, k)])


def failing():
    def picky(m):
        if m == 3:
            raise ValueError("no threes")
        return m
    p = Transform(fn=picky, name="picky")
    return network([(src(range(6), "numbers"), p), (p, Sink(fn=lambda m: None, name="k"))])


def parse(tl):
    return ET.fromstring(tl.svg)


def arrows(root):
    return [p for p in root.iter(SVG + "path") if p.get("marker-end") and p.find(SVG + "title") is not None]


def test_one_lane_per_node_in_flow_order_and_one_arrow_per_message():
    g = words([])
    g.run_network(seed=2, trace=True, timeout=T)
    tl = g.timeline()
    assert isinstance(tl, Timeline) and tl._repr_svg_() == tl.svg
    root = parse(tl)  # well-formed XML, even with '<' and '&' in messages
    assert tl.lanes == ["word_source", "uppercase", "short_only", "collector"]
    texts = [t.text for t in root.iter(SVG + "text")]
    for name in tl.lanes:
        assert name in texts
    sends = g.trace.events("send")
    drawn = arrows(root)
    assert len(drawn) == len(sends) == sum(g.edge_counts.values())
    assert not any(a.get("stroke-dasharray") for a in drawn)  # every message arrived in the picture
    assert "'HELLO'" in texts and "'<b>&co</b>'" in texts
    assert any(t and t.endswith("dropped") for t in texts)
    lanes = "word_source, uppercase, short_only, collector"
    assert repr(tl) == f"<Timeline: {len(g.trace)} events on 4 lanes: {lanes}>"


def test_arrows_go_from_the_sender_lane_down_to_the_receiver_lane():
    g = words([])
    g.run_network(seed=4, trace=True, timeout=T)
    root = parse(g.timeline())
    for a in arrows(root):
        x1, y1, x2, y2 = map(float, re.findall(r"-?[\d.]+", a.get("d")))
        assert x2 > x1 and y2 > y1


def test_a_seeded_timeline_is_the_same_every_time():
    g = words([])
    g.run_network(seed=9, trace=True, timeout=T)
    first = g.timeline().svg
    g.run_network(seed=9, trace=True, timeout=T)
    assert g.timeline().svg == first
    assert "seed 9" in first and " at 0x" not in first and " ms" not in first


def test_failures_and_discarded_messages_are_marked():
    g = failing()
    with pytest.raises(NetworkError):
        g.run_network(seed=1, trace=True, timeout=T)
    tl = g.timeline()
    root = parse(tl)
    assert any(c.get("fill") == FAIL for c in root.iter(SVG + "circle"))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "3 ✕ ValueError" in texts
    assert sum(1 for t in texts if t and t.endswith(" discarded")) == g.stats["picky"].discarded == 2
    assert "end (failed)" in texts
    dashed = [a for a in arrows(root) if a.get("stroke-dasharray")]
    assert len(dashed) == 2 and all("discarded" in a.find(SVG + "title").text for a in dashed)


def test_a_threaded_run_draws_too():
    g = words([])
    g.run_network(trace=True, timeout=T)
    root = parse(g.timeline())
    assert "Timeline of a threaded run" in [t.text for t in root.iter(SVG + "text")]
    assert len(arrows(root)) == len(g.trace.events("send"))


def long_run():
    s, inc = src(range(100), "s"), Transform(fn=lambda m: m + 1, name="inc")
    g = network([(s, inc), (inc, Sink(fn=lambda m: None, name="k"))])
    g.run_network(seed=3, trace=True, timeout=T)
    return g


def test_a_long_run_is_cut_and_says_what_was_left_out():
    g = long_run()
    total = len(g.trace)
    tl = g.timeline(max_events=50)
    assert (tl.shown, tl.total) == (50, total)
    assert f"events 0 to 49 of {total}" in tl.svg and "g.timeline(window=(first, last))" in tl.svg
    assert "of %d events" % total in repr(tl)
    everything = g.timeline(max_events=None)
    assert everything.shown == total


def test_a_window_shows_only_those_events_and_marks_arrows_that_leave_it():
    g = long_run()
    tl = g.timeline(window=(100, 140))
    assert tl.shown == 41
    root = parse(tl)
    numbers = [int(t.text) for t in root.iter(SVG + "text") if t.text and t.text.isdigit()
               and t.get("x") == "40"]
    assert numbers and min(numbers) >= 100 and max(numbers) <= 140
    assert any(a.get("stroke-dasharray") for a in arrows(root))  # messages sent before or received after
    assert "events 100 to 140 of" in tl.svg


def test_bad_windows_and_limits_get_clear_errors():
    g = long_run()
    with pytest.raises(ValueError, match=r"pair \(first, last\)"):
        g.timeline(window=(5,))
    with pytest.raises(ValueError, match=r"pair \(first, last\)"):
        g.timeline(window=(9, 2))
    with pytest.raises(ValueError, match="holds no events: this trace's events are numbered 0 to"):
        g.timeline(window=(10**6, 10**6 + 5))
    with pytest.raises(ValueError, match="max_events must be a whole number"):
        g.timeline(max_events=0)


def test_without_a_trace_the_timeline_says_how_to_get_one():
    g = words([])
    g.run_network(timeout=T)
    with pytest.raises(RuntimeError, match=r"trace=True"):
        g.timeline()


def test_save_writes_the_svg(tmp_path):
    g = words([])
    g.run_network(seed=0, trace=True, timeout=T)
    tl = g.timeline()
    path = tmp_path / "timeline.svg"
    tl.save(path)
    assert path.read_text(encoding="utf-8") == tl.svg


def test_a_wide_timeline_is_shown_fitted_to_the_page_with_inline_styles():
    """Jupyter shows a timeline as HTML sized to the page: scaled down to its width, but never
    further than keeps its smallest text (9.5 px) diagram.MIN_TEXT_PX high, past which it scrolls;
    no style sheet is needed (GitHub strips them)."""
    import re

    from dissyslab import diagram

    nodes = [Transform(fn=str.upper, name=f"stage_{i}") for i in range(14)]
    g = network([(Source(fn=ListSource(items=["a"]).run, name="words"), nodes[0])]
                + list(zip(nodes, nodes[1:], strict=False))
                + [(nodes[-1], Sink(fn=lambda m: None, name="out"))])
    g.run_network(seed=1, trace=True, timeout=10, live=False)
    tl = g.timeline()
    shown = tl._repr_html_()
    width = float(re.search(r'<svg\b[^>]*\swidth="([0-9.]+)"', tl.svg).group(1))
    assert width > 1500
    assert shown.startswith('<div class="dsl-picture" style="overflow-x:auto;width:0;min-width:100%">')
    least = round(width * diagram.MIN_TEXT_PX / 9.5)
    assert f'style="max-width:100%;height:auto;min-width:{least}px' in shown
    assert shown.endswith(tl.svg[tl.svg.find("<svg"):].split(">", 1)[1] + "</div>")


def test_a_replayed_schedule_is_timed_in_steps_and_draws_the_same_every_time():
    # a replay takes one step at a time, as a seeded run does: its trace and timeline must
    # not carry wall-clock times (they changed at every replay) nor call it a threaded run
    def bank():
        a = Source(fn=ListSource([100, -80]).run, name="teller_a")
        b = Source(fn=ListSource([-60]).run, name="teller_b")
        log = Sink(fn=lambda x: None, name="log")
        return network([(a, log), (b, log)])

    g = bank()
    s = g.explore(exhaustive=True, timeout=5)["log"][2].schedule
    drawn = []
    for _ in range(3):
        g.run_network(schedule=s, trace=True, timeout=5, live=False)
        assert all(type(r.time) is int for r in g.trace)
        assert g.trace.table().startswith("trace of a replayed schedule")
        drawn.append(g.timeline()._repr_svg_())
    assert drawn[0] == drawn[1] == drawn[2]
    assert "Timeline of a replayed schedule" in drawn[0]
