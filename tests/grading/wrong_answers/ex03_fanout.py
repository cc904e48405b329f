"""Wrong answers to exercise 03 (fanout)."""

from . import Wrong

ASSIGNMENT = "03_fanout"

WRONG = [
    Wrong("task1", "a chain (word_source → uppercase → length) instead of two paths",
          edits=[("    (word_source, length),\n", "    (uppercase, length),\n")],
          says=["'word_source'", "2"]),
    Wrong("task1", "the two sinks swapped",
          edits=[('Sink(fn=upper_results.append, name="collector_upper")',
                  'Sink(fn=upper_results.append, name="collector_length")'),
                 ('Sink(fn=length_results.append, name="collector_length")',
                  'Sink(fn=length_results.append, name="collector_upper")')],
          says=["word_source → uppercase → collector_upper"]),
    Wrong("task1", "the edge to length listed twice (lesson: Mistake 5)",
          edits=[("    (word_source, length),\n",
                  "    (word_source, length),\n    (word_source, length),\n")],
          says=["sends to 3", "listed once"]),
    Wrong("task2", "both sinks append to results_upper (copied line)",
          edits=[('Sink(fn=results_reverse.append, name="reverse_sink")',
                  'Sink(fn=results_upper.append, name="reverse_sink")')],
          says=["results_upper", "new, empty list for each path"]),
    Wrong("task2", "one list with two names (results_upper = results_reverse = [])",
          edits=[("results_upper, results_reverse = [], []", "results_upper = results_reverse = []")],
          says=["results_upper", "new, empty list for each path"]),
    Wrong("task2", "the network run twice, so each list holds everything twice",
          edits=[("g2.run_network(timeout=5)\n", "g2.run_network(timeout=5)\ng2.run_network(timeout=5)\n")],
          says=["results_upper", "run g2 once"]),
    Wrong("task3", "the duplicate edge kept (lesson: Mistake 5)",
          edits=[("    (word_source, length),\n",
                  "    (word_source, length),\n    (word_source, length),\n")],
          says=["listed twice"]),
    Wrong("task3", "the reverse path hangs off uppercase, not word_source",
          edits=[("    (word_source, reverse),\n", "    (uppercase, reverse),\n")],
          says=["'word_source'", "3"]),
    Wrong("task3", "the reverse transform calls to_upper (copied line)",
          edits=[('Transform(fn=reverse_text, name="reverse")', 'Transform(fn=to_upper, name="reverse")')],
          says=["'collector_reverse'"]),
]
