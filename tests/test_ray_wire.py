"""The wire between the hub and the node-host processes (ray_wire.py), without Ray: frames, the
greeting that keeps other programs out, a host's answers in order, and a host that goes away."""

import os
import pickle
import socket
import threading

import pytest

from dissyslab.ray_wire import Wire, WireError, recv_frame, send_frame, serve

pytestmark = pytest.mark.timeout(60)


class Echo:
    """Stands for a NodeHost: each call returns what it was given, with the call's name."""

    def produce(self, k):
        return ("produce", k)

    def take(self, items):
        return ("take", items)

    def end(self):
        return ("end",)

    def record(self, wanted):
        if wanted == "boom":
            raise KeyError("the engine's own code failed here")
        return ("record", wanted)

    def so_far(self, send):
        pass  # (its calls are quick: nothing to send before their reports)


class Slow(Echo):
    """Stands for a NodeHost whose node is slow: its take makes two results, then waits until
    they have gone to the hub early (as a node stuck in its function would) before the rest."""

    def __init__(self):
        self.made, self.sent = [], 0
        self.lock, self.went = threading.Lock(), threading.Event()

    def take(self, items):
        for i, x in enumerate(items):
            if i == 2:
                assert self.went.wait(30)
            with self.lock:
                self.made.append(x)
        with self.lock:
            rest, self.sent = self.made[self.sent:], len(self.made)
        return ("take", rest)

    def so_far(self, send):
        with self.lock:
            new, self.sent = self.made[self.sent:], len(self.made)
            if new:
                send(new)
                self.went.set()


def hosts(wire, names, host=Echo):
    """Start a serving thread per name, as each NodeHost.serve would in its process."""
    threads = [threading.Thread(target=serve, args=(host(), wire.address, wire.secret, name,
                                                    pickle.dumps), daemon=True)
               for name in names]
    for t in threads:
        t.start()
    return threads


def answers(wire, n):
    got = []
    while len(got) < n:
        got += list(wire.reports(5.0))
    return got


def test_frames_of_any_size_arrive_whole_and_a_closed_connection_reads_as_none():
    a, b = socket.socketpair()
    big = os.urandom(3_000_000)  # larger than a socket's buffer: written while it is read
    writer = threading.Thread(target=lambda: [send_frame(a, x) for x in (b"", b"hello", big)])
    writer.start()
    assert [recv_frame(b) for _ in range(3)] == [b"", b"hello", big]
    writer.join()
    a.sendall(b"\0\0\0\0\0\0\0\x09abc")  # a frame cut short: its sender died
    a.close()
    assert recv_frame(b) is None
    b.close()


def test_a_host_answers_each_call_in_the_order_it_was_made():
    wire = Wire("127.0.0.1")
    threads = hosts(wire, ["a", "b"])
    wire.accept({"a", "b"}, lambda: False, lambda: None)
    for i in range(50):
        wire.call("a", "produce", i)
        wire.call("b", "take", [(0, 0, b"x" * i)])
    wire.call("a", "end")
    got = answers(wire, 101)
    assert [r for name, r in got if name == "a"] == [(True, ("produce", i)) for i in range(50)] + [
        (True, ("end",))]
    assert [r[1][1][0][2] for name, r in got if name == "b"] == [b"x" * i for i in range(50)]
    wire.close()
    for t in threads:  # the hub closed the connection: each host's serve returns
        t.join(5)
        assert not t.is_alive()


def test_a_failure_of_the_engine_code_in_a_host_is_reported_and_the_host_goes_on():
    wire = Wire("127.0.0.1")
    hosts(wire, ["a"])
    wire.accept({"a"}, lambda: False, lambda: None)
    wire.call("a", "record", "boom")
    wire.call("a", "clear")  # not a call of a run: refused, by name
    wire.call("a", "record", True)
    assert [r for _, r in answers(wire, 3)] == [
        (False, "KeyError: \"the engine's own code failed here\""),
        (False, "ValueError: no such call: 'clear'"), (True, ("record", True))]
    wire.close()


def test_a_long_call_sends_what_it_made_so_far_before_its_report():
    wire = Wire("127.0.0.1")
    hosts(wire, ["a"], Slow)
    wire.accept({"a"}, lambda: False, lambda: None)
    wire.call("a", "take", [1, 2, 3, 4])
    wire.call("a", "produce", 5)
    assert [r for _, r in answers(wire, 3)] == [
        (None, [1, 2]), (True, ("take", [3, 4])), (True, ("produce", 5))]
    wire.close()


def closed(s):
    """True once the other end has closed ``s`` (``s`` is closed too)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:  # (closed with bytes unread: the peer resets it)
        return True
    finally:
        s.close()


def test_only_a_connection_with_the_runs_secret_is_kept_and_nothing_else_is_unpickled(tmp_path):
    wire = Wire("127.0.0.1")
    planted = tmp_path / "planted"

    class Plant:
        def __reduce__(self):
            return (open, (str(planted), "w"))

    def intruders():
        for hello in (pickle.dumps(Plant()), b"0" * 32 + b" a", f"{wire.secret} nobody".encode()):
            s = socket.create_connection(wire.address)
            send_frame(s, hello)
            assert closed(s)
        s = socket.create_connection(wire.address)  # a length far too large is not read
        s.sendall(b"\xff" * 8)
        assert closed(s)
        hosts(wire, ["a"])
    t = threading.Thread(target=intruders)
    t.start()
    wire.accept({"a"}, lambda: False, lambda: None)
    t.join(10)
    assert list(wire.socks) == ["a"] and not planted.exists()
    wire.call("a", "produce", 3)
    assert answers(wire, 1) == [("a", (True, ("produce", 3)))]
    wire.close()


def test_a_host_whose_process_ends_reads_as_none_and_one_that_never_connects_is_named():
    wire = Wire("127.0.0.1")
    s = socket.create_connection(wire.address)
    send_frame(s, f"{wire.secret} a".encode())
    wire.accept({"a"}, lambda: False, lambda: None)
    s.close()  # as when its process dies
    assert answers(wire, 1) == [("a", None)]
    assert "a" not in wire.socks
    wire.close()

    wire = Wire("127.0.0.1")
    with pytest.raises(WireError, match="the process of 'b' ended before it could be reached"):
        wire.accept({"b"}, lambda: False, lambda: "b")
    wire.accept({"b"}, lambda: True, lambda: None)  # a stop ends the wait
    wire.close()
