"""The grader's side of the student's process: references to its objects, and questions to it.

While a test cell runs in the grader, a name the student defined (``g``,
``results``, ``words_of``) stands for the student's value: plain data is
copied over (and kept up to date after every later question, see
``wire.Decoder``); anything else is a :class:`Remote`, a handle the checks
pass back when they ask the student's process to describe or run it.

The checks never see these classes: the grader names the :class:`Connection`
to the student's process as the one answering for the test cell
(``dissyslab.check.elsewhere.answering``), the checks ask
``elsewhere(value)`` and get the Connection back for a value it owns, and
ask it for an observation (a network's shape, a run's report) instead of
touching the object. The verdict is always made in the checks, here.
"""

import base64
import time
import warnings

from ..failure import CheckFailed
from . import wire


class StudentTimeout(BaseException):
    """The student's code did not answer within the test's time limit (it was interrupted)."""


class StudentGone(BaseException):
    """The student's process ended, or was killed, while the grader waited for it."""

    def __init__(self, why, code=None):
        super().__init__(why)
        self.why = why
        self.code = code


class StudentError(Exception):
    """The student's code raised an exception while the checks used it."""

    def __init__(self, ename, evalue):
        super().__init__(f"{ename}: {evalue}")
        self.ename = ename
        self.evalue = evalue


class Remote:
    """An object that lives in the student's process (a network, a function, a connection...)."""

    __slots__ = ("_conn", "_rid", "_type", "_repr", "_callable")

    def __init__(self, conn, rid, type_name, text, can_call):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_rid", rid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_repr", text)
        object.__setattr__(self, "_callable", can_call)

    def __getattr__(self, name):
        if name.startswith("__") or name.startswith("_ipython") or name.startswith("_repr_"):
            raise AttributeError(name)
        return self._conn.value("getattr", ref=self._rid, attr=name)

    def __setattr__(self, name, value):
        raise AttributeError("objects of the student's process cannot be changed by a test")

    def __call__(self, *args, **kwargs):
        return self._conn.value("call", ref=self._rid, args=[self._conn.out(a) for a in args],
                                kwargs={str(k): self._conn.out(v) for k, v in kwargs.items()})

    def __getitem__(self, key):
        return self._conn.value("getitem", ref=self._rid, key=self._conn.out(key))

    def __len__(self):
        n = self._conn.value("len", ref=self._rid)
        if type(n) is not int or n < 0:
            raise wire.WireError("bad length")
        return n

    def __iter__(self):
        items = self._conn.value("iter", ref=self._rid)
        if type(items) is not list:
            raise wire.WireError("bad items")
        return iter(items)

    def __bool__(self):
        return self._conn.value("bool", ref=self._rid) is True

    def __str__(self):
        text = self._conn.value("str", ref=self._rid)
        return text if type(text) is str else self._repr

    def __repr__(self):
        return self._repr or f"<{self._type}>"

    def __format__(self, spec):
        return format(str(self), spec)


def is_remote(value):
    return type(value) is Remote


#: most values :func:`has_remote` looks at; beyond that a value counts as not plain data
WALK_LIMIT = 100_000
#: most nodes and edges of a network description the grader rebuilds (exercises use a dozen)
MAX_NODES = 1_000
MAX_EDGES = 5_000


def has_remote(value, limit=WALK_LIMIT):
    """True if plain data holds a Remote anywhere (it is then not plain data).

    Each container is looked at once, however often it is shared, and the walk
    stops after ``limit`` values: data that big counts as not plain (True), so the
    grader never spends longer than that on what the student's code sent.
    """
    seen, todo, count = set(), [value], 0
    while todo:
        v = todo.pop()
        count += 1
        if count > limit:
            return True
        t = type(v)
        if t is Remote:
            return True
        if t in (list, tuple, set, frozenset, dict):
            if id(v) in seen:
                continue
            seen.add(id(v))
            if t is dict:
                for k, x in dict.items(v):
                    todo.append(k)
                    todo.append(x)
            else:
                todo.extend(v)
    return False


