"""mochi.bedrock: an in-process Server, its config, and the client side
(ServiceHandle, ServiceGroupHandle) against it."""

import json
import threading

import pytest

from mochi import margo
from mochi.bedrock import BedrockException, ClientException
from mochi.bedrock.client import Client, ServiceGroupHandle, ServiceHandle
from mochi.bedrock.server import ConfigType, Server
from mochi.flock.view import GroupView


def flock_provider(name, provider_id, groupfile):
    return {
        "name": name,
        "type": "flock",
        "provider_id": provider_id,
        "config": {
            "bootstrap": "self",
            "group": {"type": "static", "config": {}},
            "file": str(groupfile),
        },
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("bedrock")


@pytest.fixture(scope="module")
def server(workdir):
    config = {
        "libraries": ["libflock-bedrock-module.so"],
        "providers": [flock_provider("my_group", 1, workdir / "my_group.flock")],
    }
    s = Server("na+sm", config=config)
    yield s
    s.finalize()


@pytest.fixture(scope="module")
def client():
    c = Client("na+sm")
    yield c
    c.close()


@pytest.fixture
def handle(server, client):
    return client.make_service_handle(server.address)


# -- server ---------------------------------------------------------------

def test_server_config(server, workdir):
    config = server.config
    assert isinstance(config, dict)
    for key in ("margo", "bedrock", "providers", "libraries"):
        assert key in config
    assert server.address.startswith("na+sm://")
    assert config["margo"]["mercury"]["address"] == server.address
    assert server.addresses == [server.address]
    providers = config["providers"]
    assert [p["name"] for p in providers] == ["my_group"]
    assert providers[0]["type"] == "flock"
    assert providers[0]["provider_id"] == 1
    assert config["bedrock"]["provider_id"] == 0
    # the flock provider wrote its group file, with this server as member
    view = GroupView.from_file(str(workdir / "my_group.flock"))
    assert [(m.address, m.provider_id) for m in view.members] == [(server.address, 1)]


def test_server_default_config():
    with Server("na+sm") as s:
        config = s.config
        assert config["providers"] == []
        assert "margo" in config
    assert s.finalized
    with pytest.raises(BedrockException):
        s.config


def test_server_config_from_json_string_and_toml():
    with Server("na+sm", config='{"margo": {"argobots": {"pools": [{"name": "p1"}]}}}') as s:
        names = [p["name"] for p in s.config["margo"]["argobots"]["pools"]]
        assert "p1" in names
    toml = '[[margo.argobots.pools]]\nname = "p2"\n'
    with Server("na+sm", config=toml, config_type=ConfigType.TOML) as s:
        names = [p["name"] for p in s.config["margo"]["argobots"]["pools"]]
        assert "p2" in names


def test_invalid_configs_raise():
    with pytest.raises(BedrockException):
        Server("na+sm", config="{[")
    with pytest.raises(BedrockException):
        Server("na+sm", config={"providers": [{"name": "x", "type": "module_invalid"}]})
    with pytest.raises(BedrockException):
        Server("na+sm", config={"libraries": ["libdoesnotexist.so"]})
    with pytest.raises(BedrockException) as e:
        Server("na+sm", config="return $config;", config_type=ConfigType.JX9)
    assert "Jx9" in str(e.value)


def test_unavailable_server_managers(server):
    # With a libmochi older than the bedrock_server_* management functions,
    # the managers still list (from the config) but each change raises
    # NotImplementedError naming the missing function.
    from mochi import _lib
    missing = [n for n in _lib.SERVER_MANAGEMENT if not _lib.has(n)]
    if not missing:
        pytest.skip("libmochi exports every bedrock_server_* management function "
                    "(covered by test_bedrock_managers.py)")
    assert [p.name for p in server.providers] == ["my_group"]
    assert "__primary__" in server.margo.pools
    calls = {
        "bedrock_server_add_pool": lambda: server.margo.pools.create({"name": "p"}),
        "bedrock_server_remove_pool": lambda: server.margo.pools.__delitem__("__primary__"),
        "bedrock_server_add_xstream": lambda: server.margo.xstreams.create({"name": "x"}),
        "bedrock_server_remove_xstream": lambda: server.margo.xstreams.__delitem__(0),
        "bedrock_server_add_provider": lambda: server.providers.create("p", "flock"),
        "bedrock_server_remove_provider": lambda: server.providers.__delitem__("my_group"),
        "bedrock_server_get_margo_instance": lambda: server.margo.mid,
        "bedrock_server_load_module": lambda: server.load_module("libx.so"),
    }
    for name in missing:
        with pytest.raises(NotImplementedError, match=name):
            calls[name]()


def test_wait_for_finalize_and_remote_shutdown(client):
    s = Server("na+sm")
    done = threading.Event()

    def wait():
        s.wait_for_finalize()
        done.set()

    t = threading.Thread(target=wait)
    t.start()
    client.make_service_handle(s.address).shutdown()
    t.join(timeout=10)
    assert done.is_set()
    assert s.finalized


def test_finalize_while_another_thread_waits():
    s = Server("na+sm")
    t = threading.Thread(target=s.wait_for_finalize)
    t.start()
    # let the thread enter bedrock_server_wait_for_finalize
    import time
    for _ in range(100):
        if s._waiters:
            break
        time.sleep(0.01)
    s.finalize()
    t.join(timeout=10)
    assert not t.is_alive()
    assert s.finalized


# -- client -----------------------------------------------------------------

def test_client_from_engine(server):
    with margo.Engine("na+sm", margo.CLIENT) as e:
        c = Client(e)
        assert c.engine is e
        h = c.make_service_handle(e.lookup(server.address))
        assert h.address == server.address
        assert "providers" in h.config
        c.close()
    with pytest.raises(TypeError):
        Client(3.5)


def test_service_handle_config(handle, server):
    assert isinstance(handle, ServiceHandle)
    assert handle.provider_id == 0
    config = handle.config
    for key in ("margo", "bedrock", "providers", "libraries"):
        assert key in config
    assert config["margo"]["mercury"]["address"] == server.address


def test_add_and_remove_pool(handle):
    def pools():
        return [p["name"] for p in handle.config["margo"]["argobots"]["pools"]]

    handle.add_pool({"name": "my_pool1", "kind": "fifo_wait", "access": "mpmc"})
    assert "my_pool1" in pools()
    handle.add_pool('{"name": "my_pool2"}')
    assert "my_pool2" in pools()
    with pytest.raises(ClientException):
        handle.add_pool({"name": "my_pool1"})            # duplicate
    with pytest.raises(ClientException):
        handle.add_pool("1234")
    handle.remove_pool("my_pool1")
    handle.remove_pool("my_pool2")
    assert "my_pool1" not in pools() and "my_pool2" not in pools()
    with pytest.raises(ClientException):
        handle.remove_pool("my_pool1")


def test_add_and_remove_xstream(handle):
    def xstreams():
        return [x["name"] for x in handle.config["margo"]["argobots"]["xstreams"]]

    handle.add_xstream({"name": "my_es1",
                        "scheduler": {"type": "basic_wait", "pools": ["__primary__"]}})
    assert "my_es1" in xstreams()
    handle.remove_xstream("my_es1")
    assert "my_es1" not in xstreams()
    with pytest.raises(ClientException):
        handle.remove_xstream("my_es1")


def test_add_provider(handle, workdir):
    pid = handle.add_provider(flock_provider("second_group", 2, workdir / "second.flock"))
    assert pid == 2
    providers = {p["name"]: p for p in handle.config["providers"]}
    assert providers["second_group"]["provider_id"] == 2
    assert providers["second_group"]["type"] == "flock"
    # 65535 = "pick one"; a str description works too
    desc = flock_provider("third_group", 65535, workdir / "third.flock")
    pid3 = handle.add_provider(json.dumps(desc))
    assert pid3 not in (0xFFFF, 1, 2)
    with pytest.raises(ClientException):
        handle.add_provider(flock_provider("second_group", 9, workdir / "x.flock"))  # name taken
    with pytest.raises(ClientException):
        handle.add_provider({"name": "bad", "type": "module_x"})
    # the new provider answers Flock requests
    from mochi.flock.client import Client as FlockClient
    with FlockClient("na+sm") as fc:
        view = fc.make_group_handle(handle.address, 2).view
        assert [m.provider_id for m in view.members] == [2]


def test_load_module(handle):
    handle.load_module("libflock-bedrock-module.so")       # built in
    assert "libflock-bedrock-module.so" in json.dumps(handle.config["libraries"])
    with pytest.raises(ClientException) as e:
        handle.load_module("./libModuleX.so")
    assert "libModuleX.so" in str(e.value)


def test_query_not_supported(handle):
    with pytest.raises(ClientException) as e:
        handle.query("return $__config__.margo.argobots;")
    assert "not supported" in str(e.value)
    assert e.value.code == 3        # BEDROCK_ERR_NOT_SUPPORTED


def test_service_group_handle_from_flock_file(client, server, workdir):
    group = client.make_service_group_handle_from_flock(str(workdir / "my_group.flock"))
    assert isinstance(group, ServiceGroupHandle)
    assert len(group) == 1 and group.size == 1
    assert group[0].address == server.address
    assert group[-1].address == server.address
    with pytest.raises(IndexError):
        group[1]
    # Upstream raises ClientException there: ours is both.
    with pytest.raises(ClientException):
        group[1]
    config = group.config
    assert list(config) == [server.address]
    assert "providers" in config[server.address]
    group.refresh()     # the file's view: nothing changes
    assert len(group) == 1
    with pytest.raises(ClientException):
        group.query("return 1;")
    with pytest.raises(ClientException):
        client.make_service_group_handle_from_flock(str(workdir / "absent.flock"))


def test_service_group_handle_from_addresses(client, server):
    group = client.make_service_group_handle([server.address])
    assert len(group) == 1
    assert group[0].address == server.address
    assert list(group.config) == [server.address]
    with pytest.raises(ClientException):
        group.refresh()
