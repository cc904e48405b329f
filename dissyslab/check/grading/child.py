"""The student's process: runs a submission's cells and answers the grader's questions about them.

Started by ``grader.py`` inside the sandbox (``sandbox.py``). It reads one
request per line on stdin and writes one reply per line on stdout (both moved
to private file descriptors first; the student's ``print`` goes to the cell's
output and file descriptors 0 and 1 lead nowhere). Requests:

* ``cell``: run a read-only or answer cell, with a time limit;
* ``get``, ``getattr``, ``call``, ``getitem``, ``len``, ``iter``, ``str``,
  ``bool``: look at the student's names and objects, or call them;
* ``shape``: describe the network ``g`` (nodes, kinds, functions, edges);
* ``run``, ``build_run``: run a fresh copy of a network (or build one with the
  student's function first) and report what each sink received and the
  counters, as plain data;
* ``explore``: explore every schedule of a copy of a network (or of what the
  student's build function makes) and report each distinct run, as plain
  data (``check.every.collect``); the test's ``check=`` stays in the grader;
* ``beside``: run instructor code that a task needs next to the student's
  (``check.run_beside``) and hand back what it defines.

This process never sees a test cell, an expected value or a verdict: the
grader runs the tests itself and only asks for observations. Everything here
can be changed by the student's code, so the grader trusts none of it: what
it sends back is plain data, checked on arrival (``wire.py``).
"""

import ast
import builtins
import io
import os
import signal
import sys
import traceback

from ...errors import PACKAGE_DIR
from . import wire

#: characters of one cell's output kept
OUTPUT_LIMIT = 20_000
#: messages of one sink reported after a run (a run stopped by its time limit may have millions)
MESSAGES = 100_000


class _CellTimeout(KeyboardInterrupt):
    """The cell ran past its time limit (a KeyboardInterrupt, so a running network stops cleanly)."""


class _Capture(io.TextIOBase):
    """A stream that adds what is written to a cell's list of outputs (or drops it)."""

    def __init__(self, outputs, name):
        self.outputs = outputs
        self.name = name
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        if type(text) is not str:
            text = str(text)
        if self.outputs is not None and self.size < OUTPUT_LIMIT:
            text = text[: OUTPUT_LIMIT - self.size]
            self.size += len(text)
            if self.outputs and self.outputs[-1]["output_type"] == "stream" and \
                    self.outputs[-1]["name"] == self.name:
                self.outputs[-1]["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": text})
        return len(text)

    def flush(self):
        pass


class _Magics:
    """Stands in for IPython when a cell uses a magic (the grader turned magics into calls).

    time/timeit/capture run their code, others are skipped.
    """

    RUNS = ("time", "timeit", "capture", "prun")

    def __init__(self, ns):
        self.ns = ns

    def run_line_magic(self, name, line, *args):
        if name in self.RUNS and line.strip():
            try:
                code = compile(line, "<magic>", "eval")
            except SyntaxError:  # a statement, like %time x = f()
                exec(compile(line, "<magic>", "exec"), self.ns)
                return None
            return eval(code, self.ns)
        print(f"(%{name} is not run when grading)")

    def run_cell_magic(self, name, line, body, *args):
        if name in self.RUNS:
            exec(compile(body, "<magic>", "exec"), self.ns)
        else:
            print(f"(%%{name} cell is not run when grading)")

    def system(self, command, *args):
        print("(shell commands are not run when grading)")

    getoutput = system


def plain_python(source):
    """The cell's code as plain Python: IPython magics become calls (IPython is imported only if needed)."""
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _compile_cell(source, label, show_last):
    """(body code, last expression code or None) for a cell's source."""
    tree = ast.parse(source, filename=label)
    last = None
    if show_last and tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        last = compile(last, label, "eval")
    return compile(tree, label, "exec"), last


def _public(exc):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # the student's frames only: DisSysLab's own (its runtime's, its checks') are left out
    keep = [ln for ln in lines if not ln.lstrip().startswith(f'File "{PACKAGE_DIR}')]
    return {"ename": type(exc).__name__[:200], "evalue": _text(exc),
            "traceback": [ln[:2000] for ln in keep[-30:]]}


def _text(exc):
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001
        text = "<error whose text failed>"
    return text[:4000]


