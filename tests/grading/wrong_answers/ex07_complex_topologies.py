"""Wrong answers to exercise 07 (complex topologies)."""

from . import Wrong

ASSIGNMENT = "07_complex_topologies"

WRONG = [
    Wrong("task1", "square and cube on each other's join inputs",
          edits=[("(sq, join.in_0), (cu, join.in_1)", "(sq, join.in_1), (cu, join.in_0)")],
          says=["'results'", "in_0"]),
    Wrong("task1", "cube fed from square (a chain, not a diamond)",
          edits=[("(numbers, cu)", "(sq, cu)")],
          says=["'numbers'", "2"]),
    Wrong("task2", "longest_word fed from the raw lines, not the clean ones",
          edits=[("(clean, longest_node)", "(lines, longest_node)")],
          says=["clean_line → longest_word"]),
    Wrong("task2", "raw_log fed from clean_line",
          edits=[('(lines, Sink(fn=raw.append, name="raw_log"))',
                  '(clean, Sink(fn=raw.append, name="raw_log"))')],
          says=["lines → raw_log"]),
    Wrong("task2", "the last longest word, not the first, on a tie",
          edits=[("return max(line.split(), key=len)", "return max(reversed(line.split()), key=len)")],
          says=["'longest'", "first"]),
    Wrong("task3", "30.0 counted as too hot (>= instead of >)",
          edits=[("c if c > 30.0 else None", "c if c >= 30.0 else None")],
          says=["'alarm'", "30.0"]),
    Wrong("task3", "Fahrenheit converted without brackets: f - 32 * 5 / 9",
          edits=[("(f - 32) * 5 / 9", "f - 32 * 5 / 9")],
          says=["'archive'"]),
    Wrong("task3", "rounds to whole degrees, not to one decimal",
          edits=[("return round(c, 1)", "return round(c)")],
          says=["'archive'"]),
    Wrong("task4", "one piece used twice (lesson: Mistake 5)",
          edits=[('north, south = order_reader("north"), order_reader("south")',
                  'north = south = order_reader("north")')],
          says=["order_reader"]),
    Wrong("task4", "parse keeps the spaces around the item",
          edits=[("item.strip().lower()", "item.lower()")],
          says=["'north_orders'", "spaces"]),
    Wrong("task4", "valid keeps the orders of 0",
          edits=[("order if order[0] > 0 else None", "order if order[0] >= 0 else None")],
          says=["'north_orders'"]),
]
