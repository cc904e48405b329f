"""Where the student's code runs: a process the operating system keeps in a box.

The command is built from what Linux and Debian provide, nothing home-made:

* ``bwrap`` (bubblewrap): a private file system that holds only the Python
  interpreter and libraries (read-only), a private copy of ``dissyslab``
  (read-only) and a scratch folder with the notebook's data files (a
  size-limited tmpfs, filled from a read-only view of the prepared folder
  before the student's code starts); its own
  PID namespace (every process it starts dies with it), no network, a new
  session, and it dies with the grader;
* ``setpriv``: when grading runs as root, the student's code runs as the
  unprivileged user ``nobody`` instead;
* ``prlimit``: limits on memory (address space), CPU time, file size, core
  files, open files and (as ``nobody``) processes, for each process of the box
  (the grader puts the box as a whole in a cgroup too, where it can: ``cgroup.py``).

When bubblewrap cannot run (not installed, or user namespaces are disabled)
and grading runs as root, the same box is made with ``unshare`` (util-linux),
``chroot`` and ``setpriv``. When neither works, :func:`command` refuses
(:class:`NoIsolation`) unless the instructor opted in to grading without
isolation (:data:`OPT_IN`); then one warning line says what is missing.
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

#: the unprivileged user (and group) the student's code runs as when grading runs as root
NOBODY = 65534
#: where the private copy of the library and the scratch folder appear inside the box
LIB = "/grading/lib"
WORK = "/grading/work"
#: where the folder prepared for the box (the notebook's data files) appears, read-only
GIVEN = "/grading/given"
#: files of /etc the interpreter and its C libraries read
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
        "/etc/alternatives", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")

#: MB of the box's scratch folder, and again of its /tmp: each a tmpfs (RAM), so a submission
#: cannot fill the host's disk (the ``scratch_mb`` setting of grading)
SCRATCH_MB = 256

_PROBE = {}


def _python_roots(python):
    """Folders the interpreter needs: the venv, the Python it was made from, and its real location."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(sys.base_exec_prefix)}
    real = Path(os.path.realpath(python))
    roots.add(real.parent.parent)
    if python != sys.executable:
        roots.add(Path(python).parent.parent)
    keep = []
    for r in sorted(roots, key=lambda p: len(p.parts)):
        if str(r) in ("/", "/usr") or any(r == k or k in r.parents for k in keep):
            continue
        keep.append(r)
    return [str(r) for r in keep if r.exists()]


