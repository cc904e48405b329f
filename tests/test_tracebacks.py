"""What a student sees when something goes wrong: their own code and the message, not ours.

A node's failure (NetworkError), a timeout (NetworkTimeout), a failed check
(CheckFailed) and a mistake found by network(), a node class or ListSource
are shown by Jupyter through their ``_render_traceback_``, which leaves out
DisSysLab's own frames (errors.student_traceback, errors.shown_to_students). Tested in a real
kernel (nbclient), as a student meets them, and in the grader's student process.
"""

import re

import pytest

from dissyslab import ListSource, NetworkError, Sink, Source, Transform, network
from dissyslab.errors import PACKAGE_DIR, student_traceback

ANSI = re.compile(r"\x1b\[[0-9;]*m")

SETUP = '''\
from dissyslab import network, Source, Transform, Sink, ListSource, check
import time

def picky(word):
    if word == "b":
        raise ValueError("no b please")
    return word

def make():
    out = []
    s = Source(fn=ListSource(items=["a", "b"]).run, name="s")
    t = Transform(fn=picky, name="picky")
    return network([(s, t), (t, Sink(fn=out.append, name="k"))])

def forever():
    time.sleep(0.01)
    return 1
'''

CELLS = {
    "node error": "make().run_network(timeout=5, live=False)",
    "timeout": ("g = network([(Source(fn=forever, name='endless'), Sink(fn=print, name='k'))])\n"
                "g.run_network(timeout=0.5, live=False)"),
    "failed check": "check.outputs(make(), {'k': ['A']}, timeout=5)",
    # mistakes found before a run keep their type (ValueError, TypeError) and lose our frames
    "edge typo": ("t1, t2 = Transform(fn=str.upper, name='t1'), Transform(fn=str.lower, name='t2')\n"
                  "network([(Source(fn=ListSource(items=['a']).run, name='s'), t1), "
                  "(t2, Sink(fn=print, name='k'))])"),
    "bad node": "Transform(fn='hello', name='x')",
}


def _failing_run():
    out = []
    s = Source(fn=ListSource(items=["a", "b"]).run, name="s")
    t = Transform(fn=_picky, name="picky")
    g = network([(s, t), (t, Sink(fn=out.append, name="k"))])
    with pytest.raises(NetworkError) as info:
        g.run_network(timeout=5, live=False)
    return info.value


def _picky(word):
    if word == "b":
        raise ValueError("no b please")
    return word


def test_student_traceback_leaves_out_our_frames_and_keeps_the_error_whole():
    err = _failing_run()
    before = err.__traceback__
    text = "".join(student_traceback(err))
    assert PACKAGE_DIR not in text, text
    assert 'raise ValueError("no b please")' in text          # the student's line, in the cause
    assert "test_tracebacks.py" in text and "NetworkError: 1 node failed" in text
    # the exception itself is unchanged: its own traceback still has every frame
    assert err.__traceback__ is before
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert any(f.startswith(PACKAGE_DIR) for f in frames)


@pytest.mark.timeout(120)
def test_a_kernel_shows_the_students_code_and_the_message_only():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [SETUP] + list(CELLS.values())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    assert not [o for o in nb.cells[0].outputs if o.output_type == "error"]
    for what, cell in zip(CELLS, nb.cells[1:], strict=True):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert len(errors) == 1, (what, cell.outputs)
        shown = ANSI.sub("", "\n".join(errors[0].traceback))
        assert "dissyslab" + "/" not in shown and PACKAGE_DIR not in shown, (what, shown)
        assert "skipping hidden" not in shown and "raise err" not in shown, (what, shown)
        assert "Cell In[" in shown, (what, shown)       # the student's own line is there
    node_error = ANSI.sub("", "\n".join(nb.cells[1].outputs[-1].traceback))
    assert 'raise ValueError("no b please")' in node_error   # where their function failed
    assert "NetworkError: 1 node failed" in node_error
    assert "NetworkTimeout: The network did not finish" in ANSI.sub(
        "", "\n".join(nb.cells[2].outputs[-1].traceback))
    assert "CheckFailed: A node of your network failed" in ANSI.sub(
        "", "\n".join(nb.cells[3].outputs[-1].traceback))
    assert [c.outputs[-1].ename for c in nb.cells[4:]] == ["ValueError", "TypeError"]


