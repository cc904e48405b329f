"""Wrong answers to exercise 04 (fanin)."""

from . import Wrong

ASSIGNMENT = "04_fanin"

WRONG = [
    Wrong("task1", "both tagging transforms say 'kitchen' (copied line)",
          edits=[('params={"room": "garden"}', 'params={"room": "kitchen"}')],
          says=["'tag_garden'", "garden"]),
    Wrong("task1", "the garden readings bypass their tagging transform",
          edits=[("(garden, tag_garden), (tag_garden, logger)", "(garden, logger)")],
          says=["tag_garden"]),
    Wrong("task1", "one fanin edge listed twice (lesson: Mistake 5)",
          edits=[("(tag_garden, logger)])", "(tag_garden, logger), (tag_garden, logger)])")],
          says=["'log'"]),
    Wrong("task2", "the same seed twice",
          edits=[("SEED_A, SEED_B = list(orders.values())[:2]",
                  "SEED_A = SEED_B = list(orders.values())[0]")],
          says=["the same"]),
    Wrong("task2", "RIGHT_FIRST is a seed where left comes first",
          edits=[('order[:3] == ("b1", "b2", "b3")', 'order[:3] == ("a1", "a2", "a3")')],
          says=["first three messages", "b1, b2, b3"]),
    Wrong("task3", "the last message wins (lesson: Mistake 3)",
          edits=[("        room, reading = tagged\n        latest[room] = reading",
                  "        room, reading = tagged\n        latest[\"temperature\"] = reading")],
          says=["keys of the dict", "per room", "last message wins"]),
    Wrong("task3", "keeps the highest reading per room, not the latest",
          edits=[("latest[room] = reading", "latest[room] = max(latest.get(room, reading), reading)")],
          says=["11.5"]),
    Wrong("task3", "the garden readings tagged 'kitchen' (copied line)",
          edits=[('params={"room": "garden"}', 'params={"room": "kitchen"}')],
          says=["garden"]),
]
