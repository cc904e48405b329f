"""The package's import structure: no cycles, type hints included; no Jupyter code on import."""

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "dissyslab"

#: what ``import dissyslab`` must not load: the views import these only when used
#: (the same list as benchmarks/import_time.py)
FORBIDDEN = ("IPython", "ipykernel", "ipywidgets", "jupyter", "jupyter_client", "jupyter_core",
             "jupyterlab", "graphviz", "notebook", "nbformat", "traitlets", "comm", "ray")


def _modules():
    """{module name: path} for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _walk(tree):
    """Every node of ``tree``: functions' bodies too, and what only a type checker reads
    (``if TYPE_CHECKING:`` blocks): an import circle through type hints is a circle too."""
    return ast.walk(tree)


def _imports(name, path, modules):
    """The package's modules that ``name`` imports, anywhere in it (also inside functions)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    wanted = set()
    for node in _walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from . import x` and `from .pkg import mod` may name modules themselves
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # importing a.b.c runs a, a.b and a.b.c
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name:
                    wanted.add(prefix)
    return wanted


def _cycle(graph):
    """One import cycle as a list of module names (first == last), or None."""
    colour = dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        colour[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def _package_graph():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # a package's __init__ runs before any module inside it, so a module's import of
    # its own package (``from . import x``, or ``from .errors`` in a subpackage) only
    # counts for cycles when it reaches back into modules that are not yet loaded:
    # leave out the edges from a module to the packages that contain it
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    return graph


def test_the_package_has_modules_and_sees_their_imports():
    graph = _package_graph()
    assert {"dissyslab", "dissyslab.build", "dissyslab.nodes", "dissyslab.check.runs"} <= set(graph)
    assert {"dissyslab.model", "dissyslab.nodes", "dissyslab.loops"} <= graph["dissyslab.build"]


#: the model: what a network is, built and checked, with no thread, queue or drawing in it
MODEL = {"dissyslab.nodes", "dissyslab.build", "dissyslab.model", "dissyslab.loops", "dissyslab.errors"}


def test_the_model_stands_on_its_own():
    # the model is below the runtime and the views: building a network loads none of them
    graph = _package_graph()
    for name in ("dissyslab.nodes", "dissyslab.loops", "dissyslab.build", "dissyslab.errors"):
        assert graph[name] <= MODEL, f"{name} imports {sorted(graph[name] - MODEL)}"
    # a Network's doors (run_network, diagram, trace...) load their modules only when opened
    tree = ast.parse(_modules()["dissyslab.model"].read_text())
    loaded = {f"dissyslab.{s.module}" for s in tree.body
              if isinstance(s, ast.ImportFrom) and s.level == 1 and s.module}
    assert loaded <= MODEL, f"dissyslab.model loads {sorted(loaded - MODEL)} when imported"


def test_no_import_cycle_among_the_package_modules():
    cycle = _cycle(_package_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_import_dissyslab_loads_no_jupyter_or_graphviz_module():
    # tests/test_live.py and tests/test_diagram.py check this after running a network too,
    # but are skipped without ipywidgets or graphviz; this one runs everywhere
    code = ("import sys\nbefore = set(sys.modules)\nimport dissyslab\n"
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in %r))" % (FORBIDDEN,))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"import dissyslab loaded {done.stdout.strip()}"


def _run(code):
    """Run ``code`` in a fresh interpreter; return what it printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


#: standard modules that take milliseconds to load, and the package's own modules that only
#: running, drawing or checking need: ``import dissyslab`` leaves them all for later
#: (benchmarks/import_time.py measures the time)
LATER = ("dataclasses", "inspect", "typing", "traceback", "shutil", "html", "threading",
         "dissyslab.diagram", "dissyslab.threads", "dissyslab.seeded", "dissyslab.running",
         "dissyslab.semantics", "dissyslab.channels", "dissyslab.trace", "dissyslab.live",
         "dissyslab.snapshots", "dissyslab.check")


def test_import_dissyslab_leaves_slow_and_unneeded_modules_for_later():
    code = ("import sys\nbefore = set(sys.modules)\nimport dissyslab\n"
            "print(sorted(m for m in set(sys.modules) - before if m in %r))" % (LATER,))
    assert _run(code) == "[]", f"import dissyslab loaded {_run(code)}"


def test_legend_and_snapshots_are_loaded_at_their_first_use_and_found_as_before():
    code = "\n".join([
        "import sys, dissyslab",
        "assert 'dissyslab.diagram' not in sys.modules",
        "assert 'dissyslab.snapshots' not in sys.modules",
        "for name in ('legend', 'Snapshot', 'SnapshotWarning'):",
        "    assert name in dissyslab.__all__ and name in dir(dissyslab)",
        "from dissyslab import legend",
        "from dissyslab import diagram",
        "assert legend is diagram.legend is dissyslab.legend",
        "from dissyslab import Snapshot",
        "from dissyslab.snapshots import Snapshot as S, SnapshotWarning as W",
        "assert Snapshot is S and dissyslab.SnapshotWarning is W",
        "import importlib",
        "assert dissyslab.timeline is importlib.import_module('dissyslab.timeline')",
        "try:",
        "    dissyslab.legends",
        "except AttributeError as err:",
        "    print(err)",
    ])
    assert _run(code) == "module 'dissyslab' has no attribute 'legends'"


def test_a_star_import_still_gives_every_public_name():
    code = ("from dissyslab import *\n"
            "print(legend.__name__, network.__name__, Edge.__name__, Snapshot.__name__)")
    assert _run(code) == "legend network Edge Snapshot"


#: the checks that test cells call; the grading machinery (dissyslab.check.grading) is below them
CHECK_API = ("dissyslab.check", "dissyslab.check.failure", "dissyslab.check.shape",
             "dissyslab.check.runs", "dissyslab.check.elsewhere")


def test_the_checks_never_import_the_grading_machinery():
    # the checks meet grading through dissyslab.check.elsewhere alone, which imports nothing of it
    graph = _package_graph()
    assert set(CHECK_API) <= set(graph)
    for name in CHECK_API:
        reached = {m for m in graph[name] if m.startswith("dissyslab.check.grading")}
        assert not reached, f"{name} imports {sorted(reached)}"
    code = ("import sys\nimport dissyslab.check\n"
            "print(sorted(m for m in sys.modules if m.startswith('dissyslab.check.grading')"
            " or m.split('.')[0] == 'nbgrader'))")
    assert _run(code) == "[]"


def test_the_checks_do_not_test_for_the_grading_classes():
    # no check branches on Remote/RemoteFn/Connection: it asks elsewhere(value) instead
    for name in CHECK_API:
        source = _modules()[name].read_text()
        for word in ("Remote", "RemoteFn", "Connection", "_conn"):
            assert word not in source, f"{name} mentions {word}"


def test_instructors_configurations_still_find_the_nbgrader_steps_by_their_old_name():
    code = ("import dissyslab.check.nbgrader_plugin as old\n"
            "import dissyslab.check.grading.nbgrader_plugin as new\n"
            "print(all(getattr(old, n) is getattr(new, n) for n in new.__all__),"
            " sorted(set(new.__all__) - set(old.__all__)))")
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        import pytest

        pytest.skip("nbgrader is not installed")
    assert _run(code) == "True []"


def test_the_protocols_for_type_hints_are_never_imported_by_a_run():
    # shapes.py names a network and a run for type hints only (under TYPE_CHECKING)
    code = ("import sys\nfrom dissyslab import network, Source, Sink, ListSource\n"
            "out = []\n"
            "g = network([(Source(fn=ListSource([1, 2]).run, name='s'), Sink(fn=out.append, name='k'))])\n"
            "g.run_network(timeout=10, live=False, trace=True)\n"
            "g.run_network(timeout=10, live=False, seed=1)\n"
            "assert out == [1, 2, 1, 2], out\n"
            "print('dissyslab.shapes' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
