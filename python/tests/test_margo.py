"""mochi.margo.Engine and the library loader."""

import os
import shutil
import subprocess
import sys

import pytest

from mochi import margo, _lib

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_server_engine_address_and_lookup(engine):
    assert engine.mode == margo.SERVER
    assert engine.listening
    address = engine.address
    assert isinstance(address, str)
    assert address.startswith("na+sm://")
    addr = engine.lookup(address)
    assert str(addr) == address
    assert addr == address
    assert str(addr.copy()) == address
    assert str(engine.addr_self()) == address
    assert engine.config["mercury"]["address"] == address


def test_client_engine_and_context_manager():
    with margo.Engine("na+sm", mode=margo.CLIENT) as e:
        assert e.mode == margo.CLIENT
        assert e.address.startswith("na+sm://")
    assert e.finalized
    e.finalize()    # idempotent
    with pytest.raises(margo.MargoException):
        e.address


def test_engine_with_json_options():
    options = {"argobots": {"pools": [{"name": "my_pool"}]}}
    with margo.Engine("na+sm", margo.SERVER, options=options) as e:
        names = [p["name"] for p in e.config["argobots"]["pools"]]
        assert "my_pool" in names


def test_invalid_engine():
    with pytest.raises(margo.MargoException):
        margo.Engine("not-a-protocol://x", margo.SERVER)
    with pytest.raises(ValueError):
        margo.Engine("na+sm", mode=7)


def test_lookup_failure(engine):
    with pytest.raises(margo.MargoException):
        engine.lookup("nonsense")


def test_remote_shutdown():
    target = margo.Engine("na+sm", margo.SERVER)
    target.enable_remote_shutdown()
    with margo.Engine("na+sm", margo.CLIENT) as c:
        c.lookup(target.address).shutdown()
    target.wait_for_finalize()   # returns once the remote shutdown arrived
    assert target.finalized


# -- library loading --------------------------------------------------------

def _import_lib_path(env, pythonpath, cwd):
    """Imports mochi._lib in a fresh interpreter (run from `cwd`, so that the
    package comes from `pythonpath`, not the current directory)."""
    env = dict(env)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", "from mochi import _lib; print(_lib.path)"],
                          env=env, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_loader_uses_mochi_library_env(tmp_path):
    env = dict(os.environ, MOCHI_LIBRARY=_lib.path)
    r = _import_lib_path(env, PYTHON_DIR, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.abspath(_lib.path)


def test_loader_error_names_paths_tried(tmp_path):
    missing = str(tmp_path / "nowhere" / "libmochi.so")
    env = dict(os.environ, MOCHI_LIBRARY=missing)
    r = _import_lib_path(env, PYTHON_DIR, tmp_path)
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert missing in r.stderr


def test_loader_finds_library_of_installed_prefix(tmp_path):
    """A package installed in <prefix>/lib/python3.X/site-packages loads
    <prefix>/lib/libmochi.so.0."""
    prefix = tmp_path / "prefix"
    pyver = "python%d.%d" % sys.version_info[:2]
    site = prefix / "lib" / pyver / "site-packages"
    shutil.copytree(os.path.join(PYTHON_DIR, "mochi"), site / "mochi",
                    ignore=shutil.ignore_patterns("__pycache__"))
    os.symlink(os.path.realpath(_lib.path), prefix / "lib" / "libmochi.so.0")
    env = {k: v for k, v in os.environ.items() if k != "MOCHI_LIBRARY"}
    r = _import_lib_path(env, str(site), tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(prefix / "lib" / "libmochi.so.0")


def test_loader_falls_back_to_build_tree(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MOCHI_LIBRARY"}
    build = os.path.normpath(os.path.join(PYTHON_DIR, "..", "target", "release", "libmochi.so"))
    if not os.path.exists(build):
        pytest.skip("no build-tree library")
    r = _import_lib_path(env, PYTHON_DIR, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == build


def test_undeclared_functions_are_bound():
    # exported by libmochi, missing from include/bedrock/client.h
    for name in _lib.UNDECLARED:
        assert callable(_lib.require(name))
