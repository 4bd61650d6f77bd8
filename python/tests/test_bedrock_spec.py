"""mochi.bedrock.spec: building, checking and converting specs, and using
them with a Server and a ServiceHandle."""

import json

import pytest

from mochi.bedrock.client import Client
from mochi.bedrock.server import Server
from mochi.bedrock.spec import (ArgobotsSpec, BedrockSpec, MargoSpec, MercurySpec,
                                PlumberSpec, PoolSpec, ProcSpec, ProviderSpec,
                                SchedulerSpec, ServiceSpec, SpecListDecorator,
                                XstreamSpec)


def flock_spec(name, provider_id, groupfile):
    return ProviderSpec(name=name, type="flock", provider_id=provider_id,
                        config={"bootstrap": "self", "group": {"type": "static"},
                                "file": str(groupfile)})


# -- defaults and checks ---------------------------------------------------

def test_mercury_defaults_and_checks():
    m = MercurySpec(address="na+sm")
    assert m.protocol == "na+sm"
    assert MercurySpec(address="ofi+tcp://127.0.0.1:1234").protocol == "ofi+tcp"
    d = m.to_dict()
    assert d["listening"] is True and d["max_contexts"] == 1
    assert d["request_post_init"] == 256 and d["input_eager_size"] == 4080
    assert d["checksum_level"] == "none" and d["na_addr_format"] == "unspec"
    assert d["log_level"] == "warning" and d["log_subsys"] == "hg,na"
    assert "sm_info_string" not in d          # optional, left out when None
    with pytest.raises(TypeError):
        MercurySpec(address=3)
    with pytest.raises(TypeError):
        MercurySpec()                          # address is required
    with pytest.raises(ValueError):
        MercurySpec(address="na+sm", checksum_level="md5")
    with pytest.raises(TypeError):
        MercurySpec(address="na+sm", listening=1)
    with pytest.raises(TypeError):
        MercurySpec(address="na+sm", max_contexts=True)   # bool is not an int here
    with pytest.raises(ValueError):
        MercurySpec(address="na+sm", request_post_init=-1)
    with pytest.raises(TypeError, match="colour"):
        MercurySpec(address="na+sm", colour="red")
    with pytest.raises(ValueError):
        m.na_addr_format = "ipv5"              # checked on assignment too
    assert m.na_addr_format == "unspec"


def test_pool_spec():
    p = PoolSpec(name="my_pool")
    assert (p.kind, p.access) == ("fifo_wait", "mpmc")
    assert p.to_dict() == {"name": "my_pool", "kind": "fifo_wait", "access": "mpmc"}
    with pytest.raises(ValueError, match="identifier"):
        PoolSpec(name="1pool")
    with pytest.raises(ValueError):
        PoolSpec(name="p", kind="lifo")
    with pytest.raises(ValueError):
        PoolSpec(name="p", access="everyone")
    with pytest.raises(AttributeError):
        p.name = "other"                       # a pool's name is fixed
    p.kind = "prio_wait"
    assert p.kind == "prio_wait"
    # pools are referred to as objects: equal only to themselves
    assert p != PoolSpec(name="my_pool", kind="prio_wait")
    with pytest.raises(AttributeError):
        p.colour = "red"


def test_scheduler_and_xstream_spec():
    pool = PoolSpec(name="p")
    sched = SchedulerSpec(pools=[pool])
    assert sched.type == "basic_wait"
    assert sched.to_dict() == {"type": "basic_wait", "pools": ["p"]}
    with pytest.raises(ValueError):
        SchedulerSpec(pools=[])
    with pytest.raises(TypeError):
        SchedulerSpec(pools=["p"])             # PoolSpec objects, not names
    with pytest.raises(ValueError):
        SchedulerSpec(pools=[pool], type="fastest")
    es = XstreamSpec(name="es", scheduler=sched)
    assert es.to_dict() == {"name": "es", "cpubind": -1, "affinity": [],
                            "scheduler": {"type": "basic_wait", "pools": ["p"]}}
    with pytest.raises(TypeError):
        XstreamSpec(name="es", scheduler=sched, affinity=[1, "2"])
    with pytest.raises(ValueError):
        XstreamSpec(name="es", scheduler=sched, cpubind=-2)


