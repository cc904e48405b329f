"""The building blocks of a network: nodes that wrap ordinary Python functions, and edges.

Each kind of node calls your function in its own way:

* :class:`Source` calls ``fn()`` again and again and sends each result on,
  until ``fn`` returns ``None``;
* :class:`Transform` sends ``fn(msg)`` on for every message (``None`` drops it);
* :class:`Sink` calls ``fn(msg)`` for every message and sends nothing on;
* :class:`Split` sends item ``i`` of the list ``fn(msg)`` returns to its output ``out_i``;
* :class:`MergeSynch` takes one message from each input and sends them on as a list.

An :class:`Edge` connects two of them; ``network([...])`` (``build.py``)
checks the edges and makes the network. A node knows its function, its name
and its parameters; it knows nothing of threads or queues: what a node does
with a message is in ``semantics.py``, and a scheduler (``threads.py``,
``seeded.py``) decides when it does it. :class:`NodeStats` holds what one node
did in the last run.
"""

from __future__ import annotations

import functools
import re

from .errors import short_repr, shown_to_students

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any, Callable


class NodeStats:
    """Counters of one node for the last run.

    ``received``: messages it took in; ``sent``: messages it sent on (a message
    fanned out to three receivers counts once); ``dropped``: messages it
    filtered out by returning ``None``; ``failed``: messages on which its
    function raised; ``discarded``: messages that reached it after it failed.

    Two NodeStats are equal when every counter is: ``g.stats["double"] ==
    NodeStats(received=3, sent=3)``. ``vars(stats)`` gives the counters as a dict.
    """

    def __init__(self, received: int = 0, sent: int = 0, dropped: int = 0, failed: int = 0,
                 discarded: int = 0) -> None:
        self.received = received
        self.sent = sent
        self.dropped = dropped
        self.failed = failed
        self.discarded = discarded

    def _counters(self) -> tuple[int, int, int, int, int]:
        return (self.received, self.sent, self.dropped, self.failed, self.discarded)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._counters() == other._counters()

    def __repr__(self) -> str:
        return (f"NodeStats(received={self.received!r}, sent={self.sent!r}, "
                f"dropped={self.dropped!r}, failed={self.failed!r}, discarded={self.discarded!r})")


class Node:
    """What every node has: a function, a name, and keyword parameters for the function.

    ``fn``: the function the node calls (pass the function itself: ``fn=double``,
    not ``fn=double()``). ``name``: how errors, diagrams and ``g.stats`` call the
    node; without one, the node is named after its function (``double``).
    ``params``: keyword arguments added to every call, so one function serves
    several nodes: ``Transform(fn=scale, params={"factor": 2})`` calls
    ``scale(msg, factor=2)``. ``timeout`` (a Transform, Sink or Split): seconds
    after which, if nothing has arrived, ``fn`` is called with a
    :class:`~dissyslab.timers.Timeout` instead of a message (``timers.py``).
    A mistake in any of them is reported at once, when the node is made.
    """

    kind = "node"
    #: how many output ports (None: one unnamed output) and input ports
    num_outputs: int | None = None
    num_inputs: int | None = None

    @shown_to_students
    def __init__(self, fn: Callable, name: str | None = None,
                 params: dict[str, Any] | None = None, timeout: float | None = None) -> None:
        cls = type(self).__name__
        if not callable(fn):
            if callable(getattr(fn, "run", None)):
                fix = (f"To use a {type(fn).__name__} here, pass its run method: "
                       f"{cls}(fn=my_{type(fn).__name__.lower()}.run).")
            else:
                fix = (f"Pass the function itself, without calling it: "
                       f"{cls}(fn=my_function), not {cls}(fn=my_function()).")
            raise TypeError(
                f"{cls}{_for_name(name)}: fn=... must be a function to call, but got "
                f"{_describe(fn)}. {fix}"
            )
        _check_name(cls, name)
        _check_plain_function(cls, self.kind, fn, name)
        if params is None:
            params = {}
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise TypeError(
                f"{cls}{_for_name(name)}: params must be a dict of keyword arguments, "
                f"like params={{'factor': 2}}, but got {_describe(params)}."
            )
        if timeout is not None:
            timeout = _check_timeout(cls, self.kind, name, timeout)
        self.fn = fn
        self.params = dict(params)
        self.timeout = timeout
        self.given_name = name
        self.default_name = default_name(fn, self.kind)
        self._name = name  # a derived name is fixed by the first network that needs it

    @property
    def name(self) -> str:
        """The node's name: the one given, else the one derived from its function.

        A derived name is made unique by the first network the node joins
        (``double``, ``double_2``) and never changes afterwards: building
        another network never renames a node. A network that holds two nodes
        of the same name calls one of them by a name of its own
        (``g.name_of(node)``).
        """
        return self._name if self._name is not None else self.default_name

    @name.setter
    def name(self, value: object) -> None:
        raise AttributeError(
            f"a node's name cannot be changed once it is made (it would no longer match "
            f"the networks it is in). Give the name when you make the node: "
            f"{type(self).__name__}(..., name={short_repr(value, 40)}).")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fn={function_name(self.fn)})"