#: share of a test cell's time left that an exhaustive search in the student's process may take
EXPLORE_SHARE = 0.8

#: most characters of a node name the grader keeps (messages quote names)
NAME = 120


def short_name(name):
    """A student's node name as the grader keeps it: at most :data:`NAME` characters."""
    return name if len(name) <= NAME else name[:NAME - 20] + f"...({len(name):,} characters)"


class RemoteFn:
    """Stands for a node's function in a copy of the student's network made from its description."""

    def __init__(self, conn, info):
        if type(info) is not dict or type(info.get("name")) is not str:
            raise wire.WireError("bad function")
        self.__qualname__ = info["name"][:200]
        self.__name__ = info["plain"][:200] if type(info.get("plain")) is str else self.__qualname__
        idents = info.get("idents")
        if type(idents) is not list:
            raise wire.WireError("bad function")
        self.idents = {tuple(i) for i in idents if type(i) is list and len(i) == 2}
        self.conn = conn

    def __call__(self, *args, **kwargs):
        raise RuntimeError("this function lives in the student's process")

    def is_(self, fn):
        """True if ``fn`` (a test's object) is this function."""
        return self.conn.ident(fn) in self.idents


def encode_for_child(value, name_of=None, depth=0):
    """Plain data, references to the student's objects, or an instructor's name; nothing else.

    ``name_of(value)``: the name a read-only cell gave this object (the student's
    process has the same object under that name), or None.
    """
    if depth > wire.MAX_DEPTH:
        raise wire.WireError("nested too deeply")
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        return wire.plain_float(value)
    if type(value) is Remote:
        return {"__r": value._rid}
    if t is list:
        return {"__l": [encode_for_child(v, name_of, depth + 1) for v in value]}
    if t is tuple:
        return {"__t": [encode_for_child(v, name_of, depth + 1) for v in value]}
    if t is dict:
        return {"__d": [[encode_for_child(k, name_of, depth + 1), encode_for_child(v, name_of, depth + 1)]
                        for k, v in value.items()]}
    if t in (set, frozenset):
        return {"__s" if t is set else "__f": [encode_for_child(v, name_of, depth + 1) for v in value]}
    if t in (bytes, bytearray):
        return {"__b": base64.b64encode(bytes(value)).decode()}
    if t is complex:
        return {"__j": [value.real, value.imag]}
    name = name_of(value) if name_of is not None else None
    if name is not None:  # the student's process has the same object under this name
        return {"__n": name}
    raise TypeError(f"a test cannot pass {type(value).__name__} objects to the student's code when "
                    f"grading (only plain data, the student's own objects, and objects of the "
                    f"read-only cells); build them with check.run_beside(...)")


