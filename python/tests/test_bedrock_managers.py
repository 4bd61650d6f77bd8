"""Server.margo (MargoManager) and Server.providers (ProviderManager),
after upstream's test_margo_manager.py / test_provider_manager.py. They
need libmochi's bedrock_server_* management functions."""

import ctypes

import pytest

from mochi import _lib
from mochi.bedrock import BedrockException
import mochi.bedrock.server as mbs
from mochi.bedrock.spec import MargoSpec, PoolSpec, ProviderSpec, SchedulerSpec, XstreamSpec

_MISSING = [n for n in _lib.SERVER_MANAGEMENT if not _lib.has(n)]
needs_management = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"{_lib.path} lacks {', '.join(_MISSING)} (rebuild libmochi with the "
           "bedrock_server_* management functions to run this test)")


def flock_config(groupfile):
    return {"bootstrap": "self", "group": {"type": "static"}, "file": str(groupfile)}


@pytest.fixture
def margo_server():
    config = {"margo": {"argobots": {
        "pools": [{"name": "my_pool", "kind": "fifo_wait", "access": "mpmc"}],
        "xstreams": [{"name": "my_xstream",
                      "scheduler": {"type": "basic_wait", "pools": ["my_pool"]}}]}}}
    server = mbs.Server("na+sm", config=config)
    yield server
    server.finalize()


@pytest.fixture
def provider_server(tmp_path):
    config = {
        "libraries": ["libflock-bedrock-module.so"],
        "providers": [
            {"name": "my_provider_A", "type": "flock", "provider_id": 1,
             "config": flock_config(tmp_path / "a.flock")},
            {"name": "my_providerB", "type": "flock", "provider_id": 2,
             "config": flock_config(tmp_path / "b.flock"), "__if__": False},
        ],
    }
    server = mbs.Server("na+sm", config=config)
    yield server
    server.finalize()


# -- MargoManager: reading ----------------------------------------------------

def test_margo_manager_config_and_spec(margo_server):
    margo = margo_server.margo
    assert isinstance(margo, mbs.MargoManager)
    config = margo.config
    assert isinstance(config, dict)
    assert "mercury" in config and "argobots" in config
    assert len(config["argobots"]["pools"]) == 2          # my_pool + __primary__
    spec = margo.spec
    assert isinstance(spec, MargoSpec)
    assert spec.argobots.pools["my_pool"].kind == "fifo_wait"
    assert margo.num_engines == 1


def test_default_handler_pool(margo_server):
    pool = margo_server.margo.default_handler_pool
    assert isinstance(pool, mbs.Pool)
    assert (pool.name, pool.type) == ("__primary__", "pool")


def test_pool_list(margo_server):
    pools = margo_server.margo.pools
    assert isinstance(pools, mbs.PoolList)
    assert len(pools) == 2
    assert "my_pool" in pools and "not_my_pool" not in pools
    my_pool = pools["my_pool"]
    assert isinstance(my_pool, mbs.Pool)
    assert (my_pool.name, my_pool.type) == ("my_pool", "pool")
    assert pools[0] == my_pool and pools[1].name == "__primary__"
    assert [p.name for p in pools] == ["my_pool", "__primary__"]
    with pytest.raises(BedrockException):
        pools["not_my_pool"]
    with pytest.raises(BedrockException):
        pools[2]
    # Upstream's bindings raise ClientException here when their client
    # module was imported last: ours is both.
    from mochi.bedrock import ClientException
    with pytest.raises(ClientException):
        pools["not_my_pool"]
    with pytest.raises(TypeError):
        pools[1.0]


def test_xstream_list(margo_server):
    xstreams = margo_server.margo.xstreams
    assert isinstance(xstreams, mbs.XstreamList)
    assert len(xstreams) == 2
    assert "my_xstream" in xstreams and "not_my_xstream" not in xstreams
    es = xstreams["my_xstream"]
    assert isinstance(es, mbs.Xstream)
    assert (es.name, es.type) == ("my_xstream", "xstream")


# -- MargoManager: changes ------------------------------------------------------

@needs_management
def test_add_and_remove_pool(margo_server):
    pools = margo_server.margo.pools
    created = pools.create({"name": "my_pool_2", "kind": "fifo", "access": "mpmc"})
    assert (created.name, created.type) == ("my_pool_2", "pool")
    assert len(pools) == 3 and pools["my_pool_2"] == created
    assert margo_server.margo.spec.argobots.pools["my_pool_2"].kind == "fifo"
    del pools["my_pool_2"]
    assert len(pools) == 2
    with pytest.raises(BedrockException):
        pools["my_pool_2"]
    with pytest.raises(BedrockException):
        del pools["my_pool_2"]


