"""Wrong answers to exercise 12 (snapshots)."""

from . import Wrong

ASSIGNMENT = "12_snapshots"

WRONG = [
    Wrong("task1", "the sink calls the method through a lambda: a closure the snapshot cannot "
                   "record (lesson: Mistake 1)",
          edits=[('Sink(fn=tally.add, name="tally")', 'Sink(fn=lambda word: tally.add(word), name="tally")')],
          says=["'tally'", "method"]),
    Wrong("task1", "counts kept in a class attribute, shared by every Tally",
          edits=[("    def __init__(self):\n        self.counts = {}\n", "    counts = {}\n")],
          says=["tally.counts"]),
    Wrong("task1", "a new word starts at 1 before the one is added (off by one)",
          edits=[("self.counts.get(word, 0) + 1", "self.counts.get(word, 1) + 1")],
          says=["tally.counts"]),
    Wrong("task2", "a receive AT the cut counted as before it (seq <= cut)",
          edits=[('if event == "receive" and seq < cut[node]:',
                  'if event == "receive" and seq <= cut[node]:')],
          says=["is_consistent"]),
    Wrong("task2", "a message never received is not counted as in flight",
          edits=[("if got is None or got[1] >= cut[got[0]]:",
                  "if got is not None and got[1] >= cut[got[0]]:")],
          says=["in_flight", "never received"], visible=False),
    Wrong("task2", "the wrong cut named",
          edits=[('if not is_consistent(EVENTS, cut)][0]', 'if is_consistent(EVENTS, cut)][0]')],
          says=["inconsistent"]),
    Wrong("task3", "resumes from the last snapshot, taken after the failure (lesson: Mistake 2)",
          edits=[("before = [snap for snap in g.snapshots if not snap.failed]",
                  "before = list(g.snapshots)")],
          says=["failed"]),
    Wrong("task3", "resumes from the first snapshot, not the last good one",
          edits=[("snap = before[-1]", "snap = before[0]")],
          says=["step", "last snapshot before the failure"]),
    Wrong("task3", "runs the bakery again from the start instead of resuming",
          edits=[("g.run_network(resume=snap, timeout=5, live=False)",
                  "g.run_network(timeout=5, live=False)")],
          says=["ledger"]),
]