class Source(Node):
    """Calls ``fn()`` again and again and sends each result on; ``None`` ends the stream.

    ``fn`` takes no message: it must remember where it is between calls, like
    ``Source(fn=ListSource(items=["a", "b"]).run)``, which sends "a", then "b",
    then ends.
    """

    kind = "source"


class Transform(Node):
    """Sends ``fn(msg)`` on for every message; returning ``None`` drops the message.

    ``Transform(fn=str.upper)`` sends every word on in capitals;
    ``Transform(fn=lambda x: x if x > 0 else None)`` lets only positive numbers through.
    """

    kind = "transform"


class Sink(Node):
    """Calls ``fn(msg)`` for every message and sends nothing on: where results end up.

    ``results = []`` then ``Sink(fn=results.append)`` collects every message
    in ``results``; ``Sink(fn=print)`` prints them.
    """

    kind = "sink"


class Port:
    """One numbered input or output of a Split or MergeSynch, like ``split.out_0``."""

    __slots__ = ("node", "index", "direction")

    def __init__(self, node: Any, index: int, direction: str) -> None:
        self.node = node
        self.index = index
        self.direction = direction  # "out" or "in"

    @property
    def name(self) -> str:
        """``out_0``, ``in_1``...: the attribute that reaches this port."""
        return f"{self.direction}_{self.index}"

    def __repr__(self) -> str:
        return f"{self.node.name}.{self.name}"


class _PortedNode(Node):
    """A node whose inputs or outputs are numbered ports reached as attributes."""

    _direction = ""  # "out" (a Split) or "in" (a MergeSynch)

    def _make_ports(self, count: int, argname: str) -> None:
        cls = type(self).__name__
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(
                f"{cls}{_for_name(self.given_name)}: {argname} must be a whole number "
                f"of at least 1, but got {count!r}."
            )
        self.ports = tuple(Port(self, i, self._direction) for i in range(count))
        for port in self.ports:
            setattr(self, port.name, port)

    def __getattr__(self, attr: str) -> Port:
        # Only called for attributes that do not exist, such as a port out of range.
        if attr.startswith(("out_", "in_")) and "ports" in self.__dict__:
            ports = self.__dict__["ports"]
            kind = type(self).__name__
            if attr.startswith(f"{self._direction}_"):
                have = f"{ports[0].name} to {ports[-1].name}" if len(ports) > 1 else ports[0].name
                raise AttributeError(
                    f"{kind} '{self.name}' has {len(ports)} port{'s' if len(ports) > 1 else ''} "
                    f"({have}), so there is no {attr}. Ports are numbered from 0."
                )
            other = "outputs (out_0, out_1, ...)" if self._direction == "out" else "inputs (in_0, in_1, ...)"
            raise AttributeError(f"{kind} '{self.name}' has no {attr}: it has numbered {other}.")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")


class Split(_PortedNode):
    """Calls ``fn(msg)``, which returns a list of ``num_outputs`` items; item i goes to ``out_i``.

    An item that is ``None`` is sent nowhere. Wire a port as ``(split.out_0, node)``.
    """

    kind = "split"
    _direction = "out"

    @shown_to_students
    def __init__(self, fn: Callable, num_outputs: int, name: str | None = None,
                 params: dict[str, Any] | None = None, timeout: float | None = None) -> None:
        super().__init__(fn, name=name, params=params, timeout=timeout)
        self._make_ports(num_outputs, "num_outputs")
        self.num_outputs = num_outputs