@needs_management
def test_add_pool_from_spec_and_str(margo_server):
    pools = margo_server.margo.pools
    pools.create(PoolSpec(name="from_spec", kind="fifo", access="mpmc"))
    pools.create('{"name": "from_str"}')
    assert len(pools) == 4 and "from_spec" in pools and "from_str" in pools
    unnamed = pools.create({})                     # the server names it
    assert unnamed.name in pools and len(pools) == 5
    with pytest.raises(BedrockException):
        pools.create({"name": "from_spec"})        # duplicate
    with pytest.raises(BedrockException):
        pools.create("1234")
    with pytest.raises(TypeError):
        pools.create(XstreamSpec(name="x", scheduler=SchedulerSpec(pools=[PoolSpec(name="p")])))


@needs_management
def test_remove_pool_in_use(margo_server):
    with pytest.raises(BedrockException):
        del margo_server.margo.pools["my_pool"]    # my_xstream runs it
    assert "my_pool" in margo_server.margo.pools


@needs_management
def test_add_and_remove_xstream(margo_server):
    xstreams = margo_server.margo.xstreams
    es = xstreams.create({"name": "my_xstream_2",
                          "scheduler": {"type": "basic_wait", "pools": ["my_pool"]}})
    assert (es.name, es.type) == ("my_xstream_2", "xstream")
    assert len(xstreams) == 3
    del xstreams["my_xstream_2"]
    assert len(xstreams) == 2
    with pytest.raises(BedrockException):
        xstreams["my_xstream_2"]
    with pytest.raises(BedrockException):
        xstreams.create({"name": "bad", "scheduler": {"pools": ["no_such_pool"]}})


@needs_management
def test_add_xstream_from_spec(margo_server):
    spec = margo_server.margo.spec
    es = XstreamSpec(name="my_xstream_2",
                     scheduler=SchedulerSpec(pools=[spec.argobots.pools["my_pool"]],
                                             type="basic_wait"))
    margo_server.margo.xstreams.create(es)
    xstreams = margo_server.margo.xstreams
    assert len(xstreams) == 3 and xstreams["my_xstream_2"].type == "xstream"
    # by index: the new one is last
    del xstreams[2]
    assert "my_xstream_2" not in xstreams


@needs_management
def test_margo_instance_ids():
    with mbs.Server("na+sm", config={"margo": [{}, {}]}) as server:
        margo = server.margo
        assert margo.num_engines == 2
        assert isinstance(server.config["margo"], list)
        mid0, mid1 = margo.get_mid(0), margo.get_mid(1)
        assert isinstance(mid0, ctypes.c_void_p) and mid0.value and mid1.value
        assert mid0.value != mid1.value and margo.mid.value == mid0.value
        # the instance is the server's: margo reports the server's address
        config = _lib.take_string(_lib.lib.margo_get_config(mid1))
        assert server.addresses[1] in config
        with pytest.raises(BedrockException, match="out of range"):
            margo.get_mid(2)
        spec = margo.spec
        assert isinstance(spec, list) and spec[1].argobots is spec[0].argobots
    with mbs.Server("na+sm") as server:
        assert server.margo.num_engines == 1
        assert isinstance(server.config["margo"], dict)


# -- ProviderManager -------------------------------------------------------------

def test_provider_manager_lookups(provider_server):
    providers = provider_server.providers
    assert isinstance(providers, mbs.ProviderManager)
    assert len(providers) == 1                     # my_providerB was filtered out (__if__)
    assert "my_provider_A" in providers and "not_my_provider_A" not in providers
    a, b = providers[0], providers["my_provider_A"]
    assert isinstance(a, mbs.Provider)
    assert (a.name, a.type, a.provider_id) == (b.name, b.type, b.provider_id) \
        == ("my_provider_A", "flock", 1)
    with pytest.raises(BedrockException):
        providers[1]
    with pytest.raises(BedrockException):
        providers["bla"]
    assert providers.lookup("my_provider_A") == a
    assert providers.lookup("flock:1") == a
    with pytest.raises(BedrockException):
        providers.lookup("flock:9")
    with pytest.raises(NotImplementedError):
        a.change_pool("__primary__")


def test_provider_manager_config_and_spec(provider_server):
    config = provider_server.providers.config
    assert isinstance(config, list) and len(config) == 1
    for key in ("name", "config", "provider_id", "dependencies", "tags", "type"):
        assert key in config[0]
    specs = provider_server.providers.spec
    assert [type(s) for s in specs] == [ProviderSpec]
    assert specs[0].name == "my_provider_A" and specs[0].provider_id == 1


