"""mochi.yokan: the group-aware database handle
(Client.make_group_database_handle) against 3 bedrock daemons in a
centralized Flock group whose yokan providers (id 42) form one database
with 2 copies of each key; one member is killed with SIGKILL."""

import json
import signal
import subprocess

import pytest

from mochi.flock.client import Client as FlockClient
from mochi.yokan import exception as ye
from mochi.yokan import mode
from mochi.yokan.client import Client

SHARDS, PLAIN = 42, 43


def _config(group_file):
    return {
        "libraries": ["libflock-bedrock-module.so", "libyokan-bedrock-module.so"],
        "providers": [
            {"name": "service_group", "type": "flock", "provider_id": 1,
             "config": {"bootstrap": ["join", "self"], "file": str(group_file),
                        "group": {"type": "centralized",
                                  "config": {"ping_timeout_ms": 400, "ping_interval_ms": [800, 1000],
                                             "ping_max_num_timeouts": 2}}}},
            {"name": "kv_store", "type": "yokan", "provider_id": SHARDS,
             "config": {"database": {"type": "map"}, "replication": 2},
             "dependencies": {"group": "service_group"}},
            {"name": "kv_plain", "type": "yokan", "provider_id": PLAIN,
             "config": {"database": {"type": "map"}}},
        ]}


def _members(group_file):
    try:
        with open(group_file) as f:
            return [m["address"] for m in json.load(f)["members"]]
    except (OSError, ValueError, KeyError):
        return []


@pytest.fixture
def group(bedrock_binary, tmp_path, wait_until):
    """3 daemons started one by one; yields (group file, processes)."""
    group_file = tmp_path / "group.flock"
    config = tmp_path / "member.json"
    config.write_text(json.dumps(_config(group_file)))
    procs = []
    try:
        for i in range(3):
            log = open(tmp_path / f"member{i}.log", "w")
            procs.append(subprocess.Popen([bedrock_binary, "na+sm", "-c", str(config)],
                                          stdout=subprocess.DEVNULL, stderr=log))
            log.close()
            assert wait_until(lambda: len(_members(group_file)) > i, timeout=20), \
                (tmp_path / f"member{i}.log").read_text()
        yield group_file, procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _value(i):
    return f"value of key {i}".encode()


def _read_all(db, n):
    good = 0
    for start in range(0, n, 50):
        keys = [f"key{i:05d}" for i in range(start, min(n, start + 50))]
        bufs = [bytearray(64) for _ in keys]
        try:
            sizes = db.get_multi(list(zip(keys, bufs)))
        except ye.Exception:
            continue
        good += sum(1 for j, s in enumerate(sizes) if s is not None and bytes(bufs[j][:s]) == _value(start + j))
    return good


def test_group_aware_handle(group, wait_until):
    group_file, procs = group
    client = Client("na+sm")
    flock = FlockClient(client.engine)
    # From a group file and from a Flock group handle.
    db = client.make_group_database_handle(str(group_file), SHARDS)
    assert db.group_aware and db.provider_id == SHARDS
    assert db.address in _members(group_file)
    gh = flock.make_group_handle_from_file(str(group_file))
    db2 = client.make_group_database_handle(gh, SHARDS)
    gh.release()                          # the database handle keeps working

    n = 300
    for start in range(0, n, 30):
        db.put_multi([(f"key{i:05d}", _value(i)) for i in range(start, start + 30)])
    db.put("single", "one")
    buf = bytearray(16)
    assert bytes(buf[:db2.get("single", buf)]) == b"one"
    assert _read_all(db2, n) == n
    assert db.count() == n + 1
    assert db.exists("key00007") and not db.exists("absent")
    keys = [bytearray(16) for _ in range(3)]
    assert db.list_keys(keys, "key00010", "key") == [8, 8, 8]
    assert [bytes(k[:8]) for k in keys] == [b"key00011", b"key00012", b"key00013"]
    with pytest.raises(ye.Exception) as e:
        db.put("single", "again", mode=mode.YOKAN_MODE_NEW_ONLY)
    assert e.value.code == ye.YOKAN_ERR_KEY_EXISTS
    db.erase("single")
    # Collections live whole at their name's owners: written through one
    # handle, read through the other, dropped (the counts above unchanged).
    coll = db.create_collection("c")
    assert [coll.store(f"doc{i}") for i in range(3)] == [0, 1, 2]
    assert db2.collection_exists("c")
    buf = bytearray(8)
    assert bytes(buf[:db2.open_collection("c").load(1, buf)]) == b"doc1"
    assert coll.size() == 3
    db.drop_collection("c")
    assert not db2.collection_exists("c")
    assert db.count() == n

    # A member dies: every key is still read through the handle.
    victim = procs[1]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert _read_all(db, n) == n
    assert _read_all(db2, n) == n
    db.put("after", "the kill")
    assert bytes(buf[:db.get("after", buf)]) == b"the kill"
    assert wait_until(lambda: db.count() == n + 1, timeout=20)
    db.release()
    db2.release()
    flock.close()
    client.close()


def test_group_aware_handle_bad_input(group, tmp_path):
    group_file, _ = group
    client = Client("na+sm")
    for source, provider_id, code in [
        (str(tmp_path / "missing.flock"), SHARDS, ye.YOKAN_ERR_INVALID_ARGS),
        (str(group_file), 999, ye.YOKAN_ERR_INVALID_PROVIDER),     # no such provider
        (str(group_file), PLAIN, ye.YOKAN_ERR_INVALID_PROVIDER),   # not a shard
    ]:
        with pytest.raises(ye.Exception) as e:
            client.make_group_database_handle(source, provider_id)
        assert e.value.code == code, (source, provider_id)
    empty = tmp_path / "empty.flock"
    empty.write_text(json.dumps({"members": [], "metadata": {}}))
    with pytest.raises(ye.Exception) as e:
        client.make_group_database_handle(str(empty), SHARDS)
    assert e.value.code == ye.YOKAN_ERR_INVALID_ARGS
    with pytest.raises(TypeError):
        client.make_group_database_handle(42, SHARDS)
    with pytest.raises(ValueError):
        client.make_group_database_handle(str(group_file), -1)
    client.close()
