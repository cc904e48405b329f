"""A limit on a submission as a whole: every process of one notebook's box in a cgroup of its own.

``prlimit`` (see ``sandbox.py``) bounds each process of the box; a submission
that forks six processes would still hold six times the memory. A control
group bounds their sum: every process the student's code starts joins the
group it was started in, and the kernel holds the group to its memory (RAM,
the box's ``/tmp`` and scratch folder included, since a tmpfs is RAM), its
number of tasks (processes and threads) and its share of the processors (one
CPU's worth at a time, however many processes it forks), whatever they do.
When the group is over its memory, the kernel's OOM killer ends a process of
that group only; over its CPU share, its processes wait.

Two layouts of the cgroup file system are used, as Linux offers them:

* cgroup v2 (one hierarchy, ``cgroup2``): a new group beside the grader
  (under the grader's own group if that one hands its ``memory`` and ``pids``
  controllers down, else under the root), with ``memory.max``,
  ``memory.swap.max`` = 0, ``pids.max`` and ``cpu.max``;
* cgroup v1 (a hierarchy per controller, still common in containers and
  virtual machines): a new group in the ``memory`` hierarchy with
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, so swap does
  not stretch it), one in the ``pids`` hierarchy with ``pids.max`` and one in
  the ``cpu`` hierarchy with ``cpu.cfs_quota_us``.

The ``pids`` and ``cpu`` controllers are used where they are offered; the
memory one is needed.

Making a group needs write access to the cgroup file system: in practice,
grading as root. Where no group can be made, :func:`make` says why and grading
goes on with the per-process limits (``exercises/README.md`` says what is
bounded then). The box's first process joins the group before anything else
runs (:meth:`Group.command`: a shell writes its own process id into the group,
then ``exec``s the box); after the notebook, :meth:`Group.remove` kills what is
left in the group and removes it.
"""

import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

#: most tasks (processes and threads) of one submission at a time: a network runs a thread per node
PIDS = 1024
#: CPUs' worth of time one submission's processes may use together at any moment
CPUS = 1
#: the period (microseconds) over which the kernel holds a group to its CPU share
_PERIOD = 100_000

_COUNTER = itertools.count()
_PROBED = {}


class Group:
    """One submission's cgroup: a folder in each hierarchy used (one in v2; memory and pids in v1)."""

    def __init__(self, folders, version, memory_mb, pids, cpus=None):
        self.folders = folders
        self.version = version
        self.memory_mb = memory_mb
        self.pids = pids
        #: the CPU share the group is held to, or None where no cpu controller is offered
        self.cpus = cpus

    def command(self, cmd):
        """``cmd`` preceded by a shell that moves itself into the group, then runs ``cmd`` (exec)."""
        join = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", join, "sh",
                *[str(f / "cgroup.procs") for f in self.folders], "--", *cmd]

    def out_of_memory(self):
        """True if the kernel killed a process of the group for going over its memory."""
        folder = self.folders[0]
        for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
            try:
                text = (folder / name).read_text()
            except OSError:
                continue
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                    return int(parts[1]) > 0
        return False

    def processes(self):
        found = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def remove(self, wait=2.0):
        """Kill every process left in the group, then remove its folders (True if they are gone)."""
        deadline = time.monotonic() + wait
        for folder in self.folders:
            kill = folder / "cgroup.kill"
            if kill.exists():
                try:
                    kill.write_text("1")
                except OSError:
                    pass
        while True:
            for pid in self.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            left = []
            for folder in self.folders:
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(folder)
            self.folders = left
            if not left or time.monotonic() > deadline:
                return not left
            time.sleep(0.02)


def _mounts():
    """[(mount point, root of the mount in its hierarchy, file system type, super options)]."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields, after = left.split(), right.split()
        if not sep or len(fields) < 5 or len(after) < 3:
            continue
        if after[0] in ("cgroup", "cgroup2"):
            point = fields[4].replace("\\040", " ")
            found.append((Path(point), fields[3], after[0], set(after[2].split(","))))
    return found


def _own_groups():
    """{controller or "" (v2): the grader's group path} from /proc/self/cgroup."""
    own = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            own[controller] = parts[2]
    return own


def _inside(point, root, path):
    """The folder of group ``path`` on a mount of its hierarchy at ``point`` (whose root is ``root``)."""
    if path is None:
        return None
    if root != "/":
        if path != root and not path.startswith(root.rstrip("/") + "/"):
            return None
        path = path[len(root):]
    return point / path.lstrip("/")


def _parents(point, root, own):
    """Where a group may be made: under the grader's own group first, then at the mount's root."""
    candidates = [_inside(point, root, own), point]
    seen, out = set(), []
    for c in candidates:
        if c is not None and c not in seen and c.is_dir():
            seen.add(c)
            out.append(c)
    return out


def _write(path, value):
    path.write_text(str(value))


def _make_v2(point, root, own, memory, pids, cpus):
    errors = []
    for parent in _parents(point, root, own):
        try:
            have = set((parent / "cgroup.controllers").read_text().split())
            if "memory" not in have:
                errors.append(f"{parent} has no memory controller")
                continue
            wanted = {"memory"} | ({"pids", "cpu"} & have)
            handed = set((parent / "cgroup.subtree_control").read_text().split())
            if not wanted <= handed:
                _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted - handed))
        except OSError as err:
            errors.append(f"{parent}: {err.strerror or err}")
            continue
        folder = parent / f"dissyslab-grading-{os.getpid()}-{next(_COUNTER)}"
        try:
            folder.mkdir()
        except OSError as err:
            errors.append(f"{parent}: {err.strerror or err}")
            continue
        try:
            _write(folder / "memory.max", memory)
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", 0)
            if "pids" in wanted:
                _write(folder / "pids.max", pids)
            if "cpu" in wanted:
                _write(folder / "cpu.max", f"{int(cpus * _PERIOD)} {_PERIOD}")
            return [folder], None
        except OSError as err:
            errors.append(f"{folder}: {err.strerror or err}")
            folder.rmdir()
    return None, "; ".join(errors) or "no cgroup v2 folder to make a group in"