class MergeSynch(_PortedNode):
    """Takes one message from each input ``in_0 .. in_k-1`` and sends the list ``[m0, ..., mk-1]``.

    Wire a port as ``(node, merge.in_1)``. If one input runs out before the
    others, or a path into one input drops messages, the pairs can no longer
    match up: the run then ends with a :class:`MergeSynchWarning` naming the
    input and the unpaired messages (they are kept in ``g.unpaired``).
    """

    kind = "merge_synch"
    _direction = "in"

    @shown_to_students
    def __init__(self, num_inputs: int, name: str | None = None) -> None:
        super().__init__(_pair_up, name=name)
        self.default_name = "merge_synch"
        self._make_ports(num_inputs, "num_inputs")
        self.num_inputs = num_inputs

    def __repr__(self) -> str:
        return f"MergeSynch(name={self.name!r}, num_inputs={self.num_inputs})"


def _pair_up(*messages: Any) -> list:
    """The function a MergeSynch applies: one message from each input, as a list."""
    return list(messages)


def function_name(fn: Callable) -> str:
    """A readable name for any callable, without memory addresses."""
    if isinstance(fn, functools.partial):
        return function_name(fn.func)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return type(fn).__name__
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type) and type(owner).__module__ != "builtins":
        return f"{type(owner).__name__}.{getattr(fn, '__name__', name)}"
    return name


def default_name(fn: Callable, kind: str) -> str:
    """A readable node name derived from its function: ``to_upper``, ``list_source``."""
    if isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    owner = getattr(fn, "__self__", None)
    if name in (None, "__call__", "run") and owner is not None and not isinstance(owner, type):
        name = type(owner).__name__
    elif name is None:
        name = type(fn).__name__
    if name == "<lambda>" or not name:
        return kind
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return re.sub(r"\W+", "_", name).strip("_") or kind


def name_is_settled(node: Node) -> bool:
    """True once ``node``'s name can no longer change: it was given, or a network fixed it."""
    return node._name is not None


def settle_name(node: Node, name: str) -> None:
    """Fix the name derived for ``node`` for good (``network()`` does it, once every check passed).

    Only a node whose name is not yet settled can be given one this way: a
    node's name never changes once the node is in a network.
    """
    if node._name is not None:
        raise ValueError(f"{node.kind} '{node._name}' already has its name; it cannot become "
                         f"{name!r}.")
    node._name = name


def _calls_make_objects(fn: Callable) -> str | None:
    """"generator" or "async" when calling ``fn`` makes a generator or coroutine, not a result."""
    import inspect  # here, not at the top: making a node needs it, `import dissyslab` does not

    candidates = [fn]
    if not (inspect.isroutine(fn) or isinstance(fn, (functools.partial, type))):
        candidates.append(getattr(fn, "__call__", None))  # a callable object  # noqa: B004
    for f in candidates:
        try:
            if inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f):
                return "async"
            if inspect.isgeneratorfunction(f):
                return "generator"
        except Exception:  # an odd callable that inspect cannot look into
            return None
    return None


#: per kind, what its function must do instead of yielding
_INSTEAD_OF_YIELD = {
    "source": ("the source would send generator objects, one per call, for ever. A source's "
               "function must return the next message each time it is called, and None when "
               "there are no more. To send the items of a list, use "
               "Source(fn=ListSource(items=[...]).run); to send what a generator makes, make "
               "the generator once and hand out its items: items = {fn}(), then "
               "Source(fn=lambda: next(items, None))."),
    "transform": ("the generator object would be sent on as the message, and the code inside "
                  "it would never run. A transform's function must return its result: write "
                  "return instead of yield. To send each message to several nodes, connect this "
                  "node to each of them (fanout); to send different items to different nodes, "
                  "use a Split."),
    "sink": ("the code inside it would never run. A sink's function must do its work and "
             "return: write it without yield."),
    "split": ("the code inside it would never run. A split's function must return a list with "
              "one item per output: write return [...] instead of yield."),
}


