"""Wrong answers to exercise 08 (concurrency)."""

from . import Wrong

ASSIGNMENT = "08_concurrency"

WRONG = [
    Wrong("task1", "one worker node on all three outputs (lesson 07: Mistake 2)",
          edits=[("for i in range(3):\n    worker = Transform(fn=slow_double, name=f\"worker_{i}\")\n",
                  "worker = Transform(fn=slow_double, name=\"worker_0\")\nfor i in range(3):\n")],
          says=["transform"]),
    Wrong("task1", "job x sent to output (x + 1) % 3",
          edits=[("slots[x % 3] = x", "slots[(x + 1) % 3] = x")],
          says=["worker", "x % 3"]),
    Wrong("task2", "a seed under which no sale is lost (the tally is right)",
          edits=[('if tally["count"] < 6:', 'if tally["count"] == 6:')],
          says=["no sale is lost"]),
    Wrong("task2", "LOST the wrong way round (final tally minus 6)",
          edits=[('LOST = 6 - tally["count"]', 'LOST = tally["count"] - 6')],
          says=["LOST"]),
    Wrong("task2", "LOST set to the final tally, not the sales lost",
          edits=[('LOST = 6 - tally["count"]', 'LOST = tally["count"]')],
          says=["LOST"]),
    Wrong("task3", "still reads in one node and writes in the next (the race)",
          code='''
def build_safe_tally():
    return build_tally()


g_safe, tally = build_safe_tally()
g_safe.run_network(timeout=5)
''',
          says=["race", "6"]),
    Wrong("task3", "one tally for every network built (the dict outside the function)",
          edits=[("def build_safe_tally():\n    tally = {\"count\": 0}\n",
                  "tally = {\"count\": 0}\n\n\ndef build_safe_tally():\n")],
          says=["6"]),
]