class Child:
    """The student's namespace, and the answers to the grader's requests."""

    def __init__(self):
        self.ns = {"__name__": "__main__", "__builtins__": builtins}
        self.ns["display"] = self._display
        self.ns["get_ipython"] = lambda: _Magics(self.ns)
        self.setup_names = {}  # what the read-only cells defined, by name
        self.enc = wire.Encoder()
        self.timer_fired = False

    def _display(self, *objs, **kwargs):
        for obj in objs:
            print(obj if isinstance(obj, str) else wire.safe_repr(obj, OUTPUT_LIMIT))

    def _alarm(self, signum, frame):
        self.timer_fired = True
        raise _CellTimeout()

    def _in(self, node):
        return wire.decode_in_child(node, self.enc.refs, self.setup_names)

    # --- requests ---------------------------------------------------------------------
    def handle(self, req):
        op = req.get("op")
        timeout = req.get("timeout") or 60
        outputs = [] if op == "cell" else None
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Capture(outputs, "stdout"), _Capture(outputs, "stderr")
        self.timer_fired = False
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        reply = {}
        try:
            try:
                reply = getattr(self, "op_" + str(op))(req)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt as exc:
            reply = {"timeout": True} if self.timer_fired else {"error": _public(exc)}
        except SystemExit as exc:
            reply = {"error": _public(exc), "exited": True}
        except BaseException as exc:  # noqa: BLE001 (the student's code may raise anything)
            reply = {"error": _public(exc)}
        finally:
            sys.stdout, sys.stderr = out, err
        if outputs is not None:
            reply["outputs"] = outputs
        return reply

    def op_cell(self, req):
        label = f"<cell {req.get('index')}>"
        before = dict(self.ns) if req.get("role") == "setup" else None
        reply = {}
        try:
            try:
                body, last = _compile_cell(req["source"], label, True)
                exec(body, self.ns)
                if last is not None:
                    value = eval(last, self.ns)
                    if value is not None:
                        reply["result"] = wire.safe_repr(value, OUTPUT_LIMIT)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt as exc:
            if self.timer_fired:
                reply["timed_out"] = True
            else:
                reply["error"] = _public(exc)
        except SystemExit as exc:
            reply["exited"] = True
            reply["error"] = {"ename": "SystemExit", "evalue": (
                f"The code called sys.exit({'' if exc.code is None else wire.safe_repr(exc.code, 80)}), "
                f"which stops the cell."), "traceback": []}
        except BaseException as exc:  # noqa: BLE001
            reply["error"] = _public(exc)
        if before is not None:
            self.setup_names.update(
                (k, v) for k, v in self.ns.items() if k not in before or before[k] is not v)
        return reply

    def op_get(self, req):
        name = req["name"]
        if name not in self.ns or name.startswith("__"):
            return {"found": False}
        return {"found": True, "value": self.enc.encode(self.ns[name])}

    def _obj(self, req):
        return self.enc.refs[req["ref"]]

    def op_getattr(self, req):
        return {"value": self.enc.encode(getattr(self._obj(req), req["attr"]))}

    def op_call(self, req):
        args = [self._in(a) for a in req.get("args", [])]
        kwargs = {k: self._in(v) for k, v in req.get("kwargs", {}).items()}
        return {"value": self.enc.encode(self._obj(req)(*args, **kwargs))}

    def op_getitem(self, req):
        return {"value": self.enc.encode(self._obj(req)[self._in(req["key"])])}

    def op_len(self, req):
        return {"value": int.__int__(len(self._obj(req)))}

    def op_iter(self, req):
        items = []
        for item in self._obj(req):
            items.append(item)
            if len(items) > 1_000_000:
                raise ValueError("too many items")
        return {"value": self.enc.encode(items)}

    def op_str(self, req):
        text = str(self._obj(req))
        return {"value": str.__str__(text)[:20_000] if isinstance(text, str) else "<?>"}

    def op_bool(self, req):
        return {"value": bool(self._obj(req))}

    def op_forget(self, req):
        self.enc.forget_watched()
        return {}

    # --- networks -------------------------------------------------------------------------
    def _fn_idents(self, fn):
        import functools
        import types

        from ...nodes import function_name

        f = fn
        while type(f) is functools.partial:
            f = f.func
        found = [f]
        if type(f) is types.MethodType:
            found.append(f.__func__)
        idents = []
        by_id = {id(v): k for k, v in self.setup_names.items()}
        for g in found:
            if id(g) in by_id:
                idents.append(["setup", by_id[id(g)]])
            name = getattr(g, "__name__", None)
            if type(name) is str and getattr(builtins, name, None) is g:
                idents.append(["builtin", name])
            idents.append(["ref", self.enc.ref(g)])
        name = getattr(f, "__name__", None)
        return {"name": function_name(fn), "plain": name if type(name) is str else None,
                "idents": idents}

    def _describe(self, net):
        from ..shape import kind_of

        nodes = list(net.nodes)
        index = {id(n): i for i, n in enumerate(nodes)}
        desc = []
        for n in nodes:
            kind = kind_of(n)
            item = {"name": n.name, "kind": kind, "params": self.enc.encode(dict(n.params), watch=False)}
            if kind == "merge_synch":
                item["num_inputs"] = n.num_inputs
            else:
                item["fn"] = self._fn_idents(n.fn)
            if kind == "split":
                item["num_outputs"] = n.num_outputs
            desc.append(item)
        edges = [[index[id(e.src)], e.src_port, index[id(e.dst)], e.dst_port] for e in net.edges]
        return {"nodes": desc, "edges": edges}

    def op_shape(self, req):
        from ..failure import CheckFailed
        from ..shape import verified

        try:
            v = verified(self._obj(req), req.get("name", "g"), req.get("hint"))
        except CheckFailed as exc:
            return {"failed": str(exc)[:4000]}
        return {"shape": self._describe(v.net)}

    def _observe(self, r, meter=None):
        out = {
            "outputs": {k: self.enc.encode(list.copy(v)[:MESSAGES], watch=False)
                        for k, v in r.outputs.items()},
            "failures": [{"node": f.node.name, "message": self.enc.encode(f.message, watch=False),
                          "text": _text(f)} for f in r.failures],
            "timed_out": bool(r.timed_out), "error": None if r.error is None else str(r.error)[:8000],
            "warnings": [str(w)[:2000] for w in r.warnings[:50]], "stuck": bool(r.stuck),
            "unpaired": self.enc.encode(dict(r.unpaired), watch=False),
            "stats": {k: dict(vars(v)) for k, v in r.stats.items()},
            "state": {k: str(v) for k, v in r.state.items()},
            "edge_counts": dict(r.edge_counts),
            "shape": self._describe(r.net),
        }
        if meter is not None:
            out["peak"] = meter.peak
        return out

    def op_run(self, req):
        from ..failure import CheckFailed
        from ..runs import Meter, run

        meter = None
        wrap = None
        if req.get("meter"):
            meter = Meter()
            wrap = {n: meter.wrap for n in req["meter"]}
        try:
            r = run(self._obj(req), timeout=req.get("run_timeout", 5), inputs=self._in(req.get("inputs")),
                    seed=req.get("seed"), capacity=req.get("capacity"), name=req.get("name", "g"),
                    wrap=wrap, call_sinks=bool(req.get("call_sinks")))
        except CheckFailed as exc:
            return {"failed": str(exc)[:4000]}
        return {"run": self._observe(r, meter)}

    def op_build_run(self, req):
        from ..failure import CheckFailed
        from ..runs import run

        built = self._obj(req)()
        if type(built) is not tuple or len(built) != 2:
            return {"bad_build": wire.safe_repr(built, 80)}
        g, state = built
        try:
            r = run(g, timeout=req.get("run_timeout", 5), seed=req.get("seed"))
        except CheckFailed as exc:
            return {"failed": str(exc)[:4000]}
        return {"run": self._observe(r), "state": self.enc.encode(state, watch=False)}

    def op_explore(self, req):
        from ..every import collect
        from ..failure import CheckFailed

        target = self._obj(req)
        g, build = (None, target) if req.get("build") else (target, None)
        try:
            report = collect(g, build, inputs=self._in(req.get("inputs")),
                             max_steps=req.get("max_steps"),
                             max_schedules=req.get("max_schedules"),
                             timeout=req.get("run_timeout", 5), name=req.get("name", "g"))
        except CheckFailed as exc:
            return {"failed": str(exc)[:4000]}
        return {"report": self.enc.encode(report, watch=False)}

    def op_beside(self, req):
        ns = dict(self.setup_names)
        ns["__builtins__"] = builtins
        before = set(ns)
        exec(compile(req["code"], "<instructor code>", "exec"), ns)
        made = {k: v for k, v in ns.items() if k not in before and not k.startswith("__")}
        return {"value": self.enc.encode(made)}

    def op_exit(self, req):
        os._exit(0)


