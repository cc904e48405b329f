"""Hostile and unusual networks still end cleanly, with the real error (issue 14).

Each test runs its network in a fresh interpreter with a hard time limit
(``tests/subproc.py``), so a hang fails one test instead of the suite.
"""

from subproc import run_ok


def test_reusing_nodes_in_a_second_network_changes_neither_the_nodes_nor_the_first():
    out = run_ok("""
        from dissyslab import ListSource, Sink, Source, Transform, network

        def double(x):
            return 2 * x

        got1, got2 = [], []
        s = Source(fn=ListSource(items=[1, 2, 3]).run, name="s")
        a, b = Transform(fn=double), Transform(fn=double)
        k = Sink(fn=got1.append, name="k")
        g1 = network([(s, a), (a, b), (b, k)])
        names1 = [n.name for n in g1.nodes]
        s2 = Source(fn=ListSource(items=[5]).run, name="s")
        k2 = Sink(fn=got2.append, name="k")
        g2 = network([(s2, b), (b, k2)])
        assert [n.name for n in g1.nodes] == names1 == ["s", "double", "double_2", "k"], names1
        assert a.name == "double" and b.name == "double_2"
        g1.run_network(timeout=5, live=False)
        g2.run_network(timeout=5, live=False)
        assert got1 == [4, 8, 12] and got2 == [10], (got1, got2)
        assert sorted(g1.stats) == ["double", "double_2", "k", "s"]
        assert sorted(g2.stats) == ["double_2", "k", "s"]

        # two nodes named alike in two networks, then put together: the third network
        # has its own name for one of them, and the first two are untouched
        c, d = Transform(fn=double), Transform(fn=double)
        out_c, out_d, out_both = [], [], []
        g3 = network([(Source(fn=ListSource(items=[1]).run), c), (c, Sink(fn=out_c.append))])
        g4 = network([(Source(fn=ListSource(items=[2]).run), d), (d, Sink(fn=out_d.append))])
        assert c.name == d.name == "double"
        src = Source(fn=ListSource(items=[3]).run)
        both = Sink(fn=out_both.append)
        g5 = network([(src, c), (src, d), (c, both), (d, both)])
        assert c.name == d.name == "double"
        assert [g5.name_of(n) for n in g5.nodes] == ["list_source", "double", "double_2", "append"]
        assert g5.node("double_2") is d and g5.node(d) is d and g5.node(c) is c
        assert [e.label for e in g5.edges][1] == "list_source → double_2"
        for g in (g3, g4, g5):
            g.run_network(timeout=5, live=False)
        assert (out_c, out_d, sorted(out_both)) == ([2], [4], [6, 6])
        assert sorted(g5.stats) == ["append", "double", "double_2", "list_source"]
        assert g5.stats["double_2"].received == 1 and g3.stats["double"].received == 1
        assert "double_2" in g5.describe() and "double_2" not in g4.describe()
        g5.run_network(seed=3, timeout=5, live=False)
        from dissyslab.check.shape import verified
        assert verified(g5).names() == ["list_source", "double", "double_2", "append"]
        assert "double_2" in __import__("dissyslab").diagram.text(g5)
        assert sorted(out_both) == [6, 6, 6, 6]
        print("ok")
        """)
    assert out.stdout.strip() == "ok"


def test_a_network_names_its_own_nodes_in_errors_and_pictures():
    out = run_ok("""
        from dissyslab import ListSource, NetworkError, Sink, Source, Transform, network
        from dissyslab import diagram

        def bad(x):
            raise ValueError("no")

        c, d = Transform(fn=bad), Transform(fn=bad)
        network([(Source(fn=ListSource(items=[1]).run), c), (c, Sink(fn=print))])
        network([(Source(fn=ListSource(items=[1]).run), d), (d, Sink(fn=print))])
        src = Source(fn=ListSource(items=[3]).run)
        sink = Sink(fn=print)
        g = network([(src, c), (src, d), (c, sink), (d, sink)])
        try:
            g.run_network(timeout=5, live=False)
        except NetworkError as err:
            text = str(err)
        assert "transform 'bad' failed" in text and "transform 'bad_2' failed" in text, text
        picture = diagram.text(g, stats=True)
        assert "bad_2" in picture, picture
        try:
            g.run_network(timeout=5, live=False, trace=True)
        except NetworkError:
            pass
        assert {r.node for r in g.trace} == {"list_source", "bad", "bad_2", "print"}, g.trace
        assert "bad_2" in g.timeline().lanes and "bad_2" in g.timeline().svg
        assert "list_source → bad_2" in {e.label for e in g.edges}
        print("ok")
        """)
    assert out.stdout.strip() == "ok"


