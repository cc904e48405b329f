"""Wrong answers to exercise 10 (a real pipeline)."""

from . import Wrong

ASSIGNMENT = "10_real_pipeline"

WRONG = [
    Wrong("task1", "an empty list for a line with no words, instead of None",
          edits=[("return words if words else None", "return words")],
          says=['words_of("-- 1863 --")', "None"]),
    Wrong("task1", "split on spaces: punctuation stays in the words",
          edits=[('re.findall("[a-z]+", line.lower())', "line.lower().split()")],
          says=['words_of("Four score, and SEVEN years -- ago!")']),
    Wrong("task1", "forgets lower(): capital letters are cut off",
          edits=[('re.findall("[a-z]+", line.lower())', 're.findall("[a-z]+", line)')],
          says=['words_of("Four score, and SEVEN years -- ago!")']),
    Wrong("task2", "the classmate's connection, refused on the sink's thread (lesson: Mistake 1)",
          edits=[('sqlite3.connect(":memory:", check_same_thread=False)', 'sqlite3.connect(":memory:")')],
          says=["check_same_thread=False"]),
    Wrong("task2", "one database for every pipeline built (made outside the function)",
          edits=[('def build_pipeline(lines):\n'
                  '    db = sqlite3.connect(":memory:", check_same_thread=False)\n'
                  '    db.execute("CREATE TABLE counts (word TEXT PRIMARY KEY, n INTEGER)")\n',
                  'db = sqlite3.connect(":memory:", check_same_thread=False)\n'
                  'db.execute("CREATE TABLE counts (word TEXT PRIMARY KEY, n INTEGER)")\n\n\n'
                  'def build_pipeline(lines):\n')],
          says=["the rows of the table counts"]),
    Wrong("task2", "stores 1 for a word seen again instead of adding one",
          edits=[("ON CONFLICT(word) DO UPDATE SET n = n + 1", "ON CONFLICT(word) DO UPDATE SET n = 1")],
          says=["the rows of the table counts"]),
    Wrong("task3", "ties not in alphabetical order",
          edits=[("ORDER BY n DESC, word ASC", "ORDER BY n DESC")],
          says=["alphabetical"]),
    Wrong("task3", "least frequent first",
          edits=[("ORDER BY n DESC, word ASC", "ORDER BY n ASC, word ASC")],
          says=["top_words(db, 2)"]),
    Wrong("task3", "a dict instead of a list of (word, count) tuples",
          edits=[("return db.execute(", "return dict(db.execute("),
                 (".fetchall()\n", ".fetchall())\n")],
          says=["top_words(db, 2)"]),
]

#: build_pipeline (task 2) uses words_of (task 1), and task 3 uses build_pipeline: a wrong
#: answer to one of these is handed in with the right answer to the task it depends on
DEPENDS = {"task2": "task1", "task3": "task2"}