def test_argobots_defaults_and_lists():
    abt = ArgobotsSpec()
    assert [p.name for p in abt.pools] == ["__primary__"]
    assert [x.name for x in abt.xstreams] == ["__primary__"]
    assert abt.xstreams[0].scheduler.pools[0] is abt.pools["__primary__"]
    d = abt.to_dict()
    assert (d["abt_mem_max_num_stacks"], d["abt_thread_stacksize"]) == (8, 2097152)
    assert d["lazy_stack_alloc"] is False and d["profiling_dir"] == "."

    pools = abt.pools
    assert isinstance(pools, SpecListDecorator)
    p = pools.add(name="extra", kind="fifo")
    assert len(abt.pools) == 2 and "extra" in pools and p in pools
    assert pools.index("extra") == 1 and pools[-1] is p
    with pytest.raises(ValueError):
        pools.append(PoolSpec(name="extra"))   # names stay unique
    with pytest.raises(TypeError):
        pools.append(XstreamSpec(name="x", scheduler=SchedulerSpec(pools=[p])))
    with pytest.raises(KeyError):
        pools["absent"]
    with pytest.raises(TypeError):
        pools[1.5]
    abt.xstreams.add(name="es2", scheduler=SchedulerSpec(pools=[p]))
    abt.validate()
    # a scheduler may only use pools of its ArgobotsSpec
    stranger = PoolSpec(name="stranger")
    abt.xstreams.add(name="es3", scheduler=SchedulerSpec(pools=[stranger]))
    with pytest.raises(ValueError, match="stranger"):
        abt.validate()
    del abt.xstreams["es3"]
    abt.validate()
    with pytest.raises(ValueError):
        ArgobotsSpec(abt_thread_stacksize=0)
    with pytest.raises(ValueError):
        ArgobotsSpec(pools=[PoolSpec(name="a"), PoolSpec(name="a")])
    with pytest.raises(AttributeError):
        abt.pools = []


def test_margo_spec():
    m = MargoSpec(mercury="na+sm")
    assert isinstance(m.mercury, MercurySpec) and m.mercury.address == "na+sm"
    assert m.progress_pool is m.argobots.pools[0] and m.rpc_pool is m.argobots.pools[0]
    assert isinstance(m.plumber, PlumberSpec)
    d = m.to_dict()
    assert d["progress_pool"] == d["rpc_pool"] == "__primary__"
    assert (d["progress_timeout_ub_msec"], d["progress_spindown_msec"],
            d["handle_cache_size"]) == (100, 10, 32)
    assert d["plumber"] == {"bucket_policy": "package", "nic_policy": "roundrobin"}
    assert MargoSpec(mercury={"address": "na+sm", "auto_sm": True}).mercury.auto_sm is True
    with pytest.raises(TypeError):
        MargoSpec(mercury=12)
    with pytest.raises(TypeError):
        MargoSpec(mercury="na+sm", rpc_pool="__primary__")   # a PoolSpec is needed
    m.rpc_pool = PoolSpec(name="elsewhere")
    with pytest.raises(ValueError, match="rpc_pool"):
        m.validate()
    m.rpc_pool = m.argobots.pools[0]
    m.validate()
    # from_dict takes pool names (or indices) and an address string
    m2 = MargoSpec.from_dict({"mercury": "na+sm",
                              "argobots": {"pools": [{"name": "a"}, {"name": "b"}]},
                              "rpc_pool": "b", "progress_pool": 0})
    assert (m2.rpc_pool.name, m2.progress_pool.name) == ("b", "a")
    assert [x.name for x in m2.argobots.xstreams] == ["__primary__"]
    with pytest.raises(ValueError, match="nope"):
        MargoSpec.from_dict({"mercury": "na+sm", "rpc_pool": "nope"})
    with pytest.raises(ValueError, match="mercury"):
        MargoSpec.from_dict({})
    with pytest.raises(TypeError, match="use_progress_thread"):
        MargoSpec.from_dict({"mercury": "na+sm", "use_progress_thread": True})


