#!/usr/bin/env python3
"""The Flock-integration tutorial's Python example ("Python integration"),
with the calls it makes: a Bedrock server started in this process with a
Flock provider (self bootstrap, static group, group file) and a Yokan
provider; the server's address read through ``server.margo.engine``; a
Bedrock client listing the service's providers; a service group handle
made from the Flock group file. Then, beyond the tutorial, the Yokan
provider of every group member is used through ``mochi.yokan``.

Usage: python_example.py [PROTOCOL [GROUP_FILE]]
(defaults: na+sm, a my_group.flock in a new temporary directory). Needs the
``mochi`` package on PYTHONPATH (python/ of the repository, or an installed
prefix's site-packages). Exits non-zero if anything is not as expected.
"""

import os
import shutil
import sys
import tempfile

from mochi.bedrock.client import Client
from mochi.bedrock.server import Server
from mochi.yokan import client as yokan

protocol = sys.argv[1] if len(sys.argv) > 1 else "na+sm"
workdir = None
if len(sys.argv) > 2:
    group_file = sys.argv[2]
else:
    workdir = tempfile.mkdtemp(prefix="flock-tutorial-")
    group_file = os.path.join(workdir, "my_group.flock")

config = {
    "libraries": [
        "libflock-bedrock-module.so",
        "libyokan-bedrock-module.so",
    ],
    "providers": [
        {
            "name": "my_group",
            "type": "flock",
            "provider_id": 1,
            "config": {
                "bootstrap": "self",
                "group": {"type": "static", "config": {}},
                "file": group_file,
            },
        },
        {
            "name": "my_database",
            "type": "yokan",
            "provider_id": 42,
            "config": {"database": {"type": "map"}},
        },
    ],
}

print(f"Starting a Bedrock server with Flock on {protocol}...")
server = Server(protocol, config=config)
address = server.margo.engine.address
print(f"Server started at {address}")

print("\nConnecting to the service...")
client = Client(protocol)
service = client.make_service_handle(address, provider_id=0)

providers = service.config["providers"]
print(f"\nThe service has {len(providers)} providers:")
for provider in providers:
    print(f"  - {provider['name']} (type={provider['type']}, id={provider['provider_id']})")
assert sorted((p["name"], p["type"], p["provider_id"]) for p in providers) == [
    ("my_database", "yokan", 42), ("my_group", "flock", 1)], providers

group = client.make_service_group_handle_from_flock(group_file, provider_id=0)
print(f"\nFlock group size: {group.size}")
assert group.size == 1, group.size

# Beyond the tutorial: the Yokan provider of each member of the group.
kv = yokan.Client(client.engine)
for member in group.addresses:
    db = kv.make_database_handle(member, 42)
    pairs = [(f"key{i:03d}", f"value of key {i}") for i in range(100)]
    db.put_multi(pairs)
    out = bytearray(64)
    for key, value in pairs:
        size = db.get(key, out)
        assert out[:size].decode() == value, (key, out[:size])
    print(f"{member}: {db.count()} keys stored in and read back from provider 42")
    assert db.count() == 100
    db.release()
kv.close()

group.release()
service.release()
client.close()
server.finalize()
if workdir:
    shutil.rmtree(workdir)
print("Done!")
