"""Opening a lesson in JupyterLab changes nothing: each is stored exactly as JupyterLab saves it.

JupyterLab marks a notebook as modified when what it loaded differs from what it
would save: an older nbformat (it upgrades 4.4 to 4.5 and gives each cell an id),
other JSON formatting, or metadata it fills in on opening (the kernel's
``language_info``, which it takes from the kernel as soon as one starts). The
server saves with nbformat, so each lesson must be byte for byte what nbformat
writes for it, at the current minor version, with the ``kernelspec`` and
``language_info`` the lessons' kernel (ipykernel) reports.

``language_info.version`` is the version of Python that ran the lesson: a kernel on
another version records its own, and JupyterLab then marks the lesson modified
(harmlessly). The lessons are stored with one version throughout; the browser test
(tests/test_browser.py) opens lessons in JupyterLab and checks they stay unmodified
when this Python is that version.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: and the exercises: the students' versions, and the instructor's sources they are made from
LESSONS += sorted((ROOT / "notebooks" / "exercises").glob("*/*.ipynb"))
LESSONS += sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def as_saved(text: str) -> str:
    """What JupyterLab's server writes for a notebook it read from ``text`` (nbformat.write)."""
    out = nbformat.writes(nbformat.reads(text, as_version=nbformat.NO_CONVERT),
                          version=nbformat.NO_CONVERT)
    return out if out.endswith("\n") else out + "\n"


def kernel_language_info() -> dict:
    ipkernel = pytest.importorskip("ipykernel.ipkernel")
    return dict(ipkernel.IPythonKernel.language_info)


@pytest.mark.parametrize("path", LESSONS, ids=[str(p.relative_to(ROOT)) for p in LESSONS])
def test_a_lesson_is_stored_as_jupyterlab_saves_it(path):
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, nbformat.current_nbformat_minor), (
        f"{path.name}: nbformat {nb.nbformat}.{nb.nbformat_minor}; JupyterLab would upgrade it")
    nbformat.validate(nb)
    assert all(cell.get("id") for cell in nb.cells), f"{path.name}: a cell has no id"
    assert text == as_saved(text), (
        f"{path.name} is not formatted as JupyterLab saves it: rewrite it with nbformat "
        f"(execute it again, or nbformat.write(nbformat.read(...)))")
    assert nb.metadata.kernelspec == KERNELSPEC, path.name
    stored = dict(nb.metadata.language_info)
    expected = kernel_language_info()
    version = stored.pop("version", None)
    expected.pop("version")
    assert stored == expected, f"{path.name}: language_info differs from what the kernel reports"
    assert version, f"{path.name}: language_info has no version"


def test_every_lesson_was_stored_by_the_same_python():
    versions = {nbformat.read(str(p), as_version=4).metadata.language_info.version
                for p in LESSONS}
    assert len(versions) == 1, versions


def test_a_notebook_in_another_form_is_caught(tmp_path):
    """The check above can fail: an older minor version, or other formatting, is seen."""
    text = LESSONS[0].read_text(encoding="utf-8")
    reindented = text.replace('\n "cells": [', '\n  "cells": [', 1)
    assert reindented != text and reindented != as_saved(reindented)
    old = nbformat.reads(text, as_version=4)
    old.nbformat_minor = 4
    for cell in old.cells:
        cell.pop("id", None)
    older = nbformat.writes(old) + "\n"
    assert nbformat.reads(older, as_version=nbformat.NO_CONVERT).nbformat_minor == 4