def _bwrap_args(lib_dir, work_dir, python, as_root, scratch_mb=SCRATCH_MB):
    args = ["bwrap"]
    if as_root:
        args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try"]
    else:
        args += ["--unshare-all"]
    args += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in _ETC:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777",
             "--size", str(int(scratch_mb) * 1024 * 1024), "--tmpfs", "/tmp"]
    made = set()
    for root in _python_roots(python):
        if root.startswith("/usr/"):
            continue
        parent = Path(root).parent
        for p in reversed([parent, *parent.parents]):
            if str(p) != "/" and str(p) not in made:
                made.add(str(p))
                args += ["--perms", "0755", "--dir", str(p)]
        args += ["--ro-bind", root, root]
    args += ["--perms", "0755", "--dir", "/grading", "--ro-bind", str(lib_dir), LIB,
             "--ro-bind", str(work_dir), GIVEN,
             "--perms", "1777", "--size", str(int(scratch_mb) * 1024 * 1024), "--tmpfs", WORK,
             "--chdir", WORK,
             "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", WORK,
             "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8",
             "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "MPLBACKEND", "Agg", "--"]
    return args


def _limits(memory_mb, cpu_seconds, as_root):
    limits = ["prlimit", "--core=0", "--nofile=256", "--fsize=104857600"]
    if memory_mb:
        limits.append(f"--as={int(memory_mb) * 1024 * 1024}")
    if cpu_seconds:
        limits.append(f"--cpu={int(cpu_seconds)}")
    if as_root:
        # RLIMIT_NPROC counts threads too, and a network runs a thread per node: generous
        limits.append("--nproc=4096")
    return limits + ["--"]


def _runs(command):
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    return done.returncode == 0, done.stderr.decode(errors="replace").strip()[-300:]


def _setpriv():
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--no-new-privs", "--"]


def _unshare_args(lib_dir, work_dir, python, scratch_mb=SCRATCH_MB):
    """The box without bubblewrap, for root: ``unshare`` namespaces, a new root, ``setpriv``.

    In new mount, PID, network, IPC and UTS namespaces, a shell (as root) builds a
    root file system in a tmpfs like bubblewrap's (the interpreter's folders
    read-only, a private /proc, /dev with four devices, a size-limited /tmp, the
    library read-only, the prepared folder read-only and a size-limited work
    folder), changes into it with ``chroot``, and
    drops to ``nobody`` with ``setpriv`` before the student's code starts.
    """
    root = str(Path(work_dir).parent / "root")
    q = shlex.quote
    lines = ["set -e", f"R={q(root)}", 'mkdir -p "$R"', 'mount -t tmpfs -o size=16m,mode=0755 tmpfs "$R"',
             # /tmp first: what is bound below may live under /tmp (a clone in /tmp/...), and a
             # tmpfs mounted over it afterwards would hide it
             'mkdir -p "$R/tmp"', f'mount -t tmpfs -o size={int(scratch_mb)}m,mode=1777 tmpfs "$R/tmp"']

    def ro_bind(src, dst=None):
        dst = dst or src
        kind = "mkdir -p" if os.path.isdir(src) else "touch"
        lines.extend([f'mkdir -p "$R"{q(str(Path(dst).parent))}', f'{kind} "$R"{q(dst)}',
                      f'mount --rbind {q(src)} "$R"{q(dst)}',
                      f'mount -o remount,bind,ro "$R"{q(dst)}'])

    ro_bind("/usr")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            lines.append(f'ln -s {q(os.readlink(top))} "$R"{top}')
        elif os.path.isdir(top):
            ro_bind(top)
    for path in _ETC:
        if os.path.exists(path):
            ro_bind(path)
    for root_dir in _python_roots(python):
        if not root_dir.startswith("/usr/"):
            ro_bind(root_dir)
    lines += [f'mkdir -p "$R/proc" "$R/dev" "$R{LIB}" "$R{WORK}" "$R{GIVEN}"',
              'mount -t proc proc "$R/proc"']
    for dev in ("null", "zero", "random", "urandom"):
        lines += [f'touch "$R/dev/{dev}"', f'mount --bind /dev/{dev} "$R/dev/{dev}"']
    lines += [f'mount --bind {q(str(lib_dir))} "$R{LIB}"', f'mount -o remount,bind,ro "$R{LIB}"',
              f'mount --bind {q(str(work_dir))} "$R{GIVEN}"', f'mount -o remount,bind,ro "$R{GIVEN}"',
              f'mount -t tmpfs -o size={int(scratch_mb)}m,mode=1777 tmpfs "$R{WORK}"',
              'export PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'exec chroot "$R" "$@"']
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts",
            "--", "/bin/sh", "-c", "\n".join(lines), "sh"]


#: inside the box, as the student's user: the scratch folder (a tmpfs) gets the prepared files
_FILL = ["/bin/sh", "-c", f'cp -R {GIVEN}/. {WORK}/ && exec "$0" "$@"']

_ENV = ["env", "-i", f"--chdir={WORK}", "PATH=/usr/bin:/bin", f"HOME={WORK}", "TMPDIR=/tmp",
        "LANG=C.UTF-8",
        "PYTHONDONTWRITEBYTECODE=1", "MPLBACKEND=Agg"]


def isolation(lib_dir, work_dir, python):
    """("bwrap" or "unshare", "") if a box can be made here, else (None, why not)."""
    python = os.path.abspath(python)  # the box starts elsewhere (`../.venv/bin/python -m ...`)
    key = (python, os.geteuid())
    if key not in _PROBE:
        as_root = os.geteuid() == 0
        why = ""
        if sys.platform != "linux":
            _PROBE[key] = (None, "this is not Linux")
            return _PROBE[key]
        probe = [python, "-I", "-c", "import sqlite3, threading"]
        if shutil.which("bwrap") is None:
            why = "bubblewrap (bwrap) is not installed"
        else:
            cmd = _bwrap_args(lib_dir, work_dir, python, as_root)
            if as_root:
                cmd += _setpriv()
            ok, err = _runs(cmd + probe)
            if ok:
                _PROBE[key] = ("bwrap", "")
                return _PROBE[key]
            why = f"bubblewrap cannot make a sandbox here ({err or 'it failed'})"
        if as_root and all(shutil.which(p) for p in ("unshare", "setpriv", "chroot", "mount")):
            cmd = _unshare_args(lib_dir, work_dir, python) + _setpriv() + _ENV
            ok, err = _runs(cmd + probe)
            if ok:
                _PROBE[key] = ("unshare", "")
                return _PROBE[key]
            why += f"; unshare cannot make one either ({err or 'it failed'})"
        elif not as_root:
            why += " and grading does not run as root (which could isolate with unshare)"
        _PROBE[key] = (None, why)
    return _PROBE[key]


def available(lib_dir, work_dir, python):
    """(True, "") if the box can be made here, else (False, why not)."""
    how, why = isolation(lib_dir, work_dir, python)
    return how is not None, why


def command(lib_dir, work_dir, python, argv, memory_mb, cpu_seconds, allow_unisolated=False,
            scratch_mb=SCRATCH_MB):
    """(the command line, the folder it starts in, a line on missing protections or None).

    ``scratch_mb``: the size of the box's scratch folder, and of its /tmp.

    Without a box, :class:`NoIsolation` is raised unless ``allow_unisolated``.
    """
    as_root = os.geteuid() == 0
    python = os.path.abspath(python)  # not resolved: a venv's python is a link to its base
    how, why = isolation(lib_dir, work_dir, python)
    limits = shutil.which("prlimit") is not None
    if how is not None:
        if how == "bwrap":
            cmd = _bwrap_args(lib_dir, work_dir, python, as_root, scratch_mb)
            if as_root:
                cmd += _setpriv()
        else:
            cmd = _unshare_args(lib_dir, work_dir, python, scratch_mb) + _setpriv() + _ENV
        if limits:
            cmd += _limits(memory_mb, cpu_seconds, as_root)
        missing = []
        if not as_root:
            missing.append("grading does not run as root, so student code keeps your user id "
                           "inside the sandbox (it still sees none of your files) and has no "
                           "limit on its number of processes")
        if not limits:
            missing.append("prlimit is missing, so student code has no memory, CPU or file-size "
                           "limit")
        line = ("dissyslab grading: " + "; ".join(missing) + ".") if missing else None
        return cmd + _FILL + [python, *argv(LIB)], str(work_dir), line
    if not allow_unisolated:
        raise NoIsolation(refusal(why))
    cmd = _limits(memory_mb, cpu_seconds, False) if limits else []
    return cmd + [python, *argv(str(lib_dir))], str(work_dir), warning(why)


class NoIsolation(RuntimeError):
    """Student code cannot be isolated here, and running it without isolation was not allowed."""


#: the setting that lets grading run student code without isolation (exercises/nbgrader_config.py)
OPT_IN = "c.GradeInSubprocess.run_student_code_without_isolation = True"


def refusal(why):
    """What grading says when it refuses to run student code without isolation."""
    return (f"dissyslab grading: student code cannot be isolated here: {why}. Without isolation "
            f"it would run as your user, able to read and change the course (other students' "
            f"work, gradebook.db) and to use the network, so nothing is graded. Install "
            f"bubblewrap (scripts/setup.sh does, as root), grade as root (which isolates with "
            f"unshare and setpriv), or grade in a container (see exercises/README.md). To grade "
            f"anyway, with every student's code able to do all that, set "
            f"{OPT_IN} in nbgrader_config.py.")


def warning(why):
    """The one line said when grading runs student code without isolation (opted in)."""
    return (f"dissyslab grading: {why}, so student code runs WITHOUT a sandbox, as "
            f"{OPT_IN.split('.')[-1].split(' ')[0]} = True asks: as your user, able to read and "
            f"change your files (the course folder, gradebook.db), to use the network, and to "
            f"leave processes running after grading. Only time and memory limits apply.")


def prepare(folder):
    """Make ``folder`` usable from inside the box (owned by ``nobody`` when grading runs as root)."""
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        for dirpath, _, filenames in os.walk(folder):
            os.chown(dirpath, NOBODY, NOBODY)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), NOBODY, NOBODY)


def tree_threads(pid):
    """Threads of ``pid`` and of every process below it (by /proc), or None if unknown."""
    total, todo, seen = 0, [pid], set()
    try:
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            try:
                tasks = os.listdir(f"/proc/{p}/task")
            except OSError:
                continue
            total += len(tasks)
            for t in tasks:
                try:
                    with open(f"/proc/{p}/task/{t}/children", "rb") as f:
                        todo.extend(int(c) for c in f.read().split())
                except FileNotFoundError:
                    return _tree_threads_by_scan(pid)
                except OSError:
                    pass
        return total
    except OSError:
        return None


def _tree_threads_by_scan(pid):
    """:func:`tree_threads` on kernels without /proc/<pid>/task/<tid>/children."""
    try:
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        total, todo = 0, [pid]
        while todo:
            p = todo.pop()
            try:
                total += len(os.listdir(f"/proc/{p}/task"))
            except OSError:
                pass
            todo.extend(children.get(p, []))
        return total
    except OSError:
        return None
