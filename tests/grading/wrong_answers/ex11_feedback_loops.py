"""Wrong answers to exercise 11 (feedback loops)."""

from . import Wrong

ASSIGNMENT = "11_feedback_loops"

WRONG = [
    Wrong("task1", "off by one: a file is tried max_tries + 1 times (attempt <= max_tries)",
          edits=[("if attempt < max_tries:", "if attempt <= max_tries:")],
          says=["slides.pdf", "max_tries"]),
    Wrong("task1", "sends the (name, attempt) pair to the sinks, not the name",
          edits=[("return [name, None, None]", "return [job, None, None]"),
                 ("return [None, None, name]", "return [None, None, job]")],
          says=["file names", "the name alone"]),
    Wrong("task1", "gives up silently: nothing reaches 'gave_up'",
          edits=[("return [None, None, name]", "return [None, None, None]")],
          says=["'gave_up'"]),
    Wrong("task1", "one try too few (attempt + 1 < max_tries)",
          edits=[("if attempt < max_tries:", "if attempt + 1 < max_tries:")],
          says=["max_tries"]),
    Wrong("task1", "a loop with no way out: the attempt number never grows (lesson: Mistake 1)",
          edits=[("return [None, (name, attempt + 1), None]", "return [None, (name, attempt), None]")],
          says=["did not finish", "attempt number grow"]),
    Wrong("task1", "keeps each file's attempts in a dict outside build_uploader: every network "
                   "it builds shares the counts",
          edits=[("def build_uploader(max_tries):\n",
                  "tries = {}\n\n\ndef build_uploader(max_tries):\n"),
                 ("        name, attempt = job\n",
                  "        name, _ = job\n        tries[name] = tries.get(name, 0) + 1\n"
                  "        attempt = tries[name]\n")],
          says=["gave different results", "start afresh", "attempt number in the message"]),
    Wrong("task2", "going_round counts every rocket, not the ones still going round",
          edits=[("going_round = 2 ", "going_round = 4 ")],
          says=["going_round"]),
    Wrong("task2", "lifts off only below 0 (left < 0): the stated boundary is 'at or below'",
          edits=[("if left <= 0:", "if left < 0:")],
          says=["fixed_countdown(('Ariane', 0))", "at or below 0"]),
    Wrong("task2", "counts down in steps of 1",
          edits=[("return [(rocket, left - 2), None]", "return [(rocket, left - 1), None]")],
          says=["fixed_countdown(('Falcon', 1))", "steps of 2"]),
    Wrong("task3", "leaves the ring after `rounds` names, not n * rounds",
          edits=[("if len(token) == n * rounds:", "if len(token) == rounds:")],
          says=["'finished'", "n * rounds"]),
    Wrong("task3", "puts the station's name in front of the token",
          edits=[("token = token + [name]", "token = [name] + token")],
          says=["'finished'", "end"]),
    Wrong("task3", "counts the rounds in the last station's closure: a second run goes wrong",
          edits=[("        def hold_token(token):\n            token = token + [name]\n"
                  "            if len(token) == n * rounds:",
                  "        visits = [0]\n\n        def hold_token(token):\n"
                  "            token = token + [name]\n"
                  "            if name == f\"s{n - 1}\":\n                visits[0] += 1\n"
                  "            if name == f\"s{n - 1}\" and visits[0] >= rounds:")],
          says=["second time"], visible=False),
]
