"""./lab.sh as a student meets it: one line to read, no instructor tools, Ctrl-C stops it all.

The instructor's JupyterLab (./lab.sh --instructor) has every nbgrader tool.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STUDENT = REPO / "scripts" / "jupyter-student"
#: nbgrader's JupyterLab plugins for instructors and for courses with a server
INSTRUCTOR_ONLY = {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:menu",
                   "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"}
VALIDATE = "@jupyter/nbgrader:validate-assignment"
#: JupyterLab's pop-up asking to fetch Jupyter news: noise for a student
NEWS = "@jupyterlab/apputils-extension:announcements"


def test_the_student_settings_name_plugins_and_extensions_that_exist():
    """A renamed nbgrader plugin would silently show its panel again: the names must be real."""
    disabled = json.loads((STUDENT / "labconfig" / "page_config.json").read_text())
    assert set(disabled["disabledExtensions"]) == INSTRUCTOR_ONLY | {NEWS}
    lab = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
    if not lab.is_dir():
        pytest.skip("nbgrader's JupyterLab extension is not installed here")
    code = " ".join(p.read_text(errors="replace") for p in (lab / "static").glob("*.js"))
    for plugin in INSTRUCTOR_ONLY | {VALIDATE}:
        assert f'"{plugin}"' in code, plugin
    core = Path(sys.prefix) / "share" / "jupyter" / "lab" / "static"
    assert any(f'"{NEWS}"' in p.read_text(errors="replace") for p in core.glob("*.js")), NEWS
    server = json.loads((STUDENT / "jupyter_server_config.json").read_text())
    for module, on in server["ServerApp"]["jpserver_extensions"].items():
        assert on is False
        if module.startswith("nbgrader"):
            __import__(module)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args):
    port = _free_port()
    env = dict(os.environ, DISSYSLAB_NO_SYSTEM_INSTALL="1")
    env.pop("JUPYTER_CONFIG_PATH", None)
    proc = subprocess.Popen(
        [str(REPO / "lab.sh"), *args, "--no-browser", "--port", str(port)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    return proc, port


def _ctrl_c(proc):
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole foreground group
    out, err = proc.communicate(timeout=60)
    return out, err


def _left(port):
    return subprocess.run(["pgrep", "-f", f"jupyter.* --port {port}"], capture_output=True,
                          text=True).stdout.split()


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("pgrep") is None or sys.platform == "win32",
                    reason="needs bash and pgrep")
def test_lab_sh_says_one_line_and_hides_the_instructor_tools():
    if not (REPO / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("no .venv with JupyterLab (./lab.sh makes it)")
    proc, port = _start()
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://\S+", first)
        assert url, (first, proc.stderr.read() if proc.poll() is not None else "")
        assert "01_basics.ipynb" in first and "Ctrl-C" in first, first
        assert f":{port}/lab/tree/01_basics.ipynb?token=" in url.group(0)
        page = urllib.request.urlopen(url.group(0), timeout=60).read().decode()
        disabled = re.search(r'"disabledExtensions": *(\[[^\]]*\])', page)
        assert disabled and set(json.loads(disabled.group(1))) == INSTRUCTOR_ONLY | {NEWS}, page[:500]
        time.sleep(1)  # anything JupyterLab logs after starting goes to .venv/lab.log, not here
    finally:
        out, err = _ctrl_c(proc)
    assert out.strip() == "[lab] JupyterLab stopped.", out
    assert err == "", err
    assert proc.returncode == 0
    assert _left(port) == []
    log = (REPO / ".venv" / "lab.log").read_text()
    assert "formgrader" not in log and "nbgrader_config.py" not in log, log


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("pgrep") is None or sys.platform == "win32",
                    reason="needs bash and pgrep")
def test_lab_sh_instructor_has_every_nbgrader_tool():
    if not (REPO / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("no .venv with JupyterLab (./lab.sh makes it)")
    proc, port = _start("--instructor")
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://\S+", first)
        assert url and "Instructor" in first, first
        page = urllib.request.urlopen(url.group(0), timeout=60).read().decode()
        disabled = re.search(r'"disabledExtensions": *(\[[^\]]*\])', page)
        assert not disabled or not INSTRUCTOR_ONLY & set(json.loads(disabled.group(1)))
    finally:
        _ctrl_c(proc)
    assert _left(port) == []
    log = (REPO / ".venv" / "lab.log").read_text()
    assert "formgrader | extension was successfully loaded" in log, log
    assert "No nbgrader_config.py" not in log, log  # it runs in exercises/, next to the config
