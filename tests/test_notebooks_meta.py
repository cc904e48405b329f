"""Checks over the committed lesson notebooks that nbval does not make.

nbval re-runs each lesson and compares its outputs; these tests look at the files
as a reader on GitHub or nbviewer gets them: every lesson has its sections, was
executed top to bottom with its outputs (and live views) stored, shows no error
and no memory address, and never runs a network without a timeout.
"""

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")

#: headings every lesson has (matched case-insensitively at the start of a heading)
SECTIONS = ["What you'll learn", "Try this", "Common mistakes", "Exercise"]


def _load(path):
    return nbformat.read(str(path), as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _headings(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = re.match(r"^(#+)\s+(.*)", line)
                if match:
                    yield len(match.group(1)), match.group(2).strip()


def _python(source):
    """The cell as plain Python (IPython magics turned into calls), parsed."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def _texts(output):
    """Every piece of text a reader can see in one output."""
    if output.output_type == "stream":
        yield output.text
    elif output.output_type in ("execute_result", "display_data"):
        for mime, value in output.get("data", {}).items():
            if isinstance(value, str) and not mime.startswith("image/png"):
                yield value
            elif isinstance(value, dict):
                yield json.dumps(value)
    elif output.output_type == "error":
        yield "\n".join(output.get("traceback", []))


def _where(path, i, cell):
    first = cell.source.strip().splitlines()[0][:60]
    return f"{path.name}, cell {i} ({first!r})"


@pytest.fixture(params=LESSONS, ids=[p.stem for p in LESSONS])
def lesson(request):
    return request.param, _load(request.param)


#: lessons that have no graded exercise: their "Exercise" section says how to practise instead
UNGRADED = {"13"}


def test_there_is_one_lesson_per_module():
    numbers = sorted(p.name[:2] for p in LESSONS)
    assert numbers == [f"{n:02d}" for n in range(1, 17)], (
        f"notebooks/ should hold one lesson per module 01..16, found {numbers}"
    )


def test_title_names_the_module(lesson):
    path, nb = lesson
    titles = [text for level, text in _headings(nb) if level == 1]
    assert titles, f"{path.name} has no title (a '# Module NN: ...' heading)"
    assert titles[0].startswith(f"Module {path.name[:2]}"), (
        f"{path.name}: the title {titles[0]!r} should start with 'Module {path.name[:2]}'"
    )


def test_required_sections(lesson):
    path, nb = lesson
    found = [text.lower().replace("\u2019", "'") for level, text in _headings(nb) if level == 2]
    missing = [s for s in SECTIONS if not any(h.startswith(s.lower()) for h in found)]
    assert not missing, f"{path.name} lacks the section(s) {missing}; its sections are {found}"


def test_exercise_pointer(lesson):
    """The lesson links the student version of its exercise (notebooks/exercises/NN_.../), never the
    instructor's version with the solutions (exercises/source/)."""
    path, nb = lesson
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "exercises/source" not in text, f"{path.name} sends students to the solutions"
    if path.name[:2] in UNGRADED:
        assert "not graded" in text, f"{path.name} should say that its exercise is not graded"
        return
    pointers = set(re.findall(r"\]\(exercises/([0-9]{2}_[A-Za-z0-9_]+)/([A-Za-z0-9_]+\.ipynb)\)", text))
    assert pointers, (f"{path.name} should link its exercise: "
                      f"[...](exercises/{path.name[:2]}_.../{path.name[:2]}_..._exercises.ipynb)")
    for name, notebook in pointers:
        assert name.startswith(path.name[:2]), f"{path.name} points to another module's exercise: {name}"
        assert (NOTEBOOKS / "exercises" / name / notebook).is_file(), (
            f"{path.name} links exercises/{name}/{notebook}, which does not exist")


def test_executed_in_order_with_outputs_stored(lesson):
    path, nb = lesson
    cells = _code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: code cells must be executed once, top to bottom, in a fresh kernel "
        f"(execution counts 1..{len(cells)}), but they are {counts}. Re-execute the notebook."
    )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        tree = _python(cell.source)
        prints = [s for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                  and isinstance(s.value.func, ast.Name) and s.value.func.id == "print"]
        if prints:
            assert any(o.output_type == "stream" and o.name == "stdout" for o in cell.outputs), (
                f"{_where(path, i, cell)} prints, but no printed output is stored"
            )
        last = tree.body[-1] if tree.body else None
        shows = isinstance(last, ast.Expr) and not cell.source.rstrip().endswith(";") and (
            not isinstance(last.value, ast.Call)
            or (isinstance(last.value.func, ast.Attribute) and last.value.func.attr == "diagram")
        )
        if shows:
            assert any(o.output_type in ("execute_result", "display_data") for o in cell.outputs), (
                f"{_where(path, i, cell)} ends with an expression, but its result is not stored"
            )


def test_no_error_outputs(lesson):
    path, nb = lesson
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", (
                f"{_where(path, i, cell)} stored an error: {output.ename}: {output.evalue}. "
                f"Lessons catch the errors they show and print them."
            )