def test_provider_and_bedrock_spec():
    p = ProviderSpec(name="my_provider", type="module_a")
    assert p.to_dict() == {"name": "my_provider", "type": "module_a", "provider_id": 0,
                           "dependencies": {}, "config": {}, "tags": [], "engine": 0}
    p.dependencies = {"pool": "__primary__", "peers": ["a", 1]}
    with pytest.raises(TypeError):
        p.dependencies = {"pool": 1.5}
    with pytest.raises(ValueError):
        ProviderSpec(name="bad name", type="t")
    with pytest.raises(ValueError):
        ProviderSpec(name="p", type="t", provider_id=70000)
    with pytest.raises(TypeError):
        ProviderSpec(name="p", type="t", config="{}")
    with pytest.raises(TypeError):
        ProviderSpec(name="p", type="t", tags=[1])
    with pytest.raises(AttributeError):
        p.type = "module_b"
    assert ProviderSpec.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="type"):
        ProviderSpec.from_dict({"name": "p"})

    pool = PoolSpec(name="__primary__")
    b = BedrockSpec(pool=pool)
    assert b.to_dict() == {"pool": "__primary__", "provider_id": 0}
    assert BedrockSpec.from_dict(b.to_dict(), ArgobotsSpec()).pool.name == "__primary__"
    with pytest.raises(TypeError):
        BedrockSpec(pool="__primary__")
    with pytest.raises(ValueError):
        BedrockSpec.from_dict({"pool": "absent"}, ArgobotsSpec())


def test_json_round_trips():
    proc = ProcSpec(margo="na+sm", libraries=["libflock-bedrock-module.so"])
    proc.margo.argobots.pools.add(name="p1", kind="fifo", access="spsc")
    proc.margo.argobots.xstreams.add(
        name="es1", cpubind=2, affinity=[2, 3],
        scheduler=SchedulerSpec(type="prio", pools=[proc.margo.argobots.pools["p1"]]))
    proc.margo.rpc_pool = proc.margo.argobots.pools["p1"]
    proc.providers.add(name="a", type="module_a", provider_id=3, tags=["t"],
                       dependencies={"pool": "p1"}, config={"x": [1, 2]})
    proc.validate()
    for cls, obj, extra in [
            (ProcSpec, proc, ()),
            (MargoSpec, proc.margo, ()),
            (ArgobotsSpec, proc.margo.argobots, ()),
            (MercurySpec, proc.margo.mercury, ()),
            (PlumberSpec, proc.margo.plumber, ()),
            (PoolSpec, proc.margo.argobots.pools["p1"], ()),
            (ProviderSpec, proc.providers["a"], ()),
            (XstreamSpec, proc.margo.argobots.xstreams["es1"], (proc.margo.argobots,)),
            (SchedulerSpec, proc.margo.argobots.xstreams["es1"].scheduler,
             (proc.margo.argobots,)),
            (BedrockSpec, proc.bedrock, (proc.margo.argobots,))]:
        again = cls.from_json(obj.to_json(), *extra)
        assert type(again) is cls
        assert again.to_dict() == obj.to_dict(), cls.__name__
        assert cls.from_dict(json.loads(obj.to_json(indent=2)), *extra).to_dict() == obj.to_dict()
    again = ProcSpec.from_json(proc.to_json())
    again.validate()
    # references are rebuilt as objects of the new spec
    assert again.margo.rpc_pool is again.margo.argobots.pools["p1"]
    assert again.margo.argobots.xstreams["es1"].scheduler.pools[0] is again.margo.rpc_pool
    assert again == proc
    # the Bedrock pool defaulted to the rpc pool of the time: __primary__
    assert again.bedrock.pool is again.margo.argobots.pools["__primary__"]


def test_from_dict_rejects_bad_input():
    with pytest.raises(TypeError, match="unknown"):
        ProcSpec.from_dict({"margo": {"mercury": "na+sm"}, "clients": {}})
    with pytest.raises(TypeError, match="unknown"):
        PoolSpec.from_dict({"name": "p", "type": "fifo"})   # "kind", not "type"
    with pytest.raises(TypeError):
        ProcSpec.from_dict([])
    with pytest.raises(ValueError, match="margo"):
        ProcSpec.from_dict({})
    with pytest.raises(ValueError, match="absent"):
        XstreamSpec.from_dict({"name": "x", "scheduler": {"pools": ["absent"]}},
                              ArgobotsSpec())
    with pytest.raises(ValueError):
        ProcSpec.from_json('{"margo": {"mercury": "na+sm"}, "bedrock": {"pool": "zz"}}')


