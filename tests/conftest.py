"""Shared test fixtures: every test must leave no node thread running."""

import threading
import time

import pytest


def node_threads():
    return [t for t in threading.enumerate() if t.name.startswith("dissyslab ")]


@pytest.fixture(autouse=True)
def no_node_thread_left():
    """Fail any test after which a node thread is still alive."""
    yield
    deadline = time.monotonic() + 2.0
    while node_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    left = [t.name for t in node_threads()]
    assert not left, f"node threads still alive after the test: {left}"