def test_two_networks_sharing_a_source_cannot_run_at_the_same_time():
    out = run_ok("""
        import threading
        from dissyslab import ListSource, Sink, Source, network

        items = ListSource(items=range(20000))
        release = threading.Event()
        got1, got2, got3 = [], [], []

        def held(x):
            release.wait(10)
            got1.append(x)

        shared = Source(fn=items.run, name="numbers")
        g1 = network([(shared, Sink(fn=held, name="k"))])
        g2 = network([(shared, Sink(fn=got2.append, name="k"))])
        # a ListSource in two Source nodes splits its items just the same
        g3 = network([(Source(fn=items.run, name="again"), Sink(fn=got3.append, name="k"))])
        t = threading.Thread(target=g1.run_network, kwargs={"timeout": 10, "live": False})
        t.start()
        while not got1 and not g1.running:
            pass
        for g, what in ((g2, "source 'numbers'"), (g3, "the ListSource of source 'again'")):
            try:
                g.run_network(timeout=10, live=False)
            except RuntimeError as exc:
                text = str(exc)
                assert what in text and "another network that is running" in text, text
                assert "one after the other" in text, text
            else:
                raise AssertionError("no error")
        release.set()
        t.join()
        assert len(got1) == 20000 and not got2 and not got3, (len(got1), len(got2), len(got3))
        # one after the other, each gets every item
        g2.run_network(timeout=10, live=False)
        g3.run_network(timeout=10, live=False)
        assert len(got2) == len(got3) == 20000
        print("ok")
        """)
    assert out.stdout.strip() == "ok"


def test_generator_and_async_functions_are_refused_when_the_node_is_made():
    out = run_ok("""
        import functools
        from dissyslab import Sink, Source, Split, Transform

        def numbers():
            yield from range(3)

        def doubles(x):
            yield 2 * x

        async def fetch(x):
            return x

        async def ticks():
            yield 1

        class Reader:
            def lines(self):
                yield "a"

            def __call__(self, x):
                yield x

        def refused(make, *words):
            try:
                make()
            except TypeError as exc:
                text = str(exc)
                assert all(w in text for w in words), (words, text)
                return text
            raise AssertionError(f"accepted: {words}")

        print(refused(lambda: Source(fn=numbers), "Source", "numbers", "generator function",
                      "ListSource", "None"))
        refused(lambda: Source(fn=Reader().lines), "generator function", "ListSource")
        print(refused(lambda: Transform(fn=doubles), "Transform", "doubles", "generator function",
                      "return"))
        refused(lambda: Transform(fn=functools.partial(doubles)), "generator function")
        refused(lambda: Sink(fn=Reader()), "generator function")
        refused(lambda: Split(fn=doubles, num_outputs=2), "generator function", "list")
        print(refused(lambda: Transform(fn=fetch), "async def", "fetch", "def"))
        refused(lambda: Sink(fn=functools.partial(fetch)), "async def")
        refused(lambda: Source(fn=ticks), "async def")
        Transform(fn=abs), Source(fn=iter([1]).__next__), Sink(fn=print)
        print("ok")
        """)
    assert out.stdout.strip().endswith("ok")
    print(out.stdout)