def _make_v1(mounts, own, memory, pids, cpus):
    by_controller = {}
    for point, root, fstype, options in mounts:
        if fstype == "cgroup":
            for c in ("memory", "pids", "cpu"):
                if c in options and c not in by_controller:
                    by_controller[c] = (point, root)
    if "memory" not in by_controller:
        return None, "no memory controller is mounted"
    made, errors = [], []
    name = f"dissyslab-grading-{os.getpid()}-{next(_COUNTER)}"
    for controller in ("memory", "pids", "cpu"):
        if controller not in by_controller:
            continue
        point, root = by_controller[controller]
        for parent in _parents(point, root, own.get(controller)):
            folder = parent / name
            try:
                folder.mkdir()
            except OSError as err:
                errors.append(f"{parent}: {err.strerror or err}")
                continue
            try:
                if controller == "memory":
                    _write(folder / "memory.limit_in_bytes", memory)
                    if (folder / "memory.memsw.limit_in_bytes").exists():
                        _write(folder / "memory.memsw.limit_in_bytes", memory)
                elif controller == "pids":
                    _write(folder / "pids.max", pids)
                else:
                    _write(folder / "cpu.cfs_period_us", _PERIOD)
                    _write(folder / "cpu.cfs_quota_us", int(cpus * _PERIOD))
            except OSError as err:
                errors.append(f"{folder}: {err.strerror or err}")
                folder.rmdir()
                continue
            made.append(folder)
            break
        else:
            if controller == "memory":
                Group(made, 1, 0, 0).remove()
                return None, "; ".join(errors)
    return made, None


def _cpu_held(folders, cpus):
    """``cpus`` if one of the group's folders holds it to a CPU share, else None."""
    held = any((f / name).exists() for f in folders for name in ("cpu.max", "cpu.cfs_quota_us"))
    return cpus if held else None


def make(memory_mb, pids=PIDS, cpus=CPUS):
    """(a :class:`Group` holding ``memory_mb`` MB, ``pids`` tasks and ``cpus`` CPUs in all, "")
    or (None, why not)."""
    if not memory_mb:
        return None, "no memory limit was asked for"
    memory = int(memory_mb) * 1024 * 1024
    mounts = _mounts()
    own = _own_groups()
    why = []
    for point, root, fstype, _ in mounts:
        if fstype == "cgroup2":
            folders, err = _make_v2(point, root, own.get(""), memory, pids, cpus)
            if folders:
                return Group(folders, 2, memory_mb, pids, _cpu_held(folders, cpus)), ""
            why.append(f"cgroup v2: {err}")
            break
    if any(fstype == "cgroup" for _, _, fstype, _ in mounts):
        folders, err = _make_v1(mounts, own, memory, pids, cpus)
        if folders:
            return Group(folders, 1, memory_mb, pids, _cpu_held(folders, cpus)), ""
        why.append(f"cgroup v1: {err}")
    if not mounts:
        why.append("no cgroup file system is mounted")
    return None, "; ".join(why)


def usable(memory_mb):
    """(True, "") if a group can be made here and a process put in it, else (False, why not)."""
    key = os.geteuid()
    if key not in _PROBED:
        group, why = make(memory_mb or 64)
        if group is None:
            _PROBED[key] = (False, why)
        else:
            try:
                done = subprocess.run(group.command(["/bin/sh", "-c", "exit 0"]),
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, timeout=30)
                ok = done.returncode == 0
                err = done.stderr.decode(errors="replace").strip()[-200:]
            except (OSError, subprocess.TimeoutExpired) as exc:
                ok, err = False, str(exc)
            group.remove()
            _PROBED[key] = (True, "") if ok else (False, f"a process cannot join it ({err})")
    return _PROBED[key]