def main():
    """Entry point of the student's process (see the module docstring)."""
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    reply_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.set_inheritable(reply_fd, False)
    sys.argv = ["grading"]
    sys.path.append(os.getcwd())
    import dissyslab  # noqa: F401  (import the library before any student code)

    from .. import failure, runs, shape  # noqa: F401

    child = Child()
    write = os.write
    buf = b""

    def send(reply):
        try:
            data = wire.dumps(reply)
        except (TypeError, ValueError) as err:
            data = wire.dumps({"error": {"ename": "WireError", "evalue": str(err)[:500],
                                         "traceback": []}})
        if len(data) > wire.MAX_BYTES:
            data = wire.dumps({"error": {"ename": "WireError", "traceback": [], "evalue": (
                f"the answer to the checks is too big ({len(data)} bytes)")}})
        view = memoryview(data)
        while view:
            n = write(reply_fd, view)
            view = view[n:]

    send({"ready": True})
    try:
        while True:
            while b"\n" not in buf:
                chunk = requests.read(1 << 20)
                if not chunk:
                    os._exit(0)
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            req = wire.loads(line)
            reply = child.handle(req)
            try:
                reply["sync"] = child.enc.sync()
            except BaseException:  # noqa: BLE001
                reply["sync"] = []
            send(reply)
    except BaseException:  # noqa: BLE001 (a fault of this process: the grader sees it end)
        traceback.print_exc(file=sys.__stderr__)
    finally:
        os._exit(0)

