"""Wrong answers to exercise 14 (time and order)."""

from . import Wrong

ASSIGNMENT = "14_time_and_order"

WRONG = [
    Wrong("task1", "a source counts one event per message: its send is forgotten",
          edits=[("        self.clock += 1          # send\n        return (self.clock, self.name",
                  "        return (self.clock, self.name")],
          says=["Lamport"]),
    Wrong("task1", "the server ticks its own clock and ignores the stamp it receives",
          edits=[("self.clock = max(self.clock, stamp) + 1", "self.clock += 1")],
          says=["Lamport", "max(its clock, the stamp)"]),
    Wrong("task1", "the server passes the message on with the sender's stamp",
          edits=[("return (self.clock, author, text)", "return message")],
          says=["Lamport"]),
    Wrong("task2", "sorted by stamp only: equal stamps stay in the order they arrived",
          edits=[("key=lambda m: (m[0], m[1])", "key=lambda m: m[0]")],
          says=["in_order of the example"]),
    Wrong("task2", "the whole messages returned, not their texts",
          edits=[("return [text for stamp, author, text in sorted(messages, key=lambda m: (m[0], m[1]))]",
                  "return sorted(messages, key=lambda m: (m[0], m[1]))")],
          says=["in_order"]),
    Wrong("task2", "sorted by author first, then by stamp",
          edits=[("key=lambda m: (m[0], m[1])", "key=lambda m: (m[1], m[0])")],
          says=["in_order of the example"]),
    Wrong("task3", "Python's tuple order used for happened-before (lesson: Mistake 1)",
          edits=[("return all(a <= b for a, b in zip(v, w)) and tuple(v) != tuple(w)",
                  "return tuple(v) < tuple(w)")],
          says=["concurrent()"]),
    Wrong("task3", "an event counted as happening before itself",
          edits=[("return all(a <= b for a, b in zip(v, w)) and tuple(v) != tuple(w)",
                  "return all(a <= b for a, b in zip(v, w))")],
          says=["before() on three examples"]),
]
