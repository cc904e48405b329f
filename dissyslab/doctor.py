"""``python -m dissyslab doctor``: check what the lessons need and say how to fix what is missing.

Each check returns a :class:`Check`; none of them raises, so the report is
always printed in full. Exit code 0 when everything is in place, 1 otherwise.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

DOT_FIX = [
    "Without it every diagram is shown as text. Install Graphviz with one of:",
    "  Debian/Ubuntu:  sudo apt-get install graphviz",
    "  macOS:          brew install graphviz",
    "  conda:          conda install -c conda-forge graphviz python-graphviz",
    "then open a new terminal (or restart the kernel) so `dot` is found on PATH.",
]


@dataclass
class Check:
    """One line of the report: what was checked, whether it is fine, and what to do if not.

    ``ok`` is None when the check was skipped because an earlier one failed.
    """

    name: str
    ok: object
    detail: str
    fix: list = field(default_factory=list)


def check_python():
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 10):
        return Check("Python", True, f"{version} ({sys.executable})")
    return Check("Python", False, f"{version} is too old",
                 ["DisSysLab needs Python 3.10 or newer: install it and make a new environment."])


def check_dot():
    path = shutil.which("dot")
    if path is None:
        return Check("Graphviz `dot` program", False, "not found on PATH", list(DOT_FIX))
    try:
        done = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("Graphviz `dot` program", False, f"found at {path} but it does not run ({exc})",
                     ["Reinstall Graphviz:"] + DOT_FIX[1:4])
    version = (done.stderr or done.stdout).strip().splitlines()
    return Check("Graphviz `dot` program", True, f"{version[0] if version else 'dot'} ({path})")


def check_graphviz_package():
    version = _version("graphviz")
    if version is None:
        return Check("graphviz Python package", False, "not installed", [
            "Diagrams need it to talk to `dot`. Install it with:",
            f"  {_pip()} install graphviz",
            "  (conda: conda install -c conda-forge python-graphviz)",
        ])
    return Check("graphviz Python package", True, version)


def check_drawing():
    """Draw a tiny network end to end, the way a lesson does."""
    from . import diagram
    from .build import network
    from .nodes import Sink, Source

    if not (diagram.dot_available() and diagram.graphviz_package_available()):
        return Check("drawing a diagram", None,
                     "skipped: needs the `dot` program and the graphviz package")
    try:
        net = network([(Source(fn=lambda: None, name="doctor_source"),
                        Sink(fn=print, name="doctor_sink"))])
        picture = diagram.svg(diagram.build(net))
    except Exception as exc:  # report, never crash the doctor
        return Check("drawing a diagram", False, f"failed: {type(exc).__name__}: {exc}",
                     ["Reinstall Graphviz (it may be broken):"] + DOT_FIX[1:4])
    if "doctor_sink" not in picture:
        return Check("drawing a diagram", False, "dot answered, but not with the expected picture",
                     ["Reinstall Graphviz:"] + DOT_FIX[1:4])
    return Check("drawing a diagram", True, "a test network drew as SVG")


def check_ipywidgets():
    version = _version("ipywidgets")
    if version is None:
        return Check("ipywidgets", False, "not installed", [
            "The live view (results appearing while a network runs) needs it:",
            f"  {_pip()} install ipywidgets",
        ])
    if not version.startswith(("8.", "9.")):
        return Check("ipywidgets", False, f"{version} is old", [
            "Use ipywidgets 8 or newer with JupyterLab 4:",
            f"  {_pip()} install --upgrade ipywidgets",
        ])
    return Check("ipywidgets", True, version)


def check_jupyterlab():
    version = _version("jupyterlab", load=False)  # importing it is slow; being there is enough
    if version is None:
        return Check("JupyterLab", False, "not installed", [
            "The lessons open in JupyterLab:",
            f"  {_pip()} install jupyterlab",
        ])
    return Check("JupyterLab", True, version)


def check_widget_support():
    """JupyterLab shows widgets only with the jupyterlab_widgets extension installed."""
    version = _version("jupyterlab_widgets")
    fix = [
        "Without it JupyterLab shows the live view as plain text. Install it with:",
        f"  {_pip()} install jupyterlab_widgets",
        "then restart JupyterLab and reload the browser tab.",
    ]
    if version is None:
        return Check("JupyterLab widget support", False, "jupyterlab_widgets is not installed", fix)
    where = _labextension("@jupyter-widgets", "jupyterlab-manager")
    if where is None:
        return Check("JupyterLab widget support", False,
                     f"jupyterlab_widgets {version} is installed, but JupyterLab cannot find "
                     "its extension (@jupyter-widgets/jupyterlab-manager)",
                     ["Reinstall it into the Python that runs JupyterLab:",
                      f"  {_pip()} install --force-reinstall jupyterlab_widgets"])
    return Check("JupyterLab widget support", True,
                 f"jupyterlab_widgets {version}, extension @jupyter-widgets/jupyterlab-manager")


CHECKS = (check_python, check_dot, check_graphviz_package, check_drawing,
          check_ipywidgets, check_jupyterlab, check_widget_support)


def run_checks():
    """Every check, in order; a check that itself goes wrong is reported as a failed check."""
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as exc:
            name = check.__name__.replace("check_", "").replace("_", " ")
            results.append(Check(name, False, f"could not be checked ({type(exc).__name__}: {exc})"))
    return results


def report(results, stream=None):
    """Print the results for a person to read."""
    stream = stream or sys.stdout
    good, bad, skipped = _marks(stream)
    width = max(len(r.name) for r in results)
    print("DisSysLab doctor: checking what the lessons need", file=stream)
    print(file=stream)
    for r in results:
        mark = good if r.ok else skipped if r.ok is None else bad
        print(f"  {mark} {r.name:<{width}}  {r.detail}", file=stream)
        for line in r.fix:
            print(f"      {line}", file=stream)
    print(file=stream)
    missing = [r for r in results if r.ok is False]
    if not missing:
        print("All good: diagrams, live views and the lessons will work.", file=stream)
    else:
        print(f"{len(missing)} thing{'s' if len(missing) != 1 else ''} to fix (see above); "
              "the lessons still run, with text in place of what is missing.", file=stream)


def main(argv=None):
    """Run the checks, print the report, return the exit code (0: all good, 1: something missing)."""
    results = run_checks()
    report(results)
    return 0 if all(r.ok for r in results) else 1  # a skipped check means something failed


def _version(module, load=True):
    """The installed version of a package, or None if it is missing (or, with ``load``, broken)."""
    try:
        if load:
            imported = importlib.import_module(module)
        elif importlib.util.find_spec(module) is None:
            return None
        else:
            imported = None
    except Exception:
        return None
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return getattr(imported, "__version__", "installed")


def _labextension(scope, name):
    """The folder of a prebuilt JupyterLab extension, or None."""
    try:
        from jupyter_core.paths import jupyter_path
    except Exception:
        return None
    for base in jupyter_path("labextensions"):
        folder = os.path.join(base, scope, name)
        if os.path.isfile(os.path.join(folder, "package.json")):
            return folder
    return None


def _pip():
    """pip of the very Python that runs the lessons, so the fix lands in the right place."""
    exe = sys.executable or "python"
    return f'"{exe}" -m pip' if " " in exe else f"{exe} -m pip"


def _marks(stream):
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "\u2713\u2717".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "[ok]", "[!!]", "[--]"
    return "\u2713", "\u2717", "-"
