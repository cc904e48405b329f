"""Plain data across the boundary between the grader and the student's process.

Only numbers, strings, bytes, None, and lists, tuples, dicts and sets of them
cross, as JSON with a tag on every container; anything else stays in the
student's process and crosses as a reference (``{"__r": id}``) that the grader
can only hand back. Both sides check what they receive: an unknown tag, a
value too deep or too big, or a dict key that is not hashable is a
:class:`WireError`, never a crash of the grader.

The student's side reads containers through their base type's own methods
(``dict.items``, ``list.copy``...), so a ``dict`` subclass whose
``__getitem__`` lies is sent with what it really holds.
"""

import base64
import json
import math

#: most bytes in one message between the two processes
MAX_BYTES = 16_000_000
#: deepest nesting of containers
MAX_DEPTH = 100
#: most characters of a repr kept for a reference
REPR = 300
#: most items of one list, dict or set (a network left running can fill one without end)
MAX_ITEMS = 200_000

_TAGS = ("__l", "__t", "__d", "__s", "__f", "__b", "__j", "__x", "__c", "__r", "__n")


class WireError(ValueError):
    """What arrived is not valid plain data."""


def _reject_constant(name):
    raise WireError(f"not plain data: {name}")


def loads(raw):
    """Parse one message (bytes), with the size limit; Infinity and NaN tokens are refused."""
    if len(raw) > MAX_BYTES:
        raise WireError(f"message of {len(raw)} bytes (at most {MAX_BYTES})")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        raise WireError(f"not JSON: {err}") from None
    if type(value) is not dict:
        raise WireError("a message must be a JSON object")
    return value


def dumps(message):
    return (json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode()


# --- the student's side: encode what goes out, decode what comes in ---------------------------

class Encoder:
    """Turns values of the student's process into tagged JSON.

    ``refs`` keeps every object sent as a reference alive, by id, so an id
    always means the same object. Lists, dicts and sets carry their id too
    (``"i"``), so the grader can keep its copy up to date after later calls
    (see :meth:`watch`).
    """

    def __init__(self):
        self.refs = {}
        self.watched = {}

    def ref(self, value):
        key = id(value)
        self.refs[key] = value
        return key

    def encode(self, value, watch=True):
        seen = set()
        return self._enc(value, 0, seen, watch)

    def _enc(self, value, depth, seen, watch):
        if depth > MAX_DEPTH:
            raise WireError("nested too deeply")
        t = type(value)
        if value is None or t is bool:
            return value
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int.__int__(value)
        if isinstance(value, float):
            f = float.__float__(value)
            if math.isfinite(f):
                return f
            return {"__x": "nan" if f != f else ("inf" if f > 0 else "-inf")}
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, (bytes, bytearray)):
            return {"__b": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, complex):
            c = complex.__complex__(value) if t is not complex else value
            return {"__j": [self._enc(c.real, depth, seen, watch), self._enc(c.imag, depth, seen, watch)]}
        if isinstance(value, (list, dict, set, tuple, frozenset)):
            size = (list.__len__ if isinstance(value, list) else dict.__len__
                    if isinstance(value, dict) else tuple.__len__ if isinstance(value, tuple)
                    else set.__len__ if isinstance(value, set) else frozenset.__len__)(value)
            if size > MAX_ITEMS:
                raise WireError(f"a {_type_name(value)} of {size} items (at most {MAX_ITEMS})")
        if isinstance(value, (list, dict, set)):
            key = id(value)
            if key in seen:
                return {"__c": key}
            seen.add(key)
            self.refs[key] = value
            if watch:
                self.watched[key] = value
            if isinstance(value, list):
                items = list.copy(value)
                return {"__l": [self._enc(v, depth + 1, seen, watch) for v in items], "i": key}
            if isinstance(value, dict):
                pairs = list(dict.items(value))
                return {"__d": [[self._enc(k, depth + 1, seen, watch), self._enc(v, depth + 1, seen, watch)]
                                for k, v in pairs], "i": key}
            items = list(set.copy(value))
            return {"__s": [self._enc(v, depth + 1, seen, watch) for v in items], "i": key}
        if isinstance(value, tuple):
            items = tuple.__getitem__(value, slice(None))
            return {"__t": [self._enc(v, depth + 1, seen, watch) for v in items]}
        if isinstance(value, frozenset):
            return {"__f": [self._enc(v, depth + 1, seen, watch) for v in frozenset.copy(value)]}
        return {"__r": self.ref(value), "type": _type_name(value), "repr": safe_repr(value),
                "call": callable(value)}

    def sync(self):
        """The current contents of every list, dict and set the grader holds a copy of."""
        out = []
        for key, value in list(self.watched.items()):
            try:
                out.append([key, self.encode(value, watch=False)])
            except (WireError, RecursionError):
                pass
        return out

    def forget_watched(self):
        self.watched.clear()


def _type_name(value):
    try:
        name = type(value).__name__
    except Exception:
        name = "object"
    return str.__str__(name)[:80] if isinstance(name, str) else "object"


