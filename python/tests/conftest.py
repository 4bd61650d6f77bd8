"""Test setup: import the package from this source tree (python/), and
give every test a fresh server-mode engine helper."""

import os
import sys
import time

import pytest

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)

from mochi import _lib, margo  # noqa: E402


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


def _find_bedrock():
    """$BEDROCK_BINARY, else `bedrock` beside the loaded libmochi, else the
    build tree's target/release/bedrock."""
    if os.environ.get("BEDROCK_BINARY"):
        return os.environ["BEDROCK_BINARY"]
    for candidate in (os.path.join(os.path.dirname(_lib.path), "bedrock"),
                      os.path.join(os.path.dirname(_PYTHON_DIR), "target", "release", "bedrock")):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
def bedrock_binary():
    """The `bedrock` program; the test is skipped when there is none."""
    path = _find_bedrock()
    if path is None:
        pytest.skip("no `bedrock` program: build it (cargo build --release) or set $BEDROCK_BINARY")
    return path


def _wait_for_file(path, process, timeout=20.0):
    """True once `path` exists and is not empty; False if `process` exits
    first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@pytest.fixture
def wait_for_file():
    """wait_for_file(path, process, timeout=20.0) -> bool"""
    return _wait_for_file
