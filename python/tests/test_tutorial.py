"""The Flock-integration tutorial's Python example: our script making its
calls (examples-c/tutorial/python_example.py) run on na+sm and ofi+tcp,
and the calls of the example's other published form."""

import os
import subprocess
import sys

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(os.path.dirname(PYTHON_DIR), "examples-c", "tutorial", "python_example.py")


@pytest.mark.parametrize("protocol", ["na+sm", "ofi+tcp"])
def test_python_example(protocol, tmp_path):
    if not os.path.exists(EXAMPLE):
        pytest.skip(f"{EXAMPLE} not found")
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, EXAMPLE, protocol, str(tmp_path / "my_group.flock")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Server started at {protocol}://" in out
    assert "  - my_group (type=flock, id=1)" in out and "  - my_database (type=yokan, id=42)" in out
    assert "Flock group size: 1" in out
    assert "100 keys stored in and read back from provider 42" in out
    assert out.rstrip().endswith("Done!")


def test_published_variant_calls(tmp_path):
    # The other published form of the example: package-level imports,
    # "libraries" as an object, a yokan provider depending on the group,
    # server.margo.address, client.finalize().
    from mochi.bedrock import Client, Server
    group_file = str(tmp_path / "my_group.flock")
    config = {
        "libraries": {"flock": "libflock-bedrock-module.so", "yokan": "libyokan-bedrock-module.so"},
        "providers": [
            {"name": "my_group", "type": "flock", "provider_id": 1,
             "config": {"bootstrap": "self", "group": {"type": "static", "config": {}},
                        "file": group_file}},
            {"name": "my_database", "type": "yokan", "provider_id": 42,
             "config": {"database": {"type": "map"}}, "dependencies": {"group": "my_group"}},
        ],
    }
    server = Server("na+sm", config=config)
    address = server.margo.address
    assert address == server.margo.engine.address
    client = Client("na+sm")
    service = client.make_service_handle(address, provider_id=0)
    providers = {p["name"]: p for p in service.config["providers"]}
    assert providers["my_database"]["dependencies"] == {"group": "my_group"}
    # That form passes the group file where addresses are expected: an error
    # the example catches and prints.
    with pytest.raises(Exception):
        client.make_service_group_handle(group_file, provider_id=0)
    assert client.make_service_group_handle_from_flock(group_file, provider_id=0).size == 1
    service.release()
    client.finalize()
    server.finalize()
