"""Wrong answers to exercise 01 (basics)."""

from . import Wrong

ASSIGNMENT = "01_basics"

WRONG = [
    Wrong("task1", "the sink is named after the list, not 'collector'",
          edits=[('name="collector"', 'name="results"')],
          says=["'collector'"]),
    Wrong("task1", "another function than shout in the transform",
          edits=[("Transform(fn=shout,", "Transform(fn=str.upper,")],
          says=["'shout'", "shout"]),
    Wrong("task1", "calls the function instead of passing it (lesson: Mistake 2)",
          edits=[("Transform(fn=shout,", 'Transform(fn=shout("hello"),')],
          says=["without calling it", "`g`"]),
    Wrong("task1", "the network run twice, so results holds every word twice",
          edits=[("g.run_network(timeout=5)\n", "g.run_network(timeout=5)\ng.run_network(timeout=5)\n")],
          says=["results", "arrived twice"]),
    Wrong("task2", "a params name that does not match the function (lesson: Mistake 4)",
          edits=[('params={"tag": "color"}', 'params={"label": "color"}')],
          says=["'label'", "params", '"tag"']),
    Wrong("task2", "calls label itself in a lambda instead of using params",
          edits=[('Transform(fn=label, params={"tag": "color"}, name="label")',
                  'Transform(fn=lambda text: label(text, "color"), name="label")')],
          says=["params"]),
    Wrong("task3", "the classmate's source, still making a new ListSource on each call "
                   "(lesson: Mistake 1)",
          edits=[("Source(fn=ListSource(items=[1, 2, 3]).run,",
                  "Source(fn=lambda: ListSource(items=[1, 2, 3]).run(),"),
                 ("g3.run_network(timeout=5)\n", "")],
          says=["did not finish", "new ListSource on each call"]),
    Wrong("task3", "an iterator of its own, used up by the first run",
          edits=[("Source(fn=ListSource(items=[1, 2, 3]).run,",
                  "Source(fn=lambda it=iter([1, 2, 3]): next(it, None),")],
          says=["'counter'", "sent nothing"]),
]