def test_proc_spec_validation():
    proc = ProcSpec(margo="na+sm")
    assert proc.bedrock.pool is proc.margo.rpc_pool and proc.bedrock.provider_id == 0
    proc.validate()
    proc.providers.add(name="a", type="t")              # provider_id 0: Bedrock's
    with pytest.raises(ValueError, match="Bedrock"):
        proc.validate()
    proc.providers["a"].provider_id = 65535             # "any": fine, even twice
    proc.providers.add(name="b", type="t", provider_id=65535)
    proc.validate()
    proc.providers.add(name="c", type="t", provider_id=7)
    proc.providers.add(name="d", type="t", provider_id=7)
    with pytest.raises(ValueError, match="7"):
        proc.validate()
    del proc.providers["d"]
    proc.providers["c"].engine = 1                      # only one engine
    with pytest.raises(ValueError, match="engine"):
        proc.validate()
    proc.providers["c"].engine = 0
    with pytest.raises(ValueError):
        proc.providers.add(name="c", type="t")
    proc.libraries.append(3)
    with pytest.raises(TypeError):
        proc.validate()
    with pytest.raises(TypeError):
        ProcSpec(margo=3)
    with pytest.raises(TypeError):
        ProcSpec(margo="na+sm", providers=[{"name": "a", "type": "t"}])


def test_service_spec():
    procs = [ProcSpec(margo="na+sm") for _ in range(2)]
    procs[1].providers.add(name="b", type="t", provider_id=1,
                           dependencies={"peer": "a@0"})
    service = ServiceSpec(processes=procs)
    service.validate()
    assert len(service.processes) == 2 and service.processes[1] is procs[1]
    text = service.to_json()
    assert isinstance(json.loads(text), list)            # a list of process configs
    again = ServiceSpec.from_json(text)
    assert again.to_dict() == service.to_dict()
    assert ServiceSpec.from_dict(service.to_dict()).to_dict() == service.to_dict()
    procs[1].providers["b"].dependencies = {"peer": ["a@0", "a@5"]}
    with pytest.raises(ValueError, match="rank 5"):
        service.validate()
    with pytest.raises(TypeError):
        ServiceSpec.from_json('{"processes": []}')
    with pytest.raises(TypeError):
        service.processes.append(MargoSpec(mercury="na+sm"))


# -- multiple engines (upstream test_multi_engine_spec) ----------------------

def test_multi_engine_spec():
    assert isinstance(ProcSpec(margo="na+sm").margo, MargoSpec)
    m = MargoSpec(mercury="na+sm")
    assert ProcSpec(margo=m).margo is m
    for margo in (["na+sm", "na+sm"], [MargoSpec(mercury="na+sm"), {"mercury": "na+sm"}]):
        p = ProcSpec(margo=margo)
        assert isinstance(p.margo, list) and len(p.margo) == 2
        assert all(isinstance(x, MargoSpec) for x in p.margo)
        assert p.bedrock.pool is p.margo[0].rpc_pool
        d = p.to_dict()
        assert isinstance(d["margo"], list) and len(d["margo"]) == 2
        # engines after the first share its Argobots environment
        assert "argobots" in d["margo"][0] and "argobots" not in d["margo"][1]
        p2 = ProcSpec.from_json(p.to_json())
        assert isinstance(p2.margo, list) and len(p2.margo) == 2
        assert p2.margo[1].argobots is p2.margo[0].argobots
        assert p2.to_dict() == d
        p2.validate()
    with pytest.raises(ValueError):
        ProcSpec(margo=[])
    d = ProcSpec(margo="na+sm").to_dict()
    assert isinstance(d["margo"], dict)
    assert isinstance(ProcSpec.from_dict(d).margo, MargoSpec)
    # a child engine's pools must be the first engine's
    p = ProcSpec(margo=["na+sm", "na+sm"])
    p.margo[1].argobots.pools.add(name="own")
    p.margo[1].rpc_pool = p.margo[1].argobots.pools["own"]
    with pytest.raises(ValueError, match="first engine"):
        p.validate()


