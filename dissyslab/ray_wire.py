"""The wire of a Ray run: the hub's calls to the node-host processes, and their reports, over sockets.

Ray starts the node-host processes (on this machine or on any of a cluster)
and loads a node into each (``ray_pool.py``). The calls of the run itself
(``produce``, ``take``, ``end``, ``record``) then go by a plain connection
between the hub and each host, not by Ray calls: a Ray call costs about a
millisecond of CPU in the two processes it joins, about as much as handling a
batch of 5,000 small messages, and a call on a socket about a tenth of that
(``benchmarks/ray_cpu.py --calls``).

How it goes:

* The hub listens on a port of its machine, picked for the run, at the
  address Ray knows that machine by (:class:`Wire`; on a cluster, no firewall
  may stand between it and the other machines). It asks each
  host, by one Ray call, to serve the run (:func:`serve`, from
  ``NodeHost.serve``): the host connects to the hub and greets it, in plain
  text, with the run's secret and the name of the node it hosts (so that no
  other program can pose as a host: the hub unpickles nothing before), then answers
  the hub's calls one at a time, in the order they come, until the hub closes
  the connection. Only then does that Ray call return, and the pool's next
  call to the host (``clear``) can run.
* Every call and every report is one *frame*: its length in 8 bytes, then its
  bytes (a pickle). A call is ``(method, args)``; a report ``(True, what the
  method returned)``, or ``(False, text)`` if the engine's own code failed
  there (a node's failure is part of a normal report).
* A call that runs longer than :data:`EARLY` (a slow function, or one that
  blocks) sends what it has made so far before its report, as ``(None,
  part)``, again every ``EARLY`` seconds: its results go on as they are made,
  as with threads, and a run stopped meanwhile keeps them.
* A host reads the hub's calls in a thread of its own, as they come, so the
  hub never waits to write while the host writes a report to it: neither can
  wait for ever for the other to read.
* A connection keeps its calls in order: a node's reports come back in the
  order the hub made its calls. A host whose process dies (killed, out of
  memory) closes its connection: the hub reads the end of the stream, and the
  node fails, by name.
"""

from __future__ import annotations

import hmac
import pickle
import queue
import secrets
import selectors
import socket
import struct
import threading
import time
from typing import Any, Callable, Iterator

#: a frame's length, before its bytes
HEADER = struct.Struct("!Q")
#: the calls a host answers on the wire (anything else is refused)
CALLS = ("produce", "take", "end", "record")
#: seconds between two looks while the hosts connect (for a stop)
ACCEPT_LOOK = 0.05
#: seconds a host may take to connect once asked
CONNECT_TIMEOUT = 60
#: seconds a call runs before what it has made so far goes to the hub, without waiting for its end
EARLY = 0.02


class WireError(RuntimeError):
    """The hub's connection to a node's process failed (it could not be made, or broke)."""


# --- frames ----------------------------------------------------------------------------
def send_frame(sock: socket.socket, data: bytes) -> None:
    """Write one frame: ``data``'s length, then ``data``."""
    if len(data) < 65536:
        sock.sendall(HEADER.pack(len(data)) + data)
    else:  # (no copy of a large batch just to put 8 bytes before it)
        sock.sendall(HEADER.pack(len(data)))
        sock.sendall(data)


def recv_frame(sock: socket.socket, largest: int | None = None) -> bytearray | None:
    """Read one frame's bytes; None if the connection ended (the other process closed it or died),
    or if the frame is longer than ``largest`` bytes."""
    head = _recv_exactly(sock, HEADER.size)
    if head is None:
        return None
    n = HEADER.unpack(head)[0]
    return None if largest is not None and n > largest else _recv_exactly(sock, n)


def _recv_exactly(sock: socket.socket, n: int) -> bytearray | None:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        try:
            r = sock.recv_into(view[got:])
        except (ConnectionError, OSError):
            return None
        if r == 0:
            return None
        got += r
    return buf


