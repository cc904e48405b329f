"""Wrong answers to exercise 09 (failures)."""

from . import Wrong

ASSIGNMENT = "09_failures"

WRONG = [
    Wrong("task1", "returns 0 for a bad reading instead of dropping it",
          edits=[("    except ValueError:\n        return None", "    except ValueError:\n        return 0")],
          says=["'numbers'", "None"]),
    Wrong("task1", "catches the wrong error (TypeError), so parse still fails",
          edits=[("except ValueError:", "except TypeError:")],
          says=["'parse'", "ValueError"]),
    Wrong("task1", "keeps only text made of digits (isdigit): '-3' and ' 5 ' are lost",
          edits=[("    try:\n        return int(text)\n    except ValueError:\n        return None",
                  "    if text.isdigit():\n        return int(text)\n    return None")],
          says=["'numbers'", "int()"], visible=False),
    Wrong("task2", "the error's text instead of the message the node failed on",
          edits=[("{failure.node.name: failure.message for failure in err.failures}",
                  "{failure.node.name: str(failure.exception) for failure in err.failures}")],
          says=["failed_nodes(broken)"]),
    Wrong("task2", "only the first failure",
          edits=[("return {failure.node.name: failure.message for failure in err.failures}",
                  "first = err.failures[0]\n        return {first.node.name: first.message}")],
          says=["two nodes fail"], visible=False),
    Wrong("task2", "forgets to return {} when nothing failed",
          edits=[("    return {}\n", "")],
          says=["nothing fails"], visible=False),
    Wrong("task3", "one counter for every network built (the dict outside the function)",
          edits=[("def build_ticker(limit):\n    count = {\"n\": 0}\n",
                  "count = {\"n\": 0}\n\n\ndef build_ticker(limit):\n")],
          says=["new counter"]),
    Wrong("task3", "sends one number too many (> limit instead of >= limit)",
          edits=[('if count["n"] >= limit:', 'if count["n"] > limit:')],
          says=["'collector'", "6"]),
    Wrong("task3", "never returns None: ends with False, sent on forever (lesson: Mistake 3)",
          edits=[("            return None\n", "            return False\n")],
          says=["did not finish", "None"]),
    Wrong("task3", "the source forgets to return the number (lesson: Mistake 2)",
          edits=[('        count["n"] += 1\n        return count["n"]', '        count["n"] += 1')],
          says=["Nothing arrived", "None ends the stream"]),
]
