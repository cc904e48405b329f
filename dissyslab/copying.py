"""Copies of messages for fanout: each receiver gets its own, independent copy.

Immutable values (numbers, strings, tuples of them...) are shared, because
nobody can change them. Plain containers (list, dict, set) are copied by
fast type-specific code; anything else falls back to ``copy.deepcopy``.
"""

import copy

_ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None), range, type(Ellipsis)})


def copy_message(msg):
    """Return a copy of ``msg`` that shares nothing mutable with it."""
    if type(msg) in _ATOMS:
        return msg
    try:
        return _copy(msg)
    except RecursionError:
        # a container that contains itself: deepcopy keeps track of the loop
        return copy.deepcopy(msg)


def copy_batch(batch):
    """Copy every message of a batch."""
    atoms = _ATOMS
    try:
        return [m if type(m) in atoms else _copy(m) for m in batch]
    except RecursionError:
        return [copy.deepcopy(m) for m in batch]


def _copy(msg):
    copier = _COPIERS.get(type(msg))
    if copier is not None:
        return copier(msg)
    return copy.deepcopy(msg)


def _copy_list(value):
    atoms = _ATOMS
    return [v if type(v) in atoms else _copy(v) for v in value]


def _copy_dict(value):
    atoms = _ATOMS
    return {k: (v if type(v) in atoms else _copy(v)) for k, v in value.items()}


def _copy_tuple(value):
    atoms = _ATOMS
    items = [v if type(v) in atoms else _copy(v) for v in value]
    if all(a is b for a, b in zip(items, value)):
        return value
    return tuple(items)


def _copy_set(value):
    atoms = _ATOMS
    if all(type(v) in atoms for v in value):
        return set(value)
    return copy.deepcopy(value)


def _copy_frozenset(value):
    atoms = _ATOMS
    if all(type(v) in atoms for v in value):
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