def test_a_transform_that_drops_every_message_is_named_after_the_run():
    out = run_ok("""
        import warnings
        from dissyslab import DroppedEverythingWarning, ListSource, Sink, Source, Transform, network

        def run(fn, n, **kw):
            got = []
            src = Source(fn=ListSource(items=[{"n": i} for i in range(n)]).run, name="numbers")
            t = Transform(fn=fn, **kw)
            g = network([(src, t), (t, Sink(fn=got.append, name="keep"))])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                g.run_network(timeout=5, live=False)
            return [str(w.message) for w in caught if w.category is DroppedEverythingWarning]

        seen = run(lambda d: d.update(k=1), 20, name="add_key")
        assert len(seen) == 1, seen
        text = seen[0]
        assert "transform 'add_key'" in text and "20" in text and "return" in text, text
        assert "\\n" not in text, text
        seen = run(print, 12)
        assert len(seen) == 1 and "transform 'print'" in seen[0] and "Sink" in seen[0], seen
        assert run(lambda d: None, 5) == []     # too few messages to be sure
        assert len(run(print, 3)) == 1          # ... unless the function always returns None
        assert len(run(dict.update, 3, params={"k": 1})) == 1
        assert len(run([].append, 3)) == 1
        assert run(lambda d: d if d["n"] else None, 20) == []   # a filter that passes some
        print("ok")
        """)
    assert out.stdout.strip().endswith("ok")


def test_threads_a_node_started_and_left_running_are_named_after_the_run():
    out = run_ok("""
        import threading, time, warnings
        import dissyslab
        from dissyslab import ListSource, Sink, Source, network

        stop = threading.Event()

        def save_later(x):
            threading.Thread(target=stop.wait, name=f"saver {x}").start()

        def save_now(x):
            t = threading.Thread(target=lambda: None, name=f"quick {x}")
            t.start()
            t.join()

        def run(fn, **kw):
            g = network([(Source(fn=ListSource(items=[1, 2]).run), Sink(fn=fn, name="saver"))])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                g.run_network(timeout=5, live=False, **kw)
            return [str(w.message) for w in caught
                    if w.category is dissyslab.ThreadStillRunningWarning]

        for kw in ({}, {"seed": 1}):
            seen = run(save_later, **kw)
            assert len(seen) == 1, seen
            assert "'saver 1'" in seen[0] and "'saver 2'" in seen[0], seen
            assert "daemon" in seen[0] and "join" in seen[0], seen
            stop.set()
            time.sleep(0.2)
            stop.clear()
        assert run(save_now) == []
        stop.set()
        print("ok")
        """)
    assert out.stdout.strip().endswith("ok")


def test_the_real_error_survives_messages_and_exceptions_that_cannot_be_shown():
    out = run_ok("""
        from dissyslab import ListSource, NetworkError, Sink, Source, Split, Transform, network
        from dissyslab.errors import short_repr

        class BadRepr:
            def __repr__(self):
                raise AttributeError("repr is broken")

        class BadStr(Exception):
            def __str__(self):
                raise AttributeError("str is broken")

        def real_error(x):
            raise ValueError("the real error")

        def bad_str(x):
            raise BadStr()

        deep = []
        for _ in range(100_000):
            deep = [deep]

        def failure(fn, items, trace=False, fanout=False):
            src = Source(fn=ListSource(items=[0]).run, name="s")
            t = Transform(fn=lambda x: items[0], name="make")
            f = fn if isinstance(fn, (Transform, Split)) else Transform(fn=fn, name="t")
            edges = [(src, t), (t, f)]
            if isinstance(f, Split):
                edges += [(f.out_0, Sink(fn=len, name="a")), (f.out_1, Sink(fn=len, name="b"))]
            else:
                edges += [(f, Sink(fn=len, name="a"))]
                if fanout:
                    edges.append((f, Sink(fn=len, name="b")))
            g = network(edges)
            try:
                g.run_network(timeout=20, live=False, trace=trace)
            except NetworkError as err:
                text = str(err)
                assert len(text) < 2000, len(text)
                return text
            raise AssertionError("no NetworkError")

        for trace in (False, True):
            text = failure(real_error, [BadRepr()], trace)
            assert "ValueError: the real error" in text and "BadRepr" in text, text
            text = failure(bad_str, [1], trace)
            assert "transform 't' failed on message 1: BadStr" in text, text
            text = failure(real_error, [deep], trace)
            assert "ValueError: the real error" in text, text
            text = failure(lambda x: x, [deep], trace, fanout=True)
            assert "could not send" in text and "copied" in text, text
            text = failure(Split(fn=lambda x: BadRepr(), num_outputs=2, name="sp"), [1], trace)
            assert "must return a list of 2 items" in text, text
            text = failure(Split(fn=lambda x: deep, num_outputs=2, name="sp"), [1], trace)
            assert "must return a list of 2 items" in text, text
        big = list(range(10_000_000))
        assert short_repr(big) == repr(big[:30])[:77] + "...", short_repr(big)
        assert "nested" in short_repr(deep), short_repr(deep)
        print("ok")
        """, timeout=60)
    assert out.stdout.strip().endswith("ok")


