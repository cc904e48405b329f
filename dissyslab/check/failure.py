"""What a failed check says: :class:`CheckFailed`, and comparisons that explain themselves.

Every message has the same three parts, written for the student: what was
expected, what their network did, and a hint. Values are compared with
:func:`same`, which looks only at plain data (numbers, strings, lists,
tuples, dicts, sets, None), so an object that claims to be equal to
everything cannot pass a check.
"""

import math
from collections import Counter

from ..errors import StudentTraceback, cut, short_repr

#: most characters of one value shown in a message
SHOW = 160


class CheckFailed(StudentTraceback, AssertionError):
    """A check of the student's work failed; the message says what, why and what to try.

    ``public``: the same failure told without the test's data (its inputs and
    expected values), shown when a hidden test fails; None if the check has no
    such version (grading then says only that a hidden check failed).
    """

    public = None


def fail(problem, expected=None, got=None, hint=None, *, expected_label="Expected",
         got_label="Your network", public=None, public_hint=Ellipsis):
    """Raise :class:`CheckFailed` with the usual layout (``expected``/``got`` are text).

    ``public``: the problem in words that give away no data of the test (for hidden tests);
    the hint is shown with it (or ``public_hint``, when the hint itself would give data away).
    """
    __tracebackhide__ = True  # Jupyter and pytest show the student's line, not the checks' insides
    err = CheckFailed(message(problem, expected, got, hint, expected_label=expected_label,
                              got_label=got_label))
    if public is not None:
        err.public = message(public, hint=hint if public_hint is Ellipsis else public_hint)
    raise err


def message(problem, expected=None, got=None, hint=None, *, expected_label="Expected",
            got_label="Your network"):
    """The student-facing text of a failed check."""
    lines = [problem.rstrip()]
    width = max(len(expected_label), len(got_label)) + 1
    if expected is not None:
        lines.append(f"  {expected_label + ':':<{width}} {expected}")
    if got is not None:
        lines.append(f"  {got_label + ':':<{width}} {got}")
    if hint:
        lines.append(f"  Hint: {hint}")
    return "\n".join(lines)


def show(value, limit=SHOW):
    """A one-line picture of a value, without memory addresses, cut to ``limit`` characters.

    The work is bounded too, not only the text: the picture stops once it is
    ``limit`` characters long, however big or shared the value is (what a
    student's code sent can share one list 2**64 times).
    """
    return cut(_plain_repr(value, limit + 1), limit, " ...")


def _plain_repr(value, limit=100_000):
    """The text of :func:`show`, built until it has more than ``limit`` characters."""
    out = []
    _picture(value, out, [limit], set())
    return "".join(out)


def _picture(value, out, left, active):
    """Append a picture of ``value`` to ``out`` while ``left[0]`` characters remain."""
    if left[0] <= 0:
        return
    kind = type(value)
    if kind in (list, tuple, dict):
        if id(value) in active or len(active) > 100:  # a list that holds itself, or very deep
            out.append("[...]" if kind is list else "(...)" if kind is tuple else "{...}")
            left[0] -= 5
            return
        active.add(id(value))
        try:
            out.append("{" if kind is dict else "(" if kind is tuple else "[")
            left[0] -= 1
            items = list(dict.items(value))[:40] if kind is dict else value[:40]
            for i, item in enumerate(items):
                if left[0] <= 0:
                    return
                if i:
                    out.append(", ")
                    left[0] -= 2
                if kind is dict:
                    _picture(item[0], out, left, active)
                    out.append(": ")
                    left[0] -= 2
                    _picture(item[1], out, left, active)
                else:
                    _picture(item, out, left, active)
            if len(value) > 40:
                text = f", ... ({len(value)} items)"
                out.append(text)
                left[0] -= len(text)
            out.append("}" if kind is dict else ",)" if kind is tuple and len(value) == 1
                       else ")" if kind is tuple else "]")
            left[0] -= 1
        finally:
            active.discard(id(value))
        return
    if kind is str:
        text = repr(value[:left[0] + 2])
    elif kind is bytes:
        text = repr(value[:left[0] + 2])
    elif kind is int and value.bit_length() > 4000:
        text = f"<a number of {value.bit_length()} bits>"
    elif kind in (int, float, bool, complex) or value is None:
        text = repr(value)
    else:
        text = short_repr(value, limit=max(left[0], 20))
    out.append(text)
    left[0] -= len(text)


def same(actual, expected, tolerance=1e-9):
    """True when ``actual`` is the same plain data as ``expected``.

    Types are checked before values, so no user-defined ``__eq__`` is ever
    called. A list and a tuple with the same items count as the same, and so
    do an int and a float with the same value; a bool is never a number.
    """
    if expected is None:
        return actual is None
    e, a = type(expected), type(actual)
    if e is bool or a is bool:
        return e is a and actual == expected
    if e in (int, float):
        if a not in (int, float):
            return False
        if e is float or a is float:
            return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)
        return actual == expected
    if e in (str, bytes, complex):
        return a is e and actual == expected
    if e in (list, tuple):
        return (a in (list, tuple) and len(actual) == len(expected)
                and all(same(x, y, tolerance) for x, y in zip(actual, expected, strict=True)))
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or type(actual).__eq__ is not dict.__eq__:
            return False
        keys = list(dict.keys(actual))
        if len(keys) != len(expected) or not all(_is_plain_key(k) for k in keys):
            return False
        return all(k in expected and same(dict.__getitem__(actual, k), expected[k], tolerance)
                   for k in keys)
    if e in (set, frozenset):
        return (a in (set, frozenset) and all(_is_plain_key(x) for x in actual)
                and set(actual) == set(expected))
    # an instructor's own type: fall back to its own equality
    return a is e and actual == expected


def _is_plain_key(value):
    kind = type(value)
    if kind is tuple:
        return all(_is_plain_key(v) for v in value)
    return kind in (str, int, float, bool, bytes, complex, frozenset) or value is None


def plain_list(value):
    """``value`` as a list if it is a list or tuple, else None."""
    return list(value) if type(value) in (list, tuple) else None


def same_items(actual, expected):
    """True when two lists hold the same items, in any order."""
    if len(actual) != len(expected):
        return False
    left = list(expected)
    for item in actual:
        for i, want in enumerate(left):
            if same(item, want):
                del left[i]
                break
        else:
            return False
    return True


def explain_difference(actual, expected, noun="message"):
    """One sentence about how two lists of messages differ, or '' if nothing simple fits."""
    if not actual and expected:
        return "Nothing arrived at all."
    if same_items(actual, expected):
        return "These are the right messages, but in a different order."
    if len(actual) == 2 * len(expected) and same_items(actual, list(expected) * 2):
        return f"Every {noun} arrived twice."
    if any(type(m) is bool for m in actual) and not any(type(m) is bool for m in expected):
        return f"Some {noun}s are True or False."
    for i, (a, e) in enumerate(zip(actual, expected, strict=False)):  # the first difference
        if not same(a, e):
            extra = ""
            if len(actual) != len(expected):
                extra = f" (and there are {len(actual)} {noun}s where {len(expected)} were expected)"
            return f"The first difference is {noun} {i}: expected {show(e, 60)}, got {show(a, 60)}{extra}."
    if len(actual) < len(expected):
        return (f"The first {len(actual)} are right, but {len(expected) - len(actual)} "
                f"more were expected: {show(expected[len(actual):], 80)}.")
    return f"The first {len(expected)} are right, but then more arrived: {show(actual[len(expected):], 80)}."


def counts(items):
    """How many times each (plain) item occurs, keyed by its repr."""
    return Counter(show(item, 10_000) for item in items)
