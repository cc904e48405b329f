"""Run a snippet of Python in a fresh interpreter with a hard time limit.

The robustness tests use it: a behaviour that hangs, leaves threads behind or
aborts the interpreter then fails one test instead of stopping the suite.
"""

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    stdout: str
    stderr: str
    returncode: int

    def __str__(self):
        return (f"exit code {self.returncode}\n--- stdout ---\n{self.stdout}"
                f"\n--- stderr ---\n{self.stderr}")


def run_snippet(code, timeout=30):
    """Run ``code`` (dedented) with ``sys.executable -c``; give up after ``timeout`` seconds.

    ``dissyslab`` is imported from this checkout. Raises ``AssertionError`` on timeout.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "default"
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the snippet did not end within {timeout} s:\n"
                             f"{exc.stdout}\n{exc.stderr}") from None
    return Result(done.stdout, done.stderr, done.returncode)


def run_ok(code, timeout=30):
    """Like :func:`run_snippet`, and the snippet must exit with code 0; returns the Result."""
    result = run_snippet(code, timeout)
    assert result.returncode == 0, str(result)
    return result
