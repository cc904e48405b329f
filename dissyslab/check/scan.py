"""Answer cells are read before they run: constructs that could reach into the grader are refused.

Python cannot fence off code running in its own process, so grading runs
answers in a separate process and checks the library's integrity (see
``integrity.py``). What remains is code that reads the grader's memory or
controls other processes: frames, the garbage collector, ``ctypes``,
``eval``/``exec``, pickles, killing or starting processes. None of it
belongs in these exercises, so an answer that uses any of it gets no
points, with a message naming the cell and the line.
"""

import ast

MODULES = {
    "ctypes": "reaches into the interpreter's memory",
    "gc": "can find the grader's own objects",
    "inspect": "can read the grader's frames",
    "importlib": "can swap the modules the grader uses",
    "builtins": "can replace Python's own functions",
    "signal": "can disable the grader's time limits",
    "faulthandler": "can disable the grader's time limits",
    "subprocess": "starts other processes",
    "multiprocessing": "starts other processes",
    "pty": "starts other processes",
    "pickle": "can call any function while loading",
    "marshal": "can build code objects",
    "shelve": "can call any function while loading",
    "dill": "can call any function while loading",
    "copyreg": "changes how objects are rebuilt",
}
CALLS = {
    "exec": "runs code the grader cannot read first",
    "eval": "runs code the grader cannot read first",
    "compile": "builds code the grader cannot read first",
    "__import__": "imports modules by computed names",
    "breakpoint": "stops the program to wait for a debugger",
}
ATTRIBUTES = {
    "__code__", "__globals__", "__closure__", "__builtins__", "__subclasses__", "__bases__",
    "__base__", "__mro__", "__class__", "__func__", "__self__", "__wrapped__", "__getattribute__",
    "__setattr__", "__delattr__", "__reduce__", "__reduce_ex__", "__import__", "__loader__",
    "__spec__",
    "f_locals", "f_globals", "f_back", "f_code", "f_builtins", "tb_frame", "tb_next", "gi_frame",
    "cr_frame", "ag_frame", "gi_code", "co_code",
    "_getframe", "_current_frames", "settrace", "setprofile", "addaudithook", "modules",
    "setrecursionlimit", "setswitchinterval",
    "system", "popen", "fork", "forkpty", "kill", "killpg", "execv", "execve", "execvp",
    "execvpe", "execl", "execle", "execlp", "execlpe", "spawnl", "spawnv", "spawnve", "spawnvp",
    "posix_spawn", "posix_spawnp", "setuid", "setgid", "setsid", "dup2", "chroot",
}
DYNAMIC = {"getattr", "setattr", "delattr", "hasattr"}


class Finding:
    """One refused construct: where it is and why it is refused."""

    def __init__(self, cell, line, what, why):
        self.cell = cell
        self.line = line
        self.what = what
        self.why = why

    def __str__(self):
        return f"{self.what} (answer cell {self.cell}, line {self.line}): it {self.why}"


def scan(source, cell="?"):
    """Findings in one cell's source (already plain Python; magics turned into calls)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # it will fail when it runs, and get no points that way
    found = []

    def add(node, what, why):
        found.append(Finding(cell, getattr(node, "lineno", 0), what, why))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in MODULES:
                    add(node, f"import {alias.name}", MODULES[top])
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top in MODULES:
                add(node, f"from {node.module} import ...", MODULES[top])
            for alias in node.names:
                if alias.name in ATTRIBUTES or alias.name in CALLS:
                    add(node, f"import of {alias.name}", "is not allowed in answers")
        elif isinstance(node, ast.Name):
            if node.id in CALLS:
                add(node, node.id, CALLS[node.id])
            elif node.id == "__builtins__":
                add(node, "__builtins__", "can replace Python's own functions")
        elif isinstance(node, ast.Attribute):
            if node.attr in ATTRIBUTES:
                add(node, f".{node.attr}", "reaches into the interpreter or other processes")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DYNAMIC:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                add(node, f"{node.func.id}() with a computed name",
                    "hides which attribute it touches")
            elif name.value in ATTRIBUTES or name.value.startswith("__"):
                add(node, f"{node.func.id}(..., {name.value!r})",
                    "reaches into the interpreter")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in ATTRIBUTES and node.value.startswith(("__", "f_", "_get")):
                add(node, repr(node.value), "names a part of the interpreter")
    return found