def _check_plain_function(cls: str, kind: str, fn: Callable, name: str | None) -> None:
    """Refuse generator functions and ``async def`` functions, saying what to write instead."""
    what = _calls_make_objects(fn)
    if what is None:
        return
    fname = function_name(fn)
    if what == "generator":
        raise TypeError(
            f"{cls}{_for_name(name)}: {fname} is a generator function (it uses yield), so "
            f"calling it gives a generator object, not a result: "
            + _INSTEAD_OF_YIELD.get(kind, _INSTEAD_OF_YIELD["transform"]).format(
                fn=fname.rsplit(".", 1)[-1]))
    raise TypeError(
        f"{cls}{_for_name(name)}: {fname} is an async def function, so calling it gives a "
        f"coroutine, not a result, and the code inside it would never run: nodes do not use "
        f"asyncio. Each node already runs in a thread of its own, so a slow call does not hold "
        f"up the others: write it as a plain def, without async and await.")


def _check_timeout(cls: str, kind: str, name: str | None, timeout: object) -> float:
    """A node's ``timeout=`` in seconds, or a clear error (a source has no input to wait on)."""
    if kind == "source":
        raise TypeError(f"{cls}{_for_name(name)}: a source waits for no input, so it cannot time "
                        f"out. For something that happens every so often, use a Timer "
                        f"(from dissyslab import Timer): Timer(period=1.0, count=10).")
    if kind == "merge_synch":
        raise TypeError(f"{cls}{_for_name(name)}: a MergeSynch has no function to call with a "
                        f"timeout. Put timeout= on the node after it (a Transform).")
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout != timeout
            or timeout in (float("inf"),) or timeout <= 0):
        raise ValueError(f"{cls}{_for_name(name)}: timeout is the seconds the node waits for a "
                         f"message before its function is called with a Timeout, a number more "
                         f"than 0 (like timeout=2.0), but got timeout={short_repr(timeout)}.")
    return float(timeout)


def _check_name(cls: str, name: object) -> None:
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise TypeError(
            f"{cls}(name=...) must be a non-empty string such as name='uppercase', "
            f"but got {_describe(name)}."
        )


def _for_name(name: object) -> str:
    return f" named {name!r}" if isinstance(name, str) else ""


def _describe(value: object) -> str:
    """``'hello' (a str)``; just ``a Thing`` when the repr is long or shows a memory address."""
    kind = type(value).__name__
    text = short_repr(value, limit=None)
    if len(text) > 60 or text in (f"<{kind} object>", f"<{kind} that cannot be shown>"):
        return f"a {kind}"
    return f"{text} (a {kind})"


class Edge:
    """One connection: messages leave ``src`` (at ``src_port`` of a Split) and reach ``dst``.

    ``dst_port`` is the input of a MergeSynch it reaches, else None;
    ``names`` is (sender's name, receiver's name) in the network the edge
    belongs to. An edge never changes once made, and two edges are equal
    only if they are the same edge: an edge listed twice is two edges.
    """

    src: Node
    dst: Node
    src_port: int | None
    dst_port: int | None
    names: tuple[str, str] | None

    def __init__(self, src: Node, dst: Node, src_port: int | None = None,
                 dst_port: int | None = None, names: tuple[str, str] | None = None) -> None:
        for attr, value in (("src", src), ("dst", dst), ("src_port", src_port),
                            ("dst_port", dst_port), ("names", names)):
            object.__setattr__(self, attr, value)

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"an Edge cannot be changed once made (tried to set {attr!r}); "
                             f"build a new network with the edges you want.")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"an Edge cannot be changed once made (tried to delete {attr!r}).")

    @property
    def label(self) -> str:
        """``"a → b"``, with ports where there are any: ``"split.out_0 → m.in_1"``."""
        src, dst = self.names or (self.src.name, self.dst.name)
        left = src if self.src_port is None else f"{src}.out_{self.src_port}"
        right = dst if self.dst_port is None else f"{dst}.in_{self.dst_port}"
        return f"{left} → {right}"

    def __repr__(self) -> str:
        return f"Edge({self.label})"