def test_a_source_that_raises_stop_iteration_is_told_to_return_none():
    out = run_ok("""
        from dissyslab import NetworkError, Sink, Source, network

        for kw in ({}, {"seed": 2}):
            got = []
            g = network([(Source(fn=iter([1, 2]).__next__, name="numbers"),
                           Sink(fn=got.append, name="k"))])
            try:
                g.run_network(timeout=5, live=False, **kw)
            except NetworkError as err:
                text = str(err)
            else:
                raise AssertionError("no error")
            assert got == [1, 2], got
            assert "source 'numbers' failed: StopIteration" in text, text
            assert "returning None" in text and "next(it, None)" in text, text
        print("ok")
        """)
    assert out.stdout.strip().endswith("ok")


def test_the_timeout_message_summarises_a_large_network():
    out = run_ok("""
        import itertools, time
        from dissyslab import NetworkTimeout, Sink, Source, Transform, network

        numbers = itertools.count()

        def slow(x):
            time.sleep(0.01)
            return x

        nodes = [Source(fn=lambda: next(numbers), name="numbers")]
        nodes += [Transform(fn=slow, name=f"step_{i}") for i in range(200)]
        nodes.append(Sink(fn=lambda m: None, name="end"))
        g = network(list(itertools.pairwise(nodes)))
        try:
            g.run_network(timeout=1, live=False)
        except NetworkTimeout as err:
            text = str(err)
        else:
            raise AssertionError("no timeout")
        assert len(text) < 1500, (len(text), text)
        assert "source 'numbers'" in text, text
        assert text.count("'step_") == 10 - ("source 'numbers'" in text), text
        assert "and 19" in text and "more" in text, text
        print("ok")
        """, timeout=60)
    assert out.stdout.strip().endswith("ok")


def test_a_network_that_is_refused_changes_no_node():
    out = run_ok("""
        from dissyslab import ListSource, Sink, Source, Transform, network

        def double(x):
            return 2 * x

        s = Source(fn=ListSource(items=[1]).run, name="s")
        a, b = Transform(fn=double), Transform(fn=double)
        try:
            network([(s, a), (a, b)])  # b sends to nothing
        except ValueError as err:
            assert "'double_2' sends to nothing" in str(err), err
        assert a.name == b.name == "double"
        got = []
        g = network([(s, b), (b, Sink(fn=got.append, name="k"))])
        assert b.name == "double" and g.name_of(b) == "double"
        g.run_network(timeout=5, live=False)
        assert got == [2]
        print("ok")
        """)
    assert out.stdout.strip().endswith("ok")


def test_a_fast_merge_synch_input_beside_a_slow_one_does_not_fill_memory():
    # Before MergeSynch inputs had a bound, this grew by hundreds of MB a second.
    out = run_ok("""
        import resource, time
        from dissyslab import MergeSynch, NetworkTimeout, Sink, Source, network

        def fast():
            return "x" * 100

        def slow():
            time.sleep(0.01)
            return "y"

        m = MergeSynch(num_inputs=2, name="pair")
        pairs = []
        g = network([(Source(fn=fast, name="fast"), m.in_0), (Source(fn=slow, name="slow"), m.in_1),
                     (m, Sink(fn=pairs.append, name="pairs"))])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            g.run_network(timeout=2, capacity=100, live=False)
        except NetworkTimeout:
            pass
        grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        made = g.stats["fast"].sent
        print(f"grew {grew_mb:.0f} MB; fast made {made}, pairs {len(pairs)}")
        assert grew_mb < 50, grew_mb
        # at most 100 wait at pair.in_0 unpaired, and 100 pairs wait for the sink
        assert made <= len(pairs) + 2 * 100, (made, len(pairs))
        assert pairs and pairs[0] == ["x" * 100, "y"]
    """, timeout=60)
    assert "grew" in out.stdout
