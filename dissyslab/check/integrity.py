"""Has anyone changed the library while a submission ran? A snapshot of it, and a comparison.

The grading process takes a :class:`Snapshot` before it runs any student code,
and compares against it around every graded test. It records, by identity:
every function and class of every ``dissyslab`` module (and each function's
code, defaults and closure, and each class's attributes), the builtins, the
standard-library modules the checks rely on, and the ``sys.modules`` entries
of all of them. Honest code never changes any of these; replacing
``dissyslab.check.outputs``, ``network``, ``Network.run_network``, ``len`` or
``print`` in ``builtins``, or a function's ``__code__``, is reported.
"""

import functools
import importlib
import pkgutil
import sys
import types

#: standard-library modules whose functions the checks and the grading process call
STDLIB = ("builtins", "json", "os", "io", "signal", "threading", "time", "warnings", "functools",
          "copy", "traceback", "re", "math", "collections", "types", "itertools", "contextlib",
          "dataclasses", "ctypes", "importlib", "pkgutil", "resource", "select", "hashlib",
          "random")
#: names whose value changes in honest runs
_VOLATILE = {"_", "__", "___"}


#: modules of the package that are for the grader's parent process only (they import nbgrader)
PARENT_ONLY = ("dissyslab.check.nbgrader_plugin",)


def import_everything(package="dissyslab"):
    """Import every module of ``package`` now, so later lazy imports change nothing."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name in PARENT_ONLY or info.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # a module whose optional dependency is missing is not used here
            pass


def _is_routine(value):
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type,
                              types.MethodType, staticmethod, classmethod, property,
                              types.ModuleType, functools.partial))


def _function_parts(fn):
    return (fn.__code__, fn.__defaults__, fn.__kwdefaults__, fn.__globals__,
            tuple(_cell(c) for c in (fn.__closure__ or ())))


def _cell(c):
    try:
        return c.cell_contents
    except ValueError:  # an empty cell
        return None


class Snapshot:
    """Identity records of the library, builtins and stdlib, to compare with later."""

    def __init__(self, package="dissyslab", stdlib=STDLIB):
        self.package = package
        self.records = []  # (label, getter, expected object)
        self.module_names = []
        for name, mod in sorted(sys.modules.items()):
            if mod is None:
                continue
            if name == package or name.startswith(package + "."):
                self._module(name, mod, deep=True)
            elif name in stdlib:
                self._module(name, mod, deep=False)

    def _keep(self, label, get, obj):
        self.records.append((label, get, obj))

    def _module(self, name, mod, deep):
        self.module_names.append(name)
        self._keep(f"sys.modules[{name!r}]", lambda n=name: sys.modules.get(n), mod)
        self._keep(f"the type of module {name}", lambda m=mod: type(m), type(mod))
        ns = vars(mod)
        for key, value in list(ns.items()):
            if key in _VOLATILE:
                continue
            if not (_is_routine(value) or (deep and key.isupper()) or key == "__getattr__"):
                continue
            self._keep(f"{name}.{key}", lambda ns=ns, k=key: ns.get(k, _MISSING), value)
            if deep and isinstance(value, types.FunctionType) and value.__module__ == name:
                self._function(f"{name}.{key}", value)
            if deep and isinstance(value, type) and value.__module__ == name:
                self._class(f"{name}.{key}", value)
        if deep:
            self._keep(f"the names defined in {name}",
                       lambda ns=ns: frozenset(k for k, v in ns.items() if _is_routine(v)),
                       frozenset(k for k, v in ns.items() if _is_routine(v)))

    def _function(self, label, fn):
        self._keep(f"the code of {label}", lambda f=fn: _function_parts(f), _function_parts(fn))

    def _class(self, label, cls):
        self._keep(f"the type of {label}", lambda c=cls: type(c), type(cls))
        self._keep(f"the bases of {label}", lambda c=cls: c.__bases__, cls.__bases__)
        attrs = dict(vars(cls))
        self._keep(f"the attributes of {label}",
                   lambda c=cls: frozenset(vars(c)), frozenset(attrs))
        for key, value in attrs.items():
            self._keep(f"{label}.{key}", lambda c=cls, k=key: vars(c).get(k, _MISSING), value)
            inner = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if isinstance(value, property):
                for part in ("fget", "fset", "fdel"):
                    f = getattr(value, part)
                    if isinstance(f, types.FunctionType):
                        self._function(f"{label}.{key}.{part}", f)
            elif isinstance(inner, types.FunctionType):
                self._function(f"{label}.{key}", inner)

    def changes(self):
        """Labels of what differs from the snapshot (empty when nothing was changed)."""
        changed = []
        for label, get, expected in self.records:
            try:
                now = get()
            except Exception:
                changed.append(label)
                continue
            if not _same_identity(now, expected):
                changed.append(label)
        return changed


def _same_identity(a, b):
    if type(a) is tuple and type(b) is tuple:
        return len(a) == len(b) and all(_same_identity(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is frozenset and type(b) is frozenset:
        return a == b
    return a is b


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()