@needs_management
def test_add_and_remove_provider(provider_server, tmp_path):
    providers = provider_server.providers
    created = providers.create(name="my_provider_B", type="flock", provider_id=2,
                               config=flock_config(tmp_path / "b.flock"), tags=["t1"])
    assert (created.name, created.type, created.provider_id) == ("my_provider_B", "flock", 2)
    assert len(providers) == 2
    assert providers[1] == providers["my_provider_B"] == created
    assert providers.spec[1].tags == ["t1"]
    auto = providers.create("my_provider_C", "flock",
                            config=flock_config(tmp_path / "c.flock"))
    assert auto.provider_id not in (0, 1, 2, 65535)    # picked by the server
    del providers["my_provider_B"]
    del providers[f"flock:{auto.provider_id}"]
    assert len(providers) == 1
    with pytest.raises(BedrockException):
        providers[1]
    with pytest.raises(BedrockException):
        providers["my_provider_B"]
    with pytest.raises(BedrockException):
        del providers["my_provider_B"]


@needs_management
def test_provider_creation_errors(provider_server, tmp_path):
    providers = provider_server.providers
    with pytest.raises(BedrockException, match="already used"):
        providers.create("my_provider_A", "flock", config=flock_config(tmp_path / "x.flock"))
    with pytest.raises(BedrockException, match="module_x"):
        providers.create("p", "module_x")
    with pytest.raises(BedrockException):
        providers.create("p", "flock", provider_id=0)   # Bedrock's own id
    with pytest.raises(ValueError):
        providers.create("not valid", "flock")          # checked before the call
    assert len(providers) == 1


@needs_management
def test_provider_pool_dependency(provider_server, tmp_path):
    margo, providers = provider_server.margo, provider_server.providers
    margo.pools.create({"name": "dep_pool"})
    providers.create("by_name", "flock", config=flock_config(tmp_path / "n.flock"),
                     dependencies={"pool": "dep_pool"})
    assert providers.spec[-1].dependencies == {"pool": "dep_pool"}
    providers.create("by_index", "flock", config=flock_config(tmp_path / "i.flock"),
                     dependencies={"pool": 0})
    assert providers.spec[-1].dependencies["pool"] == margo.pools[0].name
    with pytest.raises(BedrockException):
        providers.create("bad_pool", "flock", config=flock_config(tmp_path / "b.flock"),
                         dependencies={"pool": "no_such_pool"})
    with pytest.raises(BedrockException):
        del margo.pools["dep_pool"]                 # by_name uses it
    del providers["by_name"]
    del margo.pools["dep_pool"]
    assert "dep_pool" not in margo.pools


@needs_management
def test_server_load_module(margo_server):
    margo_server.load_module("libflock-bedrock-module.so")
    assert margo_server.config["libraries"] == ["libflock-bedrock-module.so"]
    with pytest.raises(BedrockException, match="libModuleX.so"):
        margo_server.load_module("./libModuleX.so")


@needs_management
def test_managers_after_finalize():
    server = mbs.Server("na+sm")
    pools = server.margo.pools
    server.finalize()
    with pytest.raises(BedrockException, match="finalized"):
        pools.create({"name": "late"})
    with pytest.raises(BedrockException, match="finalized"):
        server.margo.mid


# -- without the library functions ---------------------------------------------------

def test_missing_functions_raise_not_implemented(margo_server, monkeypatch):
    # As with a libmochi that predates them: each change names its function.
    for name in _lib.SERVER_MANAGEMENT:
        monkeypatch.setitem(_lib._missing, name, True)
    margo, providers = margo_server.margo, margo_server.providers
    calls = {
        "bedrock_server_add_pool": lambda: margo.pools.create({"name": "p"}),
        "bedrock_server_remove_pool": lambda: margo.pools.__delitem__("my_pool"),
        "bedrock_server_add_xstream": lambda: margo.xstreams.create({"name": "x"}),
        "bedrock_server_remove_xstream": lambda: margo.xstreams.__delitem__("my_xstream"),
        "bedrock_server_add_provider": lambda: providers.create("p", "flock"),
        "bedrock_server_remove_provider": lambda: providers.__delitem__("p"),
        "bedrock_server_get_margo_instance": lambda: margo.mid,
        "bedrock_server_load_module": lambda: margo_server.load_module("libx.so"),
    }
    assert sorted(calls) == sorted(_lib.SERVER_MANAGEMENT)
    for name, call in calls.items():
        with pytest.raises(NotImplementedError, match=name):
            call()
    # reading still works
    assert len(margo.pools) == 2 and len(providers) == 0