def test_server_with_multi_engine_spec():
    p = ProcSpec(margo=["na+sm", "na+sm"])
    with Server.from_spec(p) as server:
        assert len(server.addresses) == 2
        assert len(set(server.addresses)) == 2
        spec = server.spec
        assert isinstance(spec.margo, list) and len(spec.margo) == 2
        assert [m.mercury.address for m in spec.margo] == server.addresses
        spec.validate()


# -- with a server -----------------------------------------------------------

def test_server_from_proc_spec(tmp_path):
    proc = ProcSpec(margo="na+sm", libraries=["libflock-bedrock-module.so"])
    proc.margo.argobots.pools.add(name="my_pool", kind="fifo", access="mpmc")
    proc.providers.append(flock_spec("my_group", 4, tmp_path / "g.flock"))
    with Server("na+sm", config=proc) as server:
        config = server.config
        assert "my_pool" in [p["name"] for p in config["margo"]["argobots"]["pools"]]
        assert [(p["name"], p["provider_id"]) for p in config["providers"]] == [("my_group", 4)]
        spec = server.spec
        assert isinstance(spec, ProcSpec)
        spec.validate()
        assert spec.margo.mercury.address == server.address
        assert spec.margo.argobots.pools["my_pool"].kind == "fifo"
        assert spec.providers["my_group"].provider_id == 4
        assert spec.libraries == ["libflock-bedrock-module.so"]
        assert spec.bedrock.provider_id == 0
    with Server.from_spec(proc) as server:      # address from the spec: "na+sm"
        assert server.address.startswith("na+sm://")
    with pytest.raises(TypeError):
        Server.from_spec(proc.to_dict())
    with pytest.raises(TypeError):
        Server("na+sm", config=proc.margo)      # only a whole ProcSpec is a config


def test_effective_config_feeds_a_new_server():
    # What a server reports, read as a ProcSpec, starts an identical server.
    with Server("na+sm", config={"margo": {"use_progress_thread": True,
                                           "rpc_thread_count": 2}}) as server:
        spec = server.spec
        first = server.config
    assert spec.margo.progress_pool.name == "__pool_1__"
    assert spec.bedrock.pool.name == "__pool_2__"
    spec.margo.mercury.address = "na+sm"
    with Server.from_spec(spec) as server:
        second = server.config
    # The same, once read as specs (the daemon reports the cpubind/affinity
    # the spec gave it, and a different address).
    first, second = ProcSpec.from_dict(first).to_dict(), ProcSpec.from_dict(second).to_dict()
    for c in (first, second):
        del c["margo"]["mercury"]["address"]
    assert second == first


def test_service_handle_spec_and_spec_arguments(tmp_path):
    with Server("na+sm", config={"libraries": ["libflock-bedrock-module.so"]}) as server, \
            Client("na+sm") as client:
        handle = client.make_service_handle(server.address)
        spec = handle.spec
        assert isinstance(spec, ProcSpec)
        assert spec.margo.mercury.address == server.address

        def pools():
            return [p.name for p in handle.spec.margo.argobots.pools]

        handle.add_pool(PoolSpec(name="sp_pool", kind="fifo"))
        assert "sp_pool" in pools()
        spec = handle.spec
        handle.add_xstream(XstreamSpec(
            name="sp_es", scheduler=SchedulerSpec(pools=[spec.margo.argobots.pools["sp_pool"]])))
        assert "sp_es" in [x.name for x in handle.spec.margo.argobots.xstreams]
        pid = handle.add_provider(flock_spec("sp_group", 65535, tmp_path / "sp.flock"))
        assert handle.spec.providers["sp_group"].provider_id == pid
        with pytest.raises(TypeError):
            handle.add_pool(XstreamSpec(name="x", scheduler=SchedulerSpec(
                pools=[PoolSpec(name="sp_pool")])))
        with pytest.raises(TypeError):
            handle.add_provider(PoolSpec(name="p"))
        with pytest.raises(TypeError):
            handle.add_xstream(42)

        group = client.make_service_group_handle([server.address])
        specs = group.spec
        assert list(specs) == [server.address]
        assert isinstance(specs[server.address], ProcSpec)
        assert "sp_group" in specs[server.address].providers
