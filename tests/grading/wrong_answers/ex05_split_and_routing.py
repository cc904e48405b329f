"""Wrong answers to exercise 05 (split and routing)."""

from . import Wrong

ASSIGNMENT = "05_split_and_routing"

WRONG = [
    Wrong("task1", "25 counted as hot (t < 25 instead of t <= 25)",
          edits=[("if t <= 25:", "if t < 25:")],
          says=["'mild'", "25"]),
    Wrong("task1", "10 counted as cold (t <= 10 instead of t < 10)",
          edits=[("if t < 10:", "if t <= 10:")],
          says=["'cold'", "10"]),
    Wrong("task1", "the outputs connected in the wrong order (cold and hot swapped)",
          edits=[('(router.out_0, Sink(fn=cold.append, name="cold"))',
                  '(router.out_0, Sink(fn=hot.append, name="hot"))'),
                 ('(router.out_2, Sink(fn=hot.append, name="hot"))',
                  '(router.out_2, Sink(fn=cold.append, name="cold"))')],
          says=["by_temperature.out_0 → cold"]),
    Wrong("task1", "an edge from the split itself, not from one of its outputs (lesson: Mistake 1)",
          edits=[('(router.out_0, Sink(fn=cold.append, name="cold"))',
                  '(router, Sink(fn=cold.append, name="cold"))')],
          says=["say which one sends", "by_temperature.out_0"]),
    Wrong("task1", "returns the reading itself for a mild one, not a list (lesson: Mistake 2)",
          edits=[("        return [None, t, None]", "        return t")],
          says=["'by_temperature'", "must return a list of 3 items"]),
    Wrong("task2", "three outputs, but the other tickets still dropped (lesson: Mistake 5)",
          edits=[("    return [None, None, ticket]", "    return [None, None, None]")],
          says=["'general'"]),
    Wrong("task2", "compares without lower(), so 'REFUND' and 'Error' are not recognised",
          edits=[("text = ticket.lower()", "text = ticket")],
          says=["'billing'", "lower case"], visible=False),
    Wrong("task2", "general and technical on each other's outputs",
          edits=[('(router.out_1, Sink(fn=technical.append, name="technical"))',
                  '(router.out_1, Sink(fn=general.append, name="general"))'),
                 ('(router.out_2, Sink(fn=general.append, name="general"))',
                  '(router.out_2, Sink(fn=technical.append, name="technical"))')],
          says=["route_ticket.out_2 → general"]),
    Wrong("task2", "three outputs, but out_2 left unconnected (lesson: Mistake 3)",
          edits=[('    (router.out_2, Sink(fn=general.append, name="general")),\n', '')],
          says=["out_2 is not connected"]),
    Wrong("task3", "if/elif: a story goes to one desk only",
          edits=[("    return [title if \"sports\" in tags else None,\n"
                  "            title if \"politics\" in tags else None,\n"
                  "            title]",
                  "    if \"sports\" in tags:\n        return [title, None, title]\n"
                  "    if \"politics\" in tags:\n        return [None, title, title]\n"
                  "    return [None, None, title]")],
          says=["'politics'", "both"]),
    Wrong("task3", "the archive gets only the stories no desk wanted",
          edits=[("            title]",
                  "            title if not tags & {\"sports\", \"politics\"} else None]")],
          says=["'archive'", "every"]),
    Wrong("task3", "sends the whole story (title, tags) instead of its title",
          edits=[("    return [title if \"sports\" in tags else None,\n"
                  "            title if \"politics\" in tags else None,\n"
                  "            title]",
                  "    return [story if \"sports\" in tags else None,\n"
                  "            story if \"politics\" in tags else None,\n"
                  "            story]")],
          says=["'sports'", "title"]),
]
