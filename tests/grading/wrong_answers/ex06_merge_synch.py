"""Wrong answers to exercise 06 (MergeSynch)."""

from . import Wrong

ASSIGNMENT = "06_merge_synch"

WRONG = [
    Wrong("task1", "the ports swapped: names into in_1, scores into in_0",
          edits=[("(names, pair.in_0), (scores, pair.in_1)", "(names, pair.in_1), (scores, pair.in_0)")],
          says=["names → pair.in_0"]),
    Wrong("task1", "a plain fanin where a join was wanted (lesson: Mistake 4)",
          edits=[('MergeSynch(num_inputs=2, name="pair")',
                  'Transform(fn=lambda message: message, name="pair")'),
                 ("(names, pair.in_0), (scores, pair.in_1)", "(names, pair), (scores, pair)")],
          says=["'pair'", "MergeSynch"]),
    Wrong("task1", "edges into the merge without a port (lesson: Mistake 1)",
          edits=[("(names, pair.in_0), (scores, pair.in_1)", "(names, pair), (scores, pair)")],
          says=["say which one receives", "pair.in_0"]),
    Wrong("task1", "counting ports from 1 (lesson: Mistake 2): in_1 and in_2 of three",
          edits=[('MergeSynch(num_inputs=2, name="pair")', 'MergeSynch(num_inputs=3, name="pair")'),
                 ("(names, pair.in_0), (scores, pair.in_1)", "(names, pair.in_1), (scores, pair.in_2)")],
          says=["in_0 is not connected"]),
    Wrong("task2", "the filter before the merge: every later pair shifts (lesson: Mistake 5)",
          code='''
def valid_only(score):
    return score if score >= 0 else None


aligned = []
names = Source(fn=ListSource(items=MISSING_NAMES).run, name="names")
scores = Source(fn=ListSource(items=MISSING_SCORES).run, name="scores")
valid = Transform(fn=valid_only, name="valid_only")
pair = MergeSynch(num_inputs=2, name="pair")
g2 = network([(names, pair.in_0), (scores, valid), (valid, pair.in_1),
              (pair, Sink(fn=aligned.append, name="aligned"))])
g2.run_network(timeout=5)
''',
          says=["'aligned'", "after the merge"]),
    Wrong("task2", "a score of 0 dropped too (score > 0)",
          edits=[("return pair if score >= 0 else None", "return pair if score > 0 else None")],
          says=["'aligned'", "score of 0"], visible=False),
    Wrong("task2", "marks a missing score instead of dropping the pair",
          edits=[("return pair if score >= 0 else None", "return pair if score >= 0 else [name, None]")],
          says=["'aligned'"]),
    Wrong("task3", "temps and cities swapped on the join's inputs",
          edits=[('name="cities"), join.in_0', 'name="cities"), join.in_1'),
                 ('name="temps"), join.in_1', 'name="temps"), join.in_0')],
          says=["cities → join.in_0"]),
    Wrong("task3", "a line without the degree sign (another format)",
          edits=[('f"{city}: {temp}°C, {humidity}%"', 'f"{city}: {temp}C, {humidity}%"')],
          says=["'reports'", "Oslo: 3°C, 80%"]),
    Wrong("task3", "humidity and temperature swapped in the line",
          edits=[("city, temp, humidity = row", "city, humidity, temp = row")],
          says=["'reports'"]),
]
