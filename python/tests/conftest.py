"""Test setup: import the package from this source tree (python/), and
give every test a fresh server-mode engine helper."""

import os
import sys
import time

import pytest

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)

from mochi import margo  # noqa: E402


@pytest.fixture
def engine():
    """A server-mode na+sm engine, finalized after the test."""
    e = margo.Engine("na+sm", margo.SERVER)
    yield e
    e.finalize()


def _wait_until(predicate, timeout=5.0, interval=0.02):
    """Polls predicate() until it is true or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def wait_until():
    """wait_until(predicate, timeout=5.0) -> bool"""
    return _wait_until