def _nodelay(sock: socket.socket) -> socket.socket:
    """A frame goes at once, not held back to be joined with the next (Nagle's algorithm)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# --- the host's side -------------------------------------------------------------------
def serve(host: Any, address: tuple, secret: str, name: str,
          dumps: Callable[[Any], bytes]) -> None:
    """Serve one run for ``host`` (a ``NodeHost``): connect to the hub at ``address``, then
    answer its calls in order until it closes the connection. ``dumps`` pickles a report."""
    sock = _nodelay(socket.create_connection(address, timeout=CONNECT_TIMEOUT))
    sock.settimeout(None)
    calls: queue.SimpleQueue = queue.SimpleQueue()
    sending = threading.Lock()
    busy = [None]  # perf_counter when the call now running began, or last sent something early
    done = threading.Event()

    def send(reply: tuple) -> None:
        with sending:
            send_frame(sock, dumps(reply))

    def early(part: tuple) -> None:
        send((None, part))
        if busy[0] is not None:
            busy[0] = time.perf_counter()

    try:
        send_frame(sock, f"{secret} {name}".encode())
        for target, args in ((_read_calls, (sock, calls)), (_watch, (host, busy, early, done))):
            threading.Thread(target=target, args=args, daemon=True, name="dissyslab wire").start()
        while (frame := calls.get()) is not None:
            method, args = pickle.loads(frame)
            busy[0] = time.perf_counter()
            try:
                if method not in CALLS:
                    raise ValueError(f"no such call: {method!r}")
                reply = (True, getattr(host, method)(*args))
            except Exception as exc:  # the engine's own code failed: the hub names the node
                reply = (False, f"{type(exc).__name__}: {exc}")
            try:
                send(reply)
            except OSError:
                return  # the hub has gone (the run was stopped)
            busy[0] = None
    finally:
        done.set()
        sock.close()


def _watch(host: Any, busy: list, early: Callable[[tuple], None], done: threading.Event) -> None:
    """While a call runs longer than EARLY, have ``host`` send what it has made so far (``early``)."""
    while not done.wait(EARLY / 2):
        began = busy[0]
        if began is not None and time.perf_counter() - began >= EARLY:
            try:
                host.so_far(early)
            except OSError:
                return  # the hub has gone


def _read_calls(sock: socket.socket, calls: queue.SimpleQueue) -> None:
    """Read the hub's calls as they come (None: the connection ended)."""
    while (frame := recv_frame(sock)) is not None:
        calls.put(frame)
    calls.put(None)


# --- the hub's side --------------------------------------------------------------------
class Wire:
    """The hub's connections to the hosts of one run, by node name.

    ``ip``: the address of this machine that the hosts can reach (Ray's own
    for this node). Made with the run, closed at its end (:meth:`close`).
    """

    def __init__(self, ip: str) -> None:
        self.secret = secrets.token_hex(16)
        self.server = socket.create_server((ip, 0))
        self.server.settimeout(ACCEPT_LOOK)
        self.address = self.server.getsockname()[:2]
        self.selector = selectors.DefaultSelector()
        self.socks: dict[str, socket.socket] = {}

    def accept(self, names: set[str], stopping: Callable[[], bool],
               gone: Callable[[], str | None]) -> None:
        """Wait until every host of ``names`` has connected, or ``stopping()`` is true.

        ``gone()`` names a host that stopped serving before it connected (its
        process died), or None. Raises :class:`WireError` if one did, or if a
        host does not connect within :data:`CONNECT_TIMEOUT` seconds.
        """
        limit = time.monotonic() + CONNECT_TIMEOUT
        while len(self.socks) < len(names) and not stopping():
            lost = gone()
            if lost is not None:
                raise WireError(f"the process of '{lost}' ended before it could be reached")
            if time.monotonic() > limit:
                missing = ", ".join(sorted(names - set(self.socks)))
                raise WireError(f"the processes of {missing} did not connect to this one within "
                                f"{CONNECT_TIMEOUT} seconds: a firewall may stand between them")
            try:
                sock, _ = self.server.accept()
            except TimeoutError:
                continue
            self._greet(_nodelay(sock), names)

    def _greet(self, sock: socket.socket, names: set[str]) -> None:
        """Keep a connection that gives the run's secret and a node still to connect; close any other.

        Nothing a connection sends is unpickled before it has given the secret:
        its first frame is plain text, ``"<secret> <name>"``.
        """
        sock.settimeout(ACCEPT_LOOK * 20)
        hello = recv_frame(sock, largest=64 + 4 * max(map(len, names), default=0)) or b""
        secret, _, name = bytes(hello).decode("utf-8", "replace").partition(" ")
        if (not hmac.compare_digest(secret.encode(), self.secret.encode())
                or name not in names or name in self.socks):
            sock.close()
            return
        sock.settimeout(None)
        self.socks[name] = sock
        self.selector.register(sock, selectors.EVENT_READ, name)

    def call(self, name: str, method: str, *args: Any) -> None:
        """Send a call to ``name``'s host; its report comes back later (:meth:`reports`).

        A host whose connection broke is not an error here: :meth:`reports` says it ended.
        """
        sock = self.socks.get(name)
        if sock is None:
            return
        try:
            send_frame(sock, pickle.dumps((method, args), protocol=5))
        except OSError:
            pass

    def reports(self, timeout: float) -> Iterator[tuple[str, Any]]:
        """The reports that have come within ``timeout`` seconds: (name, report), where report is
        ``(True, result)``, ``(False, text)``, ``(None, part)`` (what a call still running has
        made so far), or None when the host's connection ended."""
        for key, _ in self.selector.select(timeout):
            name = key.data
            frame = recv_frame(key.fileobj)
            if frame is None:
                self._drop(name)
                yield name, None
            else:
                yield name, pickle.loads(frame)

    def _drop(self, name: str) -> None:
        sock = self.socks.pop(name, None)
        if sock is not None:
            self.selector.unregister(sock)
            sock.close()

    def close(self) -> None:
        """Close every connection: each host's ``serve`` returns (or has, if its process died)."""
        for name in list(self.socks):
            self._drop(name)
        self.selector.close()
        self.server.close()
