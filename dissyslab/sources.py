"""Ready-made source functions for lessons."""

from .copying import ATOMS, copy_message
from .errors import shown_to_students


class ListSource:
    """Hands out the items of a list one at a time; its ``run`` is a Source's ``fn``.

    ``Source(fn=ListSource(items=["a", "b"]).run)`` sends "a", then "b", then
    ends. The runtime rewinds it at the start of every run, so running a
    network again sends the items again.
    """

    @shown_to_students
    def __init__(self, items):
        try:
            self.items = list(items)
        except TypeError:
            raise TypeError(
                f"ListSource(items=...) needs a list (or anything you can loop over), "
                f"but got a {type(items).__name__}."
            ) from None
        if any(item is None for item in self.items):
            where = self.items.index(None)
            raise ValueError(
                f"ListSource items cannot contain None (item {where} is None): a source "
                f"that returns None ends its stream, so everything after it would be lost."
            )
        self._next = 0

    def run(self):
        """Return (a copy of) the next item, or ``None`` when there are no more.

        Items that can change (lists, dicts...) are handed out as copies, so a
        node that changes its message never changes this list: running the
        network again sends the same items.
        """
        if self._next >= len(self.items):
            return None
        item = self.items[self._next]
        self._next += 1
        if type(item) in ATOMS:
            return item
        try:
            return copy_message(item)
        except Exception:  # cannot be copied (a lock, a file...): hand out the item itself
            return item

    def reset(self):
        """Start again from the first item."""
        self._next = 0

    @property
    def position(self):
        """How many items it has handed out (a snapshot records it; resuming sets it back)."""
        return self._next

    @position.setter
    def position(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= len(self.items):
            raise ValueError(f"a ListSource position is a whole number from 0 to {len(self.items)}, "
                             f"but got {value!r}.")
        self._next = value

    def __repr__(self):
        return f"ListSource(items={self.items!r})"