def safe_repr(value, limit=REPR):
    try:
        text = repr(value)
        text = str.__str__(text) if isinstance(text, str) else "<?>"
    except BaseException as exc:  # noqa: BLE001 (a student's repr may raise anything)
        text = f"<{_type_name(value)} whose repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def decode_in_child(node, refs, names):
    """What the grader sent, in the student's process: plain data, references back, setup names."""
    if type(node) in (str, int, float, bool) or node is None:
        return node
    if type(node) is not dict:
        raise WireError("bad value")
    if "__r" in node:
        return refs[node["__r"]]
    if "__n" in node:
        return names[node["__n"]]
    return _decode_plain(node, lambda n: decode_in_child(n, refs, names))


def _decode_plain(node, inner):
    if "__l" in node:
        return [inner(v) for v in _items(node["__l"])]
    if "__t" in node:
        return tuple(inner(v) for v in _items(node["__t"]))
    if "__d" in node:
        out = {}
        for pair in _items(node["__d"]):
            if type(pair) is not list or len(pair) != 2:
                raise WireError("bad dict item")
            try:
                out[inner(pair[0])] = inner(pair[1])
            except TypeError:
                raise WireError("unhashable dict key") from None
        return out
    if "__s" in node or "__f" in node:
        try:
            items = {inner(v) for v in _items(node.get("__s", node.get("__f")))}
        except TypeError:
            raise WireError("unhashable set item") from None
        return items if "__s" in node else frozenset(items)
    if "__b" in node:
        try:
            return base64.b64decode(str(node["__b"]), validate=True)
        except ValueError:
            raise WireError("bad bytes") from None
    if "__j" in node:
        parts = _items(node["__j"])
        if len(parts) != 2 or not all(type(p) in (int, float) for p in parts):
            raise WireError("bad complex")
        return complex(*parts)
    if "__x" in node:
        if node["__x"] not in ("nan", "inf", "-inf"):
            raise WireError("bad float")
        return float(node["__x"])
    raise WireError(f"unknown value {sorted(node)[:3]}")


def _items(value):
    if type(value) is not list:
        raise WireError("expected a list")
    return value


# --- the grader's side: copies of what the student's process sent ---------------------------

class Decoder:
    """The grader's copies of what the student's process sent.

    The same list, dict or set (by its id over there) is always the same object
    here, and :meth:`sync` updates those copies in place, so a test that keeps
    a student's list and reads it after a run sees what the run added.
    """

    def __init__(self, make_remote):
        self.make_remote = make_remote
        self.containers = {}
        self.remotes = {}

    def decode(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("nested too deeply")
        t = type(node)
        if node is None or t in (str, bool, int, float):
            return node
        if t is not dict:
            raise WireError("bad value")
        if "__r" in node:
            rid = node["__r"]
            if type(rid) is not int:
                raise WireError("bad reference")
            remote = self.remotes.get(rid)
            if remote is None:
                remote = self.remotes[rid] = self.make_remote(
                    rid, _text(node.get("type")), _text(node.get("repr")), node.get("call") is True)
            return remote
        if "__c" in node:
            if node["__c"] not in self.containers:
                raise WireError("reference to an unknown container")
            return self.containers[node["__c"]]
        if "i" in node and ("__l" in node or "__d" in node or "__s" in node):
            return self._container(node, depth)
        return _decode_plain(node, lambda n: self.decode(n, depth + 1))

    def _container(self, node, depth):
        key = node["i"]
        if type(key) is not int:
            raise WireError("bad container id")
        kind = list if "__l" in node else dict if "__d" in node else set
        obj = self.containers.get(key)
        if type(obj) is not kind:
            obj = self.containers[key] = kind()
        if kind is list:
            obj[:] = [self.decode(v, depth + 1) for v in _items(node["__l"])]
        elif kind is dict:
            items = []
            for pair in _items(node["__d"]):
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("bad dict item")
                items.append((self.decode(pair[0], depth + 1), self.decode(pair[1], depth + 1)))
            obj.clear()
            try:
                obj.update(items)
            except TypeError:
                raise WireError("unhashable dict key") from None
        else:
            try:
                new = {self.decode(v, depth + 1) for v in _items(node["__s"])}
            except TypeError:
                raise WireError("unhashable set item") from None
            obj.clear()
            obj.update(new)
        return obj

    def sync(self, pairs):
        if type(pairs) is not list:
            raise WireError("bad sync")
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("bad sync")
            key, node = pair
            if key in self.containers and type(node) is dict:
                self.decode(node)


def plain_float(value):
    """A float as it crosses: itself, or a tag for inf and nan (JSON has neither)."""
    if math.isfinite(value):
        return value
    return {"__x": "nan" if value != value else ("inf" if value > 0 else "-inf")}


def _text(value, limit=REPR):
    return value[:limit] if type(value) is str else ""


__all__ = ["WireError", "Encoder", "Decoder", "decode_in_child", "loads",
           "dumps", "safe_repr", "MAX_BYTES", "plain_float"]