@pytest.mark.timeout(120)
def test_grading_shows_the_students_frames_only(tmp_path):
    from dissyslab.check.grading.grader import grade_notebook

    def cell(source, **meta):
        return {"cell_type": "code", "source": source, "outputs": [], "execution_count": None,
                "metadata": {"nbgrader": {"grade_id": meta.pop("id"), **meta}}}

    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        cell(SETUP + "\n" + CELLS["node error"], id="answer", solution=True, grade=False,
             locked=False),
        cell("assert True", id="test", grade=True, solution=False, locked=True, points=1),
    ]}
    result = grade_notebook(nb, workdir=tmp_path)
    error = result.cells[0].error
    assert error is not None and error["ename"] == "NetworkError", result.cells[0]
    shown = "".join(error["traceback"])
    assert not re.search(r'File "[^"]*dissyslab[/\\]', shown), shown   # wherever it is installed
    assert 'File "<cell 0>", line 6, in picky' in shown, shown   # where their function failed


def test_warnings_still_point_at_the_students_line():
    """Hiding our frames from tracebacks must not move where a warning says it came from."""
    import warnings

    from dissyslab import DroppedEverythingWarning, DuplicateEdgeWarning

    s, k = Source(fn=ListSource(items=list(range(20))).run, name="s"), Sink(fn=print, name="k")
    drop = Transform(fn=lambda x: None, name="drop")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network([(s, k), (s, k)])
        network([(s, drop), (drop, k)]).run_network(timeout=5, live=False)
    kinds = {w.category: w.filename for w in caught}
    assert kinds[DuplicateEdgeWarning] == __file__
    assert kinds[DroppedEverythingWarning] == __file__


ENDLESS = '''\
from dissyslab import network, Source, Transform, Sink, ListSource
spin = Transform(fn=lambda x: x, name="spin")
g = network([(Source(fn=ListSource([1, 2]).run, name="two"), spin), (spin, spin),
             (spin, Sink(fn=lambda m: None, name="k"))])
'''


@pytest.mark.parametrize("seed", [None, 2])
def test_ctrl_c_names_the_loop_still_going_round(seed):
    """As a timeout does: the student learns why the run had not ended by itself."""
    import _thread
    import threading

    spin = Transform(fn=lambda x: x, name="spin")
    g = network([(Source(fn=ListSource([1, 2]).run, name="two"), spin), (spin, spin),
                 (spin, Sink(fn=lambda m: None, name="k"))])
    press = threading.Timer(0.5, _thread.interrupt_main)   # what Ctrl-C (or Jupyter's stop) does
    press.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            g.run_network(seed=seed, live=False)
    finally:
        press.cancel()
    text = str(info.value)
    assert text.startswith("The network was interrupted and stopped."), text
    assert "The loop spin → spin still had 2 messages going round" in text, text


def _kernel_error(km_client, code, interrupt_after=None, km=None):
    """Run ``code`` in a kernel (pressing its stop button after ``interrupt_after`` s): its error output."""
    import time

    msg_id = km_client.execute(code)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        km.interrupt_kernel()
    error = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msg = km_client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            error = msg["content"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return error
    raise AssertionError(f"the kernel did not finish running {code!r}")


@pytest.mark.timeout(180)
def test_ctrl_c_and_bad_arguments_show_no_dissyslab_frames_in_a_kernel():
    """A stopped run and run_network(timeout=-1) show the student's line and the message only."""
    jupyter_client = pytest.importorskip("jupyter_client")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        assert _kernel_error(kc, ENDLESS) is None
        shown = {}
        shown["Ctrl-C"] = _kernel_error(kc, "g.run_network(live=False)", interrupt_after=3, km=km)
        shown["timeout=-1"] = _kernel_error(kc, "g.run_network(timeout=-1, live=False)")
        shown["capacity=0"] = _kernel_error(kc, "g.run_network(capacity=0, live=False)")
        shown["engine"] = _kernel_error(kc, "g.run_network(engine='processes', live=False)")
        shown["place"] = _kernel_error(kc, "g.run_network(place={'spin': 'here'}, live=False)")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    for what, error in shown.items():
        assert error is not None, what
        text = ANSI.sub("", "\n".join(error["traceback"]))
        assert "dissyslab" + "/" not in text and PACKAGE_DIR not in text, (what, text)
        assert "Cell In[" in text and "g.run_network(" in text, (what, text)   # their own line
        assert "skipping hidden" not in text, (what, text)
    assert shown["Ctrl-C"]["ename"] == "KeyboardInterrupt"
    ctrl_c = ANSI.sub("", "\n".join(shown["Ctrl-C"]["traceback"]))
    assert "The network was interrupted and stopped." in ctrl_c, ctrl_c
    assert "The loop spin → spin still had 2 messages going round" in ctrl_c, ctrl_c
    assert {shown[w]["ename"] for w in ("timeout=-1", "capacity=0", "engine", "place")} == {
        "ValueError"}
    assert "timeout must be a positive number of seconds" in shown["timeout=-1"]["evalue"]
