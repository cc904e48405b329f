"""Files beside a submitted notebook: only regular files, inside the student's own folder, bounded.

A student hands in a folder. nbgrader copies it (following symbolic links) into
``autograded/`` before any of our code runs, and grading copies it into the box,
so a link beside the notebook could bring in ``gradebook.db``, another student's
notebook, ``/etc/shadow``, or hang on ``/dev/stdin``. Two steps keep that out:

* :func:`vet_submissions` runs before ``nbgrader autograde`` grades its first
  submission (``nbgrader_plugin.GradingExporter``): in each submission folder,
  anything that is not a regular file or folder (a symbolic link, a FIFO, a
  device, a socket), and regular files past the size and count limits, are moved
  (never followed or read) to ``refused/<student>/<assignment>/`` in the course,
  and listed in ``refused/<student>/<assignment>/refused.json``. A notebook that
  is a link is replaced by an empty notebook (its tasks get 0). Grading says so
  in the log and in that student's feedback.
* :func:`copy_data_files` is how grading copies a folder into the box: regular
  files only, never following a link, with the same limits.
"""

import json
import os
import stat
from pathlib import Path

#: most bytes of one file beside the notebook, of all of them, and most entries
MAX_FILE_BYTES = 20_000_000
MAX_TOTAL_BYTES = 100_000_000
MAX_ENTRIES = 500
#: where refused entries go, in the course folder
REFUSED = "refused"
NOTE = "refused.json"

EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def problems(folder, ignore=("__pycache__", ".ipynb_checkpoints")):
    """[(path relative to ``folder``, why)] of what may not be used from ``folder``.

    Nothing is followed or opened: only ``lstat``. Folders are looked into (not
    links to folders), and regular files count against the limits in the order
    they are found.
    """
    folder = Path(folder)
    found, total, entries = [], 0, 0
    todo = [folder]
    while todo:
        here = todo.pop()
        try:
            names = sorted(os.listdir(here))
        except OSError as err:
            found.append((str(here.relative_to(folder)), f"cannot be read ({err.strerror})"))
            continue
        for name in names:
            path = here / name
            rel = str(path.relative_to(folder))
            try:
                mode = os.lstat(path).st_mode
                size = os.lstat(path).st_size
            except OSError:
                continue
            entries += 1
            if stat.S_ISDIR(mode):
                if name not in ignore:
                    todo.append(path)
                continue
            if not stat.S_ISREG(mode):
                found.append((rel, _kind(mode)))
            elif entries > MAX_ENTRIES:
                found.append((rel, f"more than {MAX_ENTRIES} files"))
            elif size > MAX_FILE_BYTES and not name.endswith(".ipynb"):
                found.append((rel, f"{size:,} bytes (at most {MAX_FILE_BYTES:,} per file)"))
            elif total + size > MAX_TOTAL_BYTES and not name.endswith(".ipynb"):
                found.append((rel, f"past {MAX_TOTAL_BYTES:,} bytes in all"))
            else:
                total += size
    return found


def vet_submission(folder, refused_dir, log=None, blank=None):
    """Move what may not be used out of one submission ``folder``; return [(path, why)].

    A link in place of the folder itself is moved away whole; a notebook that is
    not a regular file is replaced by ``blank`` (a folder holding the released
    notebooks: the student version of that notebook, so its tasks get 0), or by
    an empty notebook. The list is kept (and
    added to) in ``refused_dir/refused.json``.
    """
    folder, refused_dir = Path(folder), Path(refused_dir)
    if os.path.islink(folder) or not folder.is_dir():
        found = [(".", "the submission folder is a symbolic link")] if os.path.islink(folder) else []
        if found:
            _move(folder, refused_dir / "submission-folder-link")
    else:
        found = problems(folder)
        for rel, _why in found:
            path = folder / rel
            _move(path, refused_dir / rel)
            if rel.endswith(".ipynb"):
                released = Path(blank) / path.name if blank is not None else None
                if released is not None and released.is_file() and not released.is_symlink():
                    path.write_bytes(released.read_bytes())
                else:
                    path.write_text(json.dumps(EMPTY_NOTEBOOK), encoding="utf-8")
    if found:
        note = refused_dir / NOTE
        earlier = refused(refused_dir)
        refused_dir.mkdir(parents=True, exist_ok=True)
        note.write_text(json.dumps(earlier + [list(f) for f in found], indent=1), encoding="utf-8")
        if log is not None:
            for rel, why in found:
                log.warning("%s: %s is %s, so it is not used for grading (moved to %s)",
                            folder, rel, why, refused_dir)
    return found


def _move(path, dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dest):
        dest = dest.with_name(dest.name + f".{os.getpid()}-{len(os.listdir(dest.parent))}")
    os.rename(path, dest)  # renames the link, FIFO or device itself: nothing is followed


def refused(refused_dir):
    """[(path, why)] recorded for one submission, or []."""
    try:
        data = json.loads((Path(refused_dir) / NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if type(data) is not list:
        return []
    return [[str(f[0])[:300], str(f[1])[:300]] for f in data if type(f) is list and len(f) == 2]


def copy_data_files(src, dest, skip=("*.ipynb", ".ipynb_checkpoints", "__pycache__")):
    """Copy the regular files of ``src`` into ``dest`` (never a link); return [(path, why)] skipped."""
    import fnmatch

    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    bad = dict(problems(src))
    skipped = sorted(bad.items())
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = [d for d in dirnames if not any(fnmatch.fnmatch(d, p) for p in skip)
                       and not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(src))
            if rel in bad or any(fnmatch.fnmatch(name, p) for p in skip):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
            try:
                fd = os.open(path, flags)
            except OSError:
                skipped.append((rel, "cannot be opened"))
                continue
            with os.fdopen(fd, "rb") as fin:
                if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
                    skipped.append((rel, "not a regular file"))
                    continue
                with open(target, "wb") as fout:  # a file that grew since is cut at the limit
                    left = MAX_FILE_BYTES
                    while left > 0:
                        chunk = fin.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        fout.write(chunk)
                        left -= len(chunk)
    return skipped


__all__ = ["vet_submission", "copy_data_files", "problems", "refused", "MAX_FILE_BYTES",
           "MAX_TOTAL_BYTES", "MAX_ENTRIES", "REFUSED"]