class Connection:
    """Questions to the student's process, with time limits; answers checked on arrival.

    It is the :class:`dissyslab.check.elsewhere.Process` the checks ask about the
    student's objects while a test cell runs.
    """

    def __init__(self, talk, grace):
        self.talk = talk  # talk(request dict, seconds) -> reply dict; raises StudentGone
        self.grace = grace
        self.deadline = None
        self.timeout = 60
        self.decoder = wire.Decoder(lambda rid, t, r, c: Remote(self, rid, t, r, c))
        self.names_by_id = {}
        self.hidden = False  # a hidden test is running: what the student's code gets is hidden data

    # --- sending ----------------------------------------------------------------------
    def name_of(self, value):
        return self.names_by_id.get(id(value))

    def out(self, value):
        return encode_for_child(value, self.name_of)

    def ident(self, fn):
        if type(fn) is Remote:
            return ("ref", fn._rid)
        name = self.name_of(fn)
        if name is not None:
            return ("setup", name)
        import builtins

        n = getattr(fn, "__name__", None)
        if type(n) is str and getattr(builtins, n, None) is fn:
            return ("builtin", n)
        return ("none", id(fn))

    def request(self, op, limit=None, **fields):
        left = self.timeout if self.deadline is None else self.deadline - time.monotonic()
        if left <= 0:
            raise StudentTimeout()
        if limit is not None:
            left = min(left, limit)
        fields["op"] = op
        fields["timeout"] = max(left, 0.05)
        reply = self.talk(fields, left + self.grace)
        try:
            self.decoder.sync(reply.get("sync", []))
        except wire.WireError:
            pass
        if reply.get("timeout") is True:
            raise StudentTimeout()
        err = reply.get("error")
        if err is not None:
            if type(err) is not dict:
                raise wire.WireError("bad error")
            raise StudentError(str(err.get("ename"))[:200], str(err.get("evalue"))[:2000])
        return reply

    def value(self, op, **fields):
        reply = self.request(op, **fields)
        return self.decoder.decode(reply.get("value"))

    def get(self, name):
        """(found, value) of a name in the student's namespace."""
        reply = self.request("get", name=name)
        if reply.get("found") is not True:
            return False, None
        return True, self.decoder.decode(reply.get("value"))

    # --- what the checks ask (dissyslab.check.elsewhere.Process) ---------------------
    def owns(self, value):
        """True for a handle to an object of this student's process, or a stand-in for its function."""
        t = type(value)
        return (t is Remote and value._conn is self) or (t is RemoteFn and value.conn is self)

    def same_function(self, stand_in, fn):
        """True if the student's function behind ``stand_in`` is ``fn`` (a test's object, or a name)."""
        if isinstance(fn, str):
            return stand_in.__qualname__ == fn or stand_in.__name__ == fn
        return stand_in.is_(fn)

    def holds_its_objects(self, value):
        """True if data sent by the student's process holds a handle (it is not plain data)."""
        return has_remote(value)

    # --- networks ---------------------------------------------------------------------
    def network(self, desc):
        """A copy of the student's network, made here from its description (functions are stand-ins)."""
        from ...build import network
        from ...nodes import MergeSynch, Sink, Source, Split, Transform

        classes = {"source": Source, "transform": Transform, "sink": Sink, "split": Split,
                   "merge_synch": MergeSynch}
        try:
            if type(desc) is not dict or type(desc.get("nodes")) is not list or \
                    type(desc.get("edges")) is not list:
                raise wire.WireError("bad description of a network")
            if len(desc["nodes"]) > MAX_NODES or len(desc["edges"]) > MAX_EDGES:
                raise CheckFailed(
                    f"Your network has {len(desc['nodes'])} nodes and {len(desc['edges'])} edges, "
                    f"more than grading looks at (at most {MAX_NODES} nodes and {MAX_EDGES} "
                    f"edges).\n  Hint: build the network the task asks for; it needs only a "
                    f"few nodes.")
            nodes = []
            for d in desc["nodes"]:
                cls = classes[d["kind"]]
                params = self.decoder.decode(d.get("params"))
                if type(params) is not dict or has_remote(params):
                    params = {k: v for k, v in (params or {}).items()} if type(params) is dict else {}
                name = d["name"]
                if type(name) is not str:
                    raise wire.WireError("bad name")
                name = short_name(name)
                if cls is MergeSynch:
                    nodes.append(MergeSynch(num_inputs=int(d["num_inputs"]), name=name))
                elif cls is Split:
                    nodes.append(Split(fn=RemoteFn(self, d["fn"]), num_outputs=int(d["num_outputs"]),
                                       name=name, params=params))
                else:
                    nodes.append(cls(fn=RemoteFn(self, d["fn"]), name=name, params=params))

            def end(i, port):
                node = nodes[i]
                return node if port is None else node.ports[port]

            pairs = []
            for e in desc["edges"]:
                s, sp, d_, dp = e
                if not all(type(x) is int or (x is None and k in (1, 3)) for k, x in enumerate(e)):
                    raise wire.WireError("bad edge")
                pairs.append((end(s, sp), end(d_, dp)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return network(pairs)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise wire.WireError(f"bad description of a network: {err}") from None

    def shape(self, g, name, hint):
        reply = self.request("shape", ref=g._rid, name=name, hint=hint)
        if "failed" in reply:
            raise CheckFailed(str(reply["failed"]))
        return self.network(reply.get("shape"))

    def run(self, g, timeout, inputs, seed, capacity, name, call_sinks, meter, run_class):
        reply = self.request("run", ref=g._rid, run_timeout=timeout, inputs=self.out(inputs),
                             seed=seed, capacity=capacity, name=name, call_sinks=call_sinks,
                             meter=meter)
        if "failed" in reply:
            raise CheckFailed(str(reply["failed"]))
        return self.observed(reply.get("run"), run_class, seed, timeout)

    def observed(self, obs, run_class, seed, timeout):
        """A :class:`~dissyslab.check.runs.CheckedRun` from what the student's process reported."""
        from types import SimpleNamespace

        from ...nodes import NodeStats

        try:
            net = self.network(obs["shape"])
            outputs = {}
            for k, v in obs["outputs"].items():
                got = self.decoder.decode(v)
                if type(got) is not list:
                    raise wire.WireError("bad outputs")
                outputs[short_name(str(k))] = got
            r = run_class(net, outputs, seed, timeout)
            r.failures = [_Failure(SimpleNamespace(name=short_name(str(f["node"]))),
                                   self.decoder.decode(f["message"]), str(f["text"]))
                          for f in obs["failures"]]
            r.timed_out = obs["timed_out"] is True
            r.error = None if obs["error"] is None else str(obs["error"])
            r.warnings = [str(w) for w in obs["warnings"]]
            r.stuck = obs["stuck"] is True
            r.unpaired = self.decoder.decode(obs["unpaired"])
            r.stats = {}
            for k, v in obs["stats"].items():
                if type(v) is not dict or not all(type(x) is int for x in v.values()):
                    raise wire.WireError("bad counters")
                r.stats[short_name(str(k))] = NodeStats(**v)
            r.state = {short_name(str(k)): str(v)[:200] for k, v in obs["state"].items()}
            r.edge_counts = {}
            for k, v in obs["edge_counts"].items():
                if type(v) is not int:
                    raise wire.WireError("bad edge count")
                r.edge_counts[str(k)] = v
            if "peak" in obs:
                if type(obs["peak"]) is not int:
                    raise wire.WireError("bad peak")
                r.peak = obs["peak"]
            return r
        except (KeyError, TypeError, AttributeError) as err:
            raise wire.WireError(f"bad report of a run: {err}") from None

    def build_run(self, build, seed, timeout, run_class):
        reply = self.request("build_run", ref=build._rid, seed=seed, run_timeout=timeout)
        if "bad_build" in reply:
            return None, str(reply["bad_build"]), None
        if "failed" in reply:
            raise CheckFailed(str(reply["failed"]))
        r = self.observed(reply.get("run"), run_class, seed, timeout)
        return r, None, self.decoder.decode(reply.get("state"))

    def explore(self, g, build, inputs, max_steps, max_schedules, timeout, name):
        """The report of an exhaustive search run in the student's process (judged by the check).

        The search gets at most :data:`EXPLORE_SHARE` of the time left in the test
        cell: past that, the student's process stops it and reports what it found,
        and the grader still has time to judge it.
        """
        target = build if build is not None else g
        left = self.timeout if self.deadline is None else self.deadline - time.monotonic()
        reply = self.request("explore", limit=max(left * EXPLORE_SHARE, 0.05), ref=target._rid,
                             build=build is not None, inputs=self.out(inputs),
                             max_steps=max_steps, max_schedules=max_schedules,
                             run_timeout=timeout, name=name)
        if "failed" in reply:
            raise CheckFailed(str(reply["failed"]))
        return self.decoder.decode(reply.get("report"))

    def beside(self, code):
        made = self.value("beside", code=code)
        if type(made) is not dict:
            raise wire.WireError("bad names")
        return made


class _Failure:
    """A node failure as the student's process reported it (``node.name``, ``message``)."""

    def __init__(self, node, message, text):
        self.node = node
        self.message = message
        self.text = text

    def __str__(self):
        return self.text


__all__ = ["Remote", "RemoteFn", "Connection", "StudentTimeout", "StudentGone", "StudentError",
           "is_remote", "has_remote", "encode_for_child"]
