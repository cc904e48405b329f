"""``python -m dissyslab doctor``: each check, its advice, and the exit code."""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dissyslab import doctor

REPO = str(Path(__file__).resolve().parent.parent)


def run_cli(*args, path=None):
    env = {**os.environ, "PYTHONPATH": REPO}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "dissyslab", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def by_name(results):
    return {r.name: r for r in results}


def test_every_check_is_reported_with_a_mark():
    out = io.StringIO()
    results = doctor.run_checks()
    doctor.report(results, out)
    text = out.getvalue()
    for name in ("Python", "Graphviz `dot` program", "graphviz Python package",
                 "drawing a diagram", "ipywidgets", "JupyterLab", "JupyterLab widget support"):
        assert name in text
    assert len(results) == 7


def test_cli_exit_code_matches_the_report():
    done = run_cli("doctor")
    results = doctor.run_checks()
    if all(r.ok for r in results):
        assert done.returncode == 0, done.stdout
        assert "All good" in done.stdout
    else:
        assert done.returncode == 1, done.stdout
        assert "to fix" in done.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_with_everything_installed_the_doctor_is_happy():
    pytest.importorskip("graphviz")
    pytest.importorskip("ipywidgets")
    pytest.importorskip("jupyterlab_widgets")
    if doctor._labextension("@jupyter-widgets", "jupyterlab-manager") is None:
        pytest.skip("the widget extension is not installed here")
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All good" in done.stdout and "\u2717" not in done.stdout


def test_without_dot_the_doctor_says_how_to_install_it(tmp_path):
    done = run_cli("doctor", path=str(tmp_path))
    assert done.returncode == 1
    out = done.stdout
    assert "not found on PATH" in out
    for command in ("sudo apt-get install graphviz", "brew install graphviz",
                    "conda install -c conda-forge graphviz python-graphviz"):
        assert command in out
    assert "skipped" in out  # drawing is not tried, and not counted as a second problem
    assert "1 thing to fix" in out or "things to fix" in out


def test_dot_missing_in_process(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    results = by_name(doctor.run_checks())
    assert results["Graphviz `dot` program"].ok is False
    assert results["drawing a diagram"].ok is None
    assert doctor.main() == 1


def test_missing_graphviz_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    check = doctor.check_graphviz_package()
    assert check.ok is False
    assert any("install graphviz" in line for line in check.fix)
    assert doctor.check_drawing().ok is None


def test_missing_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    check = doctor.check_ipywidgets()
    assert check.ok is False and check.detail == "not installed"
    assert any("install ipywidgets" in line for line in check.fix)
    assert any(sys.executable in line for line in check.fix)  # pip of this very Python


def test_missing_jupyterlab(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyterlab", None)
    check = doctor.check_jupyterlab()
    assert check.ok is False
    assert any("install jupyterlab" in line for line in check.fix)


def test_missing_widget_support(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyterlab_widgets", None)
    check = doctor.check_widget_support()
    assert check.ok is False and "jupyterlab_widgets is not installed" in check.detail
    assert any("install jupyterlab_widgets" in line for line in check.fix)


def test_widget_package_without_its_extension(monkeypatch):
    pytest.importorskip("jupyterlab_widgets")
    monkeypatch.setattr(doctor, "_labextension", lambda scope, name: None)
    check = doctor.check_widget_support()
    assert check.ok is False
    assert "@jupyter-widgets/jupyterlab-manager" in check.detail
    assert any("--force-reinstall jupyterlab_widgets" in line for line in check.fix)


def test_a_check_that_breaks_is_reported_not_raised(monkeypatch, capsys):
    def check_broken():
        raise OSError("disk on fire")

    monkeypatch.setattr(doctor, "CHECKS", (doctor.check_python, check_broken))
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "broken" in out and "could not be checked (OSError: disk on fire)" in out


def test_all_good_means_exit_code_zero(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "CHECKS", (doctor.check_python,))
    assert doctor.main() == 0
    assert "All good" in capsys.readouterr().out


def test_plain_ascii_terminals_get_ascii_marks():
    class Ascii(io.StringIO):
        encoding = "ascii"

    out = Ascii()
    doctor.report([doctor.Check("thing", True, "fine"), doctor.Check("other", False, "gone", ["fix"])], out)
    assert "[ok] thing" in out.getvalue() and "[!!] other" in out.getvalue()


def test_cli_without_a_command_prints_help():
    done = run_cli()
    assert done.returncode == 0
    assert "doctor" in done.stdout
    assert run_cli("nonsense").returncode == 2
