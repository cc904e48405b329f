"""Wrong answers to exercise 02 (filtering)."""

from . import Wrong

ASSIGNMENT = "02_filtering"

WRONG = [
    Wrong("task1", "at least 3 letters instead of more than 3 (off by one)",
          edits=[("len(word) > 3", "len(word) >= 3")],
          says=["'long_words'", "more than 3"]),
    Wrong("task1", "returns True or False instead of the word (lesson: Mistake 2)",
          edits=[("    if len(word) > 3:\n        return word\n    return None",
                  "    return len(word) > 3")],
          says=["True or False", "None to drop"]),
    Wrong("task1", "forgets the return (lesson: Mistake 1)",
          edits=[("        return word\n", "        word\n")],
          says=["Nothing arrived"]),
    Wrong("task2", "squares before keeping the even ones (wrong order)",
          edits=[("(numbers, evens), (evens, square), (square, big)",
                  "(numbers, square), (square, evens), (evens, big)")],
          says=["numbers → evens → square → big → collector"]),
    Wrong("task2", "keeps the squares from 16 on, not those bigger than 20",
          edits=[("n if n > 20 else None", "n if n >= 16 else None")],
          says=["'collector'", "bigger than 20"]),
    Wrong("task2", "keeps the odd numbers (n % 2 is true for odd n)",
          edits=[("n if n % 2 == 0 else None", "n if n % 2 else None")],
          says=["'collector'"]),
    Wrong("task3", "the classmate's filter, that sends False on",
          edits=[("    if n % 2 == 0:\n        return n\n    return None",
                  "    return n % 2 == 0 and n")],
          says=["True or False", "None, not False"]),
    Wrong("task3", "drops zero too (if n % 2 == 0 and n)",
          edits=[("    if n % 2 == 0:\n", "    if n % 2 == 0 and n:\n")],
          says=["'evens'", "zero"]),
    Wrong("task3", "keeps the odd numbers instead of the even ones",
          edits=[("    if n % 2 == 0:\n", "    if n % 2 == 1:\n")],
          says=["'evens'"]),
]
