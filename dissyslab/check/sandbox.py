"""Where the student's code runs: a process the operating system keeps in a box.

The command is built from what Linux and Debian provide, nothing home-made:

* ``bwrap`` (bubblewrap): a private file system that holds only the Python
  interpreter and libraries (read-only), a private copy of ``dissyslab``
  (read-only) and a scratch folder with the notebook's data files; its own
  PID namespace (every process it starts dies with it), no network, a new
  session, and it dies with the grader;
* ``setpriv``: when grading runs as root, the student's code runs as the
  unprivileged user ``nobody`` instead;
* ``prlimit``: limits on memory (address space), CPU time, file size, core
  files, open files and (as ``nobody``) processes.

When bubblewrap cannot run (not installed, or user namespaces are disabled),
grading still works, with a single warning line that says which protections
are missing (:func:`missing`).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: the unprivileged user (and group) the student's code runs as when grading runs as root
NOBODY = 65534
#: where the private copy of the library and the scratch folder appear inside the box
LIB = "/grading/lib"
WORK = "/grading/work"
#: files of /etc the interpreter and its C libraries read
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
        "/etc/alternatives", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")

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


def _bwrap_args(lib_dir, work_dir, python, as_root):
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
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
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
             "--bind", str(work_dir), WORK, "--chdir", WORK,
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


def available(lib_dir, work_dir, python):
    """(True, "") if the box can be made here, else (False, why not)."""
    key = (python, os.geteuid())
    if key not in _PROBE:
        if sys.platform != "linux":
            _PROBE[key] = (False, "this is not Linux")
        elif shutil.which("bwrap") is None:
            _PROBE[key] = (False, "bubblewrap (bwrap) is not installed")
        else:
            as_root = os.geteuid() == 0
            cmd = _bwrap_args(lib_dir, work_dir, python, as_root)
            if as_root:
                cmd += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "--no-new-privs", "--"]
            ok, why = _runs(cmd + [python, "-I", "-c", "import sqlite3, threading"])
            _PROBE[key] = (ok, "" if ok else f"bubblewrap cannot make a sandbox here ({why or 'it failed'})")
    return _PROBE[key]


def command(lib_dir, work_dir, python, argv, memory_mb, cpu_seconds):
    """(the command line, the folder it starts in, a line on missing protections or None)."""
    as_root = os.geteuid() == 0
    ok, why = available(lib_dir, work_dir, python)
    limits = shutil.which("prlimit") is not None
    if ok:
        cmd = _bwrap_args(lib_dir, work_dir, python, as_root)
        if as_root:
            cmd += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    "--no-new-privs", "--"]
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
        return cmd + [python, *argv(LIB)], str(work_dir), line
    cmd = _limits(memory_mb, cpu_seconds, False) if limits else []
    return cmd + [python, *argv(str(lib_dir))], str(work_dir), warning(why)


def warning(why):
    """The one line said when the sandbox is missing."""
    return (f"dissyslab grading: {why}, so student code runs WITHOUT a sandbox: as your user, "
            f"able to read and change your files (the course folder, gradebook.db), to use the "
            f"network, and to leave processes running after grading. Only time and memory "
            f"limits apply. Install bubblewrap (scripts/setup.sh does, as root) or grade in a "
            f"container.")


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
