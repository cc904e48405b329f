"""Copies of messages for fanout: each receiver gets its own, independent copy.

Only what can be changed is copied. Immutable values (numbers, strings,
tuples and frozensets of them...) are shared, because nobody can change
them. Plain containers (list, dict, set, bytearray) are copied by short
type-specific loops that are several times faster than ``copy.deepcopy``;
anything else falls back to ``copy.deepcopy``.

One difference from ``copy.deepcopy``: a mutable object that appears twice
inside one plain container becomes two separate objects in the copy. Each
copy is still fully independent of the original and of the other copies.
"""

from __future__ import annotations

import copy
import sys

from .errors import short_repr

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any, Callable

#: types whose values can never change, so every receiver may share them
ATOMS = {int, float, complex, bool, str, bytes, type(None), range, type(Ellipsis)}

#: more immutable types, recognised by name so we never import their modules
_IMMUTABLE_BY_NAME = {
    ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"),
    ("datetime", "timedelta"), ("datetime", "timezone"),
    ("decimal", "Decimal"), ("fractions", "Fraction"), ("uuid", "UUID"),
}


def copy_message(msg: Any) -> Any:
    """Return a copy of ``msg`` that shares nothing mutable with it."""
    if type(msg) in ATOMS:
        return msg
    try:
        return _copy(msg)
    except RecursionError:
        # a container that contains itself: deepcopy keeps track of the loop
        return copy.deepcopy(msg)


def copier_of(msg: Any) -> Callable[[Any], Any]:
    """The function that copies ``msg`` (not in ``ATOMS``): a fanout looks it up once per result.

    It may raise RecursionError for a container that contains itself, where
    :func:`copy_any` falls back to ``copy.deepcopy``.
    """
    return _COPIERS.get(msg.__class__) or copy_any


def copy_any(msg):
    """Return a copy of ``msg``, a value whose type is not in ``ATOMS`` (the fanout's fast path)."""
    copier = _COPIERS.get(msg.__class__)
    try:
        if copier is not None:
            return copier(msg)
        return _copy(msg)
    except RecursionError:
        return copy.deepcopy(msg)


def copy_to_keep(msg: Any, stand_in: Callable[[str], Any] | None = None) -> Any:
    """A copy of ``msg`` as it is now, to keep for later (a trace's record, what a sink received).

    Later changes to ``msg`` do not reach the copy. A message that cannot be
    copied is kept as its short repr instead, passed to ``stand_in`` (a str
    subclass, say) if one is given: keeping a record never fails. (Not to be
    confused with a *snapshot*, the state of a whole network: ``snapshots.py``.)
    """
    try:
        return copy_message(msg)
    except Exception:
        text = short_repr(msg)
        return text if stand_in is None else stand_in(text)


def all_immutable(batch: list) -> bool:
    """True if no message of ``batch`` can ever change, so receivers may share them."""
    return set(map(type, batch)) <= ATOMS


def copy_batch(batch: list) -> list:
    """Return a new list holding a copy of every message of ``batch``."""
    if all_immutable(batch):
        return batch[:]
    atoms = ATOMS
    try:
        return [m if type(m) in atoms else _copy(m) for m in batch]
    except RecursionError:
        return [copy.deepcopy(m) for m in batch]


def _copy(value):
    """Copy a value whose type is not in ``ATOMS``."""
    copier = _COPIERS.get(type(value))
    if copier is not None:
        return copier(value)
    if _is_immutable(type(value)):
        return value
    return copy.deepcopy(value)


def _copy_list(value, atoms=ATOMS):  # (ATOMS bound as a local name: looked up faster)
    new = value[:]
    i = 0
    for v in value:
        if v.__class__ not in atoms:
            new[i] = _copy(v)
        i += 1
    return new


def _copy_dict(value, atoms=ATOMS):
    new = value.copy()
    for k, v in value.items():
        if v.__class__ is list:  # a record's list of tags, say: straight to its copier
            new[k] = _copy_list(v)
        elif v.__class__ not in atoms:
            new[k] = _copy(v)
        if k.__class__ not in atoms and _copy(k) is not k:
            return copy.deepcopy(value)  # a key that can change (rare): copy keys too
    return new


def _copy_tuple(value):
    items = [v if type(v) in ATOMS else _copy(v) for v in value]
    if all(a is b for a, b in zip(items, value, strict=True)):
        return value  # nothing inside can change: share the tuple
    return tuple(items)


def _copy_set(value):
    # set members are hashable; the plain ones are immutable
    if all(type(v) in ATOMS for v in value):
        return set(value)
    return copy.deepcopy(value)


def _copy_frozenset(value):
    if all(type(v) in ATOMS for v in value):
        return value
    return copy.deepcopy(value)


_COPIERS = {
    list: _copy_list,
    dict: _copy_dict,
    tuple: _copy_tuple,
    set: _copy_set,
    frozenset: _copy_frozenset,
    bytearray: bytearray,
}


def _is_immutable(cls):
    """True for the standard library's immutable value types (dates, decimals...)."""
    name = (cls.__module__, cls.__qualname__)
    if name in _IMMUTABLE_BY_NAME and getattr(sys.modules.get(name[0]), name[1], None) is cls:
        ATOMS.add(cls)  # remembered: next time it is shared at once
        return True
    return False