def test_no_memory_address_in_any_output(lesson):
    path, nb = lesson
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in _texts(output):
                match = ADDRESS.search(text)
                assert not match, (
                    f"{_where(path, i, cell)} shows a memory address ({match.group(0)!r}): it "
                    f"changes on every run and means nothing to a student"
                )
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    match = ADDRESS.search(json.dumps(state))
    assert not match, f"{path.name}: the stored live view shows a memory address ({match.group(0)!r})"


def test_a_diagram_is_stored(lesson):
    path, nb = lesson
    svgs = [o for c in nb.cells for o in c.get("outputs", [])
            if "image/svg+xml" in o.get("data", {})]
    assert svgs, f"{path.name} shows no diagram: end a cell with the network to draw it"


def test_live_views_have_their_widget_state(lesson):
    """A live view is only visible to a reader if the notebook stores its widgets' state."""
    path, nb = lesson
    views = [(i, c, o.data[WIDGET_VIEW]["model_id"]) for i, c in enumerate(nb.cells)
             for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert views, f"{path.name} has no live run stored: run a network with the live view on"
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for i, cell, model in views:
        assert model in state, (
            f"{_where(path, i, cell)} shows a live view whose widget state is not stored; "
            f"execute with --ExecutePreprocessor.store_widget_state=True"
        )
        assert all(ref.replace("IPY_MODEL_", "") in state
                   for ref in _model_refs(state[model]["state"])), (
            f"{_where(path, i, cell)}: part of the live view's widgets is not stored"
        )


def test_live_views_store_a_static_copy_of_their_final_state(lesson):
    """Renderers without widgets (GitHub, nbviewer offline, an HTML export) show the live
    view's final state from the text/html stored next to the widget."""
    path, nb = lesson
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            static = data.get("text/html")
            assert static, (f"{_where(path, i, cell)}: the live view stores no static copy "
                            f"(text/html); execute the lesson again")
            assert "<svg" in static and 'class="dsl-panel"' in static, (
                f"{_where(path, i, cell)}: the live view's static copy has no diagram or panels")
            assert 'data-outcome="running"' not in static, (
                f"{_where(path, i, cell)}: the live view's static copy shows the run unfinished")
            model = state.get(data[WIDGET_VIEW]["model_id"], {})
            assert static == model.get("state", {}).get("value"), (
                f"{_where(path, i, cell)}: the live view's static copy is not its final state "
                f"(the widget's last value)")


def _model_refs(value):
    if isinstance(value, str):
        return [value] if value.startswith("IPY_MODEL_") else []
    if isinstance(value, list):
        return [r for v in value for r in _model_refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _model_refs(v)]
    return []


def test_every_run_has_a_timeout(lesson):
    path, nb = lesson
    for cell in _code_cells(nb):
        for node in ast.walk(_python(cell.source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run_network"):
                assert any(k.arg == "timeout" for k in node.keywords), (
                    f"{path.name}: a run_network call has no timeout=, so a mistake could hang "
                    f"the notebook: {ast.unparse(node)}"
                )


def test_ignore_output_marker_is_the_first_line(lesson):
    """`# NBVAL_IGNORE_OUTPUT` is for volatile cells, and sits on the first line where readers see it."""
    path, nb = lesson
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        lines = [line.strip() for line in cell.source.splitlines()]
        if "# NBVAL_IGNORE_OUTPUT" in lines:
            assert lines[0] == "# NBVAL_IGNORE_OUTPUT", (
                f"{_where(path, i, cell)}: put # NBVAL_IGNORE_OUTPUT on the first line"
            )


def test_readme_lists_every_lesson():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for path in LESSONS:
        assert f"({path.name})" in readme, f"notebooks/README.md does not link to {path.name}"
