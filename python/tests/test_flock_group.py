"""mochi.flock.client / mochi.flock.server: providers, group handles,
metadata and subscriptions."""

import json
import os
import threading

import pytest

from mochi import margo
from mochi.flock.client import Client, GroupHandle
from mochi.flock.common import FlockException, ReturnCode
from mochi.flock.server import Provider
from mochi.flock.view import GroupView

STATIC = {"group": {"type": "static", "config": {}}}


@pytest.fixture
def static_group(engine, tmp_path):
    """Three static providers (ids 1..3) on one engine, with a group file."""
    view = GroupView()
    for pid in (1, 2, 3):
        view.members.add(engine.address, pid)
    view.metadata.add("matthieu", "dorier")
    view.metadata.add("shane", "snyder")
    config = dict(STATIC, file=str(tmp_path / "group.flock"))
    providers = [Provider(engine, pid, json.dumps(config), view.copy()) for pid in (1, 2, 3)]
    yield engine, providers, tmp_path / "group.flock"
    for p in providers:
        p.destroy()


def test_client_from_protocol_and_engine(engine):
    c = Client("na+sm")
    assert c.engine.mode == margo.CLIENT
    c.close()
    c2 = Client(engine)
    assert c2.engine is engine
    assert c2.mid.value == engine.mid.value
    c2.close()
    assert not engine.finalized     # not owned
    with pytest.raises(TypeError):
        Client(42)


def test_provider_config_and_view_consumed(engine):
    view = GroupView()
    view.members.add(engine.address, 42)
    p = Provider(engine, 42, STATIC, view)
    assert len(view.members) == 0 and view.digest == 0     # content moved in
    assert json.loads(p.config) == {"gateway": {"type": "default", "config": {}},
                                    "group": {"type": "static", "config": {}}}
    assert p.config == '{"gateway":{"type":"default","config":{}},"group":{"type":"static","config":{}}}'
    p.destroy()
    p.destroy()     # idempotent
    with pytest.raises(FlockException):
        p.config


def test_provider_errors(engine):
    view = GroupView()
    view.members.add(engine.address, 5)
    with pytest.raises(FlockException) as e:
        Provider(engine, 5, "{}", view)                 # no group type
    assert e.value.code == ReturnCode.ERR_INVALID_CONFIG
    assert len(view.members) == 1                        # not consumed on failure
    with pytest.raises(FlockException) as e:
        Provider(engine, 5, "not json", view)
    assert e.value.code == ReturnCode.ERR_INVALID_CONFIG
    with margo.Engine("na+sm", margo.CLIENT) as client_engine:
        with pytest.raises(FlockException) as e:
            Provider(client_engine, 5, STATIC, view)     # not listening
        assert e.value.code == ReturnCode.ERR_INVALID_ARGS


def test_three_provider_group_lists_all_members(static_group):
    engine, providers, _ = static_group
    client = Client(engine)
    gh = client.make_group_handle(engine.address, 2)
    assert isinstance(gh, GroupHandle) and gh.client is client
    gh.update()
    view = gh.view
    assert isinstance(view, GroupView)
    assert [(m.address, m.provider_id) for m in view.members] == [
        (engine.address, 1), (engine.address, 2), (engine.address, 3)]
    assert view.metadata["matthieu"] == "dorier"
    assert view.metadata["shane"] == "snyder"
    assert view.metadata["__type__"] == "static"
    assert len(view.metadata) == 4
    assert view.digest == view._c_digest
    # an Address works as well as a string
    gh2 = client.make_group_handle(engine.lookup(engine.address), 3)
    assert gh2.view == view


def test_wrong_provider_id(static_group):
    engine, _, _ = static_group
    client = Client(engine)
    with pytest.raises(FlockException) as e:
        client.make_group_handle(engine.address, 123)
    assert e.value.code == ReturnCode.ERR_INVALID_PROVIDER


def test_handles_from_file_and_serialized(static_group):
    engine, _, groupfile = static_group
    assert os.path.exists(groupfile)           # written by members[0]
    on_disk = GroupView.from_file(str(groupfile))
    assert len(on_disk.members) == 3
    with Client("na+sm") as client:            # a separate client-mode engine
        gh = client.make_group_handle_from_file(str(groupfile))
        assert gh.view == on_disk
        gh.update()
        assert gh.view == on_disk
        gh2 = client.make_group_handle_from_serialized(str(on_disk))
        assert gh2.view == on_disk
        gh3 = client.make_group_handle_from_serialized(on_disk)
        assert gh3.view.digest == on_disk.digest
        with pytest.raises(FlockException) as e:
            client.make_group_handle_from_serialized("{}")
        assert e.value.code == ReturnCode.ERR_INVALID_CONFIG
        with pytest.raises(FlockException) as e:
            client.make_group_handle_from_file(str(groupfile) + ".absent")
        assert e.value.code == ReturnCode.ERR_INVALID_ARGS
        gh.release()
        with pytest.raises(FlockException):
            gh.update()


@pytest.fixture
def three_engine_group():
    """Three engines with one static provider each (id 7): the realistic
    layout, where a member's handler can call the other members."""
    engines = [margo.Engine("na+sm", margo.SERVER) for _ in range(3)]
    view = GroupView()
    for e in engines:
        view.members.add(e.address, 7)
    providers = [Provider(e, 7, STATIC, view.copy()) for e in engines]
    yield engines, providers
    for p in providers:
        p.destroy()
    for e in engines:
        e.finalize()


def test_metadata_set_and_subscribe(three_engine_group, wait_until):
    engines, providers = three_engine_group
    seen_by_provider = []
    token = providers[2].add_update_callbacks(
        on_metadata=lambda k, v: seen_by_provider.append((k, v)))

    with Client("na+sm") as client:
        setter = client.make_group_handle(engines[0].address, 7)
        watcher = client.make_group_handle(engines[1].address, 7)
        events = []
        lock = threading.Lock()

        def on_membership(kind, address, provider_id):
            with lock:
                events.append(("member", kind, address, provider_id))

        def on_metadata(key, value):
            with lock:
                events.append(("metadata", key, value))

        watcher.subscribe(on_membership, on_metadata)
        setter.metadata_set("color", "blue")
        assert setter.view.metadata["color"] == "blue"
        assert wait_until(lambda: ("metadata", "color", "blue") in events)
        assert watcher.view.metadata["color"] == "blue"     # cached view follows
        assert wait_until(lambda: ("color", "blue") in seen_by_provider)

        # every member has it
        for e in engines:
            h = client.make_group_handle(e.address, 7)
            assert h.view.metadata["color"] == "blue"

        # reserved keys belong to the backend
        with pytest.raises(FlockException) as exc:
            setter.metadata_set("__type__", "x")
        assert exc.value.code == ReturnCode.ERR_OP_FORBIDDEN

        # after unsubscribe, no more callbacks
        watcher.unsubscribe()
        count = len(events)
        setter.metadata_set("color", "red")
        assert setter.view.metadata["color"] == "red"
        assert not wait_until(lambda: len(events) > count, timeout=0.5)

        providers[2].remove_update_callbacks(token)
        with pytest.raises(FlockException):
            providers[2].remove_update_callbacks(token)
