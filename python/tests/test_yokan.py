"""mochi.yokan: every Database operation (str and buffer forms, multi and
packed), some modes and error codes, against a Bedrock server in this
process with Yokan providers of type map (id 42) and unordered_map (43)."""

import array
import threading

import pytest

from mochi import margo
from mochi.bedrock.server import Server
from mochi.yokan import exception as ye
from mochi.yokan import mode
from mochi.yokan.client import Client, Database

MAP, UNORDERED = 42, 43


@pytest.fixture(scope="module")
def server():
    config = {"providers": [
        {"name": "kv", "type": "yokan", "provider_id": MAP,
         "config": {"database": {"type": "map"}}},
        {"name": "kv_unordered", "type": "yokan", "provider_id": UNORDERED,
         "config": {"database": {"type": "unordered_map"}}},
    ]}
    s = Server("na+sm", config=config)
    yield s
    s.finalize()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server.margo.engine)
    yield c
    c.close()


@pytest.fixture
def db(client, server):
    """The map database, emptied."""
    d = client.make_database_handle(server.margo.engine.addr(), MAP)
    d.erase_range(b"")
    yield d
    d.release()


def code_of(excinfo):
    return excinfo.value.code


# -- exception and mode modules -------------------------------------------------

def test_return_codes_and_messages():
    names = ["YOKAN_SUCCESS", "YOKAN_ERR_ALLOCATION", "YOKAN_ERR_INVALID_MID",
             "YOKAN_ERR_INVALID_ARGS", "YOKAN_ERR_INVALID_PROVIDER", "YOKAN_ERR_INVALID_DATABASE",
             "YOKAN_ERR_INVALID_BACKEND", "YOKAN_ERR_INVALID_CONFIG", "YOKAN_ERR_INVALID_ID",
             "YOKAN_ERR_INVALID_FILTER", "YOKAN_ERR_FROM_MERCURY", "YOKAN_ERR_FROM_ARGOBOTS",
             "YOKAN_ERR_FROM_REMI", "YOKAN_ERR_OP_UNSUPPORTED", "YOKAN_ERR_OP_FORBIDDEN",
             "YOKAN_ERR_KEY_NOT_FOUND", "YOKAN_ERR_BUFFER_SIZE", "YOKAN_ERR_KEY_EXISTS",
             "YOKAN_ERR_CORRUPTION", "YOKAN_ERR_IO", "YOKAN_ERR_INCOMPLETE", "YOKAN_ERR_TIMEOUT",
             "YOKAN_ERR_ABORTED", "YOKAN_ERR_BUSY", "YOKAN_ERR_EXPIRED", "YOKAN_ERR_TRY_AGAIN",
             "YOKAN_ERR_SYSTEM", "YOKAN_ERR_CANCELED", "YOKAN_ERR_PERMISSION", "YOKAN_ERR_MODE",
             "YOKAN_ERR_NONCONTIG", "YOKAN_ERR_READONLY", "YOKAN_ERR_MIGRATED",
             "YOKAN_ERR_MID_NOT_LISTENING", "YOKAN_STOP_ITERATION", "YOKAN_ERR_OTHER"]
    for value, name in enumerate(names):
        assert getattr(ye, name) == value and type(getattr(ye, name)) is int
        assert name in ye.__all__
    assert ye.message(ye.YOKAN_ERR_KEY_NOT_FOUND) == "Key not found"
    assert ye.message(ye.YOKAN_ERR_MID_NOT_LISTENING) == "Margo instance not listening"
    assert ye.message(99) == ""
    e = ye.Exception("Key not found", ye.YOKAN_ERR_KEY_NOT_FOUND)
    assert isinstance(e, RuntimeError) and e.code == 15 and str(e) == "Key not found"
    assert str(ye.from_code(ye.YOKAN_ERR_BUFFER_SIZE)) == "Buffer too small"


def test_mode_constants():
    assert (mode.YOKAN_MODE_DEFAULT, mode.YOKAN_MODE_INCLUSIVE, mode.YOKAN_MODE_APPEND,
            mode.YOKAN_MODE_CONSUME, mode.YOKAN_MODE_WAIT, mode.YOKAN_MODE_NOTIFY,
            mode.YOKAN_MODE_NEW_ONLY, mode.YOKAN_MODE_EXIST_ONLY, mode.YOKAN_MODE_NO_PREFIX,
            mode.YOKAN_MODE_IGNORE_KEYS, mode.YOKAN_MODE_KEEP_LAST, mode.YOKAN_MODE_SUFFIX,
            mode.YOKAN_MODE_LUA_FILTER, mode.YOKAN_MODE_IGNORE_DOCS,
            mode.YOKAN_MODE_FILTER_VALUE, mode.YOKAN_MODE_LIB_FILTER,
            mode.YOKAN_MODE_NO_RDMA) == (0, 1, 2, 4, 8, 8, 16, 32, 64, 128, 384, 512, 1024,
                                         2048, 4096, 8192, 16384)
    assert len(mode.__all__) == 17


# -- clients and handles ----------------------------------------------------------

def test_handles(server, client):
    engine = server.margo.engine
    for address in (engine.addr(), engine.address, engine.lookup(engine.address)):
        d = client.make_database_handle(address, MAP)
        assert isinstance(d, Database)
        assert d.address == engine.address and d.provider_id == MAP
        d.count()
        d.release()
        d.release()     # idempotent
        with pytest.raises(ye.Exception) as e:
            d.count()
        assert code_of(e) == ye.YOKAN_ERR_INVALID_ARGS
    with pytest.raises(ye.Exception) as e:
        client.make_database_handle(engine.address, 7)
    assert code_of(e) == ye.YOKAN_ERR_INVALID_PROVIDER
    unchecked = client.make_database_handle(engine.address, 7, check=False)
    with pytest.raises(ye.Exception):
        unchecked.count()
    unchecked.release()
    with pytest.raises(TypeError):
        client.make_database_handle(3.5, MAP)
    with pytest.raises(ValueError):
        client.make_database_handle(engine.address, 70000)


def test_remote_client_engine_and_context_managers(server, db):
    db.put("shared", "from the server's engine")
    # Client("protocol") owns a client-mode engine; callbacks still work.
    with Client("na+sm") as remote:
        assert remote.engine.mode == margo.CLIENT
        with remote.make_database_handle(server.address, MAP) as rdb:
            assert rdb.count() == 1
            seen = []
            rdb.fetch("shared", lambda i, k, v: seen.append((i, k, bytes(v))))
            rdb.iter(lambda i, k, v: seen.append((i, bytes(k), bytes(v))))
            assert seen == [(0, "shared", b"from the server's engine"),
                            (0, b"shared", b"from the server's engine")]


def test_client_stays_open_while_a_handle_lives(server):
    c = Client("na+sm")
    d = c.make_database_handle(server.address, MAP)
    c.close()               # deferred: d still works
    d.count()
    with pytest.raises(ye.Exception) as e:
        c.make_database_handle(server.address, MAP)
    assert code_of(e) == ye.YOKAN_ERR_INVALID_ARGS
    engine = c.engine
    d.release()             # the last handle closes the client and its engine
    assert engine.finalized


def test_client_from_objects_with_a_mid(server):
    for arg in (server.margo, server.margo.mid):
        c = Client(arg)
        d = c.make_database_handle(server.address, MAP)
        d.count()
        d.release()
        c.close()
    with pytest.raises(TypeError):
        Client(3.5)


# -- count, put, get --------------------------------------------------------------

def test_put_get_str_and_buffers(db):
    db.put("k1", "v1")
    db.put(b"k2", bytearray(b"value2"))
    db.put(memoryview(b"XXk3XX")[2:4], array.array("b", b"abc"))
    db.put("empty", b"")
    assert db.count() == 4
    out = bytearray(16)
    assert db.get("k1", out) == 2 and out[:2] == b"v1"
    assert db.get(bytearray(b"k2"), out) == 6 and out[:6] == b"value2"
    assert db.get(b"k3", memoryview(out)[3:9]) == 3 and out[3:6] == b"abc"
    assert db.get("empty", out) == 0
    assert db.get("k1", array.array("B", bytes(4))) == 2
    db.put("k1", "overwritten")
    assert db.get("k1", out) == 11 and out[:11] == b"overwritten"
    db.put("ключ", "значение")       # UTF-8
    assert db.get("ключ".encode(), out) == len("значение".encode())


def test_get_errors(db):
    db.put("k", "0123456789")
    with pytest.raises(ye.Exception) as e:
        db.get("absent", bytearray(4))
    assert code_of(e) == ye.YOKAN_ERR_KEY_NOT_FOUND and str(e.value) == "Key not found"
    with pytest.raises(ye.Exception) as e:
        db.get("k", bytearray(4))
    assert code_of(e) == ye.YOKAN_ERR_BUFFER_SIZE
    with pytest.raises(ye.Exception) as e:
        db.get("k", b"read-only bytes")
    assert code_of(e) == ye.YOKAN_ERR_READONLY
    with pytest.raises(ye.Exception) as e:
        db.get("k", memoryview(bytearray(40))[::2])
    assert code_of(e) == ye.YOKAN_ERR_NONCONTIG
    with pytest.raises(ye.Exception) as e:
        db.put(memoryview(b"abcdef")[::2], "v")
    assert code_of(e) == ye.YOKAN_ERR_NONCONTIG
    with pytest.raises(ye.Exception) as e:
        db.put("", "empty keys are refused")
    assert code_of(e) == ye.YOKAN_ERR_INVALID_ARGS
    with pytest.raises(TypeError):
        db.put(42, "v")
    with pytest.raises(TypeError):
        db.get("k", "a str is not writable")


def test_put_get_multi(db):
    pairs = [("a", "1"), (b"b", b"22"), (bytearray(b"c"), "333")]
    db.put_multi(pairs)
    db.put_multi([])
    assert db.count() == 3
    outs = [("c", bytearray(8)), ("zz", bytearray(8)), (b"b", bytearray(1)), ("a", bytearray(1))]
    assert db.get_multi(outs) == [3, None, -1, 1]
    assert outs[0][1][:3] == b"333" and outs[3][1][:1] == b"1"
    assert db.get_multi([]) == []
    with pytest.raises(ValueError):
        db.put_multi([("only a key",)])


def test_put_get_packed(db):
    db.put_packed(b"k1k22k333", [2, 3, 4], b"v1v22v333", [2, 3, 4])
    assert db.count() == 3
    values = bytearray(7)
    # k1 fits, "absent" takes no room, k333 (4 bytes) no longer fits after k22.
    assert db.get_packed(b"k1absentk22k333", [2, 6, 3, 4], values) == [2, None, 3, -1]
    assert values[:5] == b"v1v22"
    with pytest.raises(ValueError):
        db.put_packed(b"k1", [2], b"v1v2", [2, 2])
    with pytest.raises(ValueError):
        db.put_packed(b"k1", [3], b"v1", [2])
    with pytest.raises(ValueError):
        db.get_packed(b"k1", [5], bytearray(4))


# -- exists, length ----------------------------------------------------------------

def test_exists(db):
    keys = [f"key{i:02d}" for i in range(20)]
    db.put_multi([(k, "x") for k in keys[::3]])
    assert db.exists("key00") and not db.exists(b"key01")
    expected = [i % 3 == 0 for i in range(20)]
    assert db.exists_multi(keys) == expected
    assert db.exists_multi([k.encode() for k in keys]) == expected
    assert db.exists_packed("".join(keys), [5] * 20) == expected
    assert db.exists_multi([]) == []


def test_length(db):
    db.put_multi([("a", "1"), ("bb", "22"), ("empty", "")])
    assert db.length("bb") == 2 and db.length(b"empty") == 0
    assert db.length("absent") is None
    assert db.length_multi(["a", b"absent", "bb"]) == [1, None, 2]
    assert db.length_packed(b"abbzz", [1, 2, 2]) == [1, 2, None]


# -- fetch ------------------------------------------------------------------------

def test_fetch(db):
    db.put_multi([("a", "1"), ("b", "22")])
    seen = []

    def record(index, key, value):
        assert value is None or (isinstance(value, memoryview) and value.readonly)
        seen.append((index, key if isinstance(key, str) else bytes(key),
                     None if value is None else bytes(value)))
    db.fetch("a", record)
    db.fetch(b"b", record)
    db.fetch("absent", record)
    assert seen == [(0, "a", b"1"), (0, b"b", b"22"), (0, "absent", None)]
    seen.clear()
    db.fetch_multi(["a", b"absent", "b"], record, batch_size=2)
    assert seen == [(0, "a", b"1"), (1, b"absent", None), (2, "b", b"22")]
    seen.clear()
    db.fetch_packed(b"baabsent", [1, 1, 6], record, batch_size=1)
    assert seen == [(0, b"b", b"22"), (1, b"a", b"1"), (2, b"absent", None)]


def test_fetch_callback_errors_are_raised(db):
    db.put("a", "1")

    def not_found(index, key, value):
        if value is None:
            raise ye.Exception("Key not found", ye.YOKAN_ERR_KEY_NOT_FOUND)
    db.fetch("a", not_found)
    with pytest.raises(ye.Exception) as e:
        db.fetch("absent", not_found)
    assert code_of(e) == ye.YOKAN_ERR_KEY_NOT_FOUND
    calls = []

    def fail_first(index, key, value):
        calls.append(index)
        raise ValueError("stop here")
    with pytest.raises(ValueError, match="stop here"):
        db.fetch_multi(["a", "a", "a"], fail_first)
    assert calls == [0]
    with pytest.raises(TypeError):
        db.fetch("a", "not callable")


# -- erase ------------------------------------------------------------------------

def test_erase(db):
    db.put_multi([(f"k{i}", "v") for i in range(6)] + [("other", "v")])
    db.erase("k0")
    db.erase(b"absent")             # not an error
    db.erase_multi(["k1", b"k2"])
    db.erase_packed(b"k3k4", [2, 2])
    assert db.exists_multi(["k0", "k1", "k2", "k3", "k4", "k5"]) == [False] * 5 + [True]
    db.erase_range("k")
    assert db.count() == 1 and db.exists("other")
    db.erase_range(b"")
    assert db.count() == 0


# -- list and iter ---------------------------------------------------------------

@pytest.fixture
def listed(db):
    keys = ["apple", "apricot", "banana", "blueberry", "cherry", "matt0", "matt1", "matt2"]
    db.put_multi([(k, k.upper()) for k in keys])
    return db, keys


def test_list_keys_paging(listed):
    db, keys = listed
    found, start = [], b""
    while True:
        bufs = [bytearray(16) for _ in range(3)]
        sizes = db.list_keys(bufs, start, b"")
        found += [bytes(b[:n]).decode() for b, n in zip(bufs, sizes)]
        if len(sizes) < 3:
            break
        start = found[-1]
    assert found == keys
    bufs = [bytearray(16) for _ in range(2)]
    assert db.list_keys(bufs, "banana", "", mode=mode.YOKAN_MODE_INCLUSIVE) == [6, 9]
    assert bufs[0][:6] == b"banana"
    bufs = [bytearray(16) for _ in range(5)]
    assert db.list_keys(bufs, "", "matt") == [5, 5, 5]
    assert db.list_keys(bufs, "", "matt", mode=mode.YOKAN_MODE_NO_PREFIX) == [1, 1, 1]
    assert bufs[2][:1] == b"2"
    assert db.list_keys(bufs, "", "rry", mode=mode.YOKAN_MODE_SUFFIX) == [9, 6]
    small = [bytearray(16), bytearray(2), bytearray(16)]
    assert db.list_keys(small, "", "") == [5, -1, 6]
    assert db.list_keys([], "", "") == []


def test_list_keys_packed(listed):
    db, keys = listed
    buf = bytearray(14)
    sizes = db.list_keys_packed(buf, 4, "", "")
    assert sizes == [5, 7, -1, -1]
    assert buf[:12] == b"appleapricot"
    buf = bytearray(64)
    assert db.list_keys_packed(buf, 10, "matt0", b"matt") == [5, 5]


def test_list_keyvals(listed):
    db, keys = listed
    pairs = [(bytearray(16), bytearray(16)) for _ in range(3)]
    assert db.list_keyvals(pairs, "b", "b") == [(6, 6), (9, 9)]
    assert pairs[1][0][:9] == b"blueberry" and pairs[1][1][:9] == b"BLUEBERRY"
    pairs = [(bytearray(16), bytearray(3)), (bytearray(1), bytearray(16))]
    assert db.list_keyvals(pairs, "", "") == [(5, -1), (-1, 7)]
    keys_buf, vals_buf = bytearray(64), bytearray(64)
    assert db.list_keyvals_packed(keys_buf, vals_buf, 3, "matt", "matt") == [(5, 5)] * 3
    assert vals_buf[:15] == b"MATT0MATT1MATT2"
    assert db.list_keyvals([], "", "") == []


def test_iter(listed):
    db, keys = listed
    seen = []
    db.iter(lambda i, k, v: seen.append((i, k, bytes(v))))
    assert [bytes(k).decode() for _, k, _ in seen] == keys
    assert all(isinstance(k, memoryview) for _, k, _ in seen)
    assert [i for i, _, _ in seen] == list(range(len(keys)))
    assert seen[0][2] == b"APPLE"
    seen.clear()
    db.iter(lambda i, k, v: seen.append((i, k, v)), from_key="", filter=b"matt", count=2,
            batch_size=1, ignore_values=True)
    assert seen == [(0, "matt0", None), (1, "matt1", None)]
    seen.clear()
    db.iter(lambda i, k, v: seen.append(k), from_key="banana", mode=mode.YOKAN_MODE_INCLUSIVE,
            count=2)
    assert seen == ["banana", "blueberry"]

    def boom(i, k, v):
        raise RuntimeError("callback failed")
    with pytest.raises(RuntimeError, match="callback failed"):
        db.iter(boom)


def test_list_on_unordered_map_is_unsupported(client, server):
    d = client.make_database_handle(server.address, UNORDERED)
    d.put("k", "v")
    with pytest.raises(ye.Exception) as e:
        d.list_keys([bytearray(8)], "", "")
    assert code_of(e) == ye.YOKAN_ERR_OP_UNSUPPORTED
    with pytest.raises(ye.Exception) as e:
        d.iter(lambda i, k, v: None)
    assert code_of(e) == ye.YOKAN_ERR_OP_UNSUPPORTED
    d.erase_range("")
    d.release()


# -- modes ------------------------------------------------------------------------

def test_put_modes(db):
    out = bytearray(32)
    db.put("k", "abc")
    db.put("k", "def", mode=mode.YOKAN_MODE_APPEND)
    assert db.get("k", out) == 6 and out[:6] == b"abcdef"
    with pytest.raises(ye.Exception) as e:
        db.put("k", "new", mode=mode.YOKAN_MODE_NEW_ONLY)
    assert code_of(e) == ye.YOKAN_ERR_KEY_EXISTS
    assert db.get("k", out) == 6
    with pytest.raises(ye.Exception) as e:
        db.put("absent", "x", mode=mode.YOKAN_MODE_EXIST_ONLY)
    assert code_of(e) == ye.YOKAN_ERR_KEY_NOT_FOUND
    db.put("k", "xyz", mode=mode.YOKAN_MODE_EXIST_ONLY)
    assert db.get("k", out) == 3
    with pytest.raises(ye.Exception) as e:
        db.put("k", "x", mode=mode.YOKAN_MODE_APPEND | mode.YOKAN_MODE_NEW_ONLY)
    assert code_of(e) == ye.YOKAN_ERR_MODE
    with pytest.raises(ye.Exception) as e:
        db.iter(lambda i, k, v: None, mode=mode.YOKAN_MODE_LUA_FILTER)
    assert code_of(e) == ye.YOKAN_ERR_MODE
    db.put("nordma", "v", mode=mode.YOKAN_MODE_NO_RDMA, timeout_ms=5000.0)
    assert db.exists("nordma", timeout_ms=5000) and db.count(timeout_ms=0.0) == 2


def test_consume_and_wait_notify(db):
    out = bytearray(8)
    db.put("job", "42")
    assert db.get("job", out, mode=mode.YOKAN_MODE_CONSUME) == 2
    assert not db.exists("job")
    got = []

    def consumer():
        got.append(db.get("later", bytearray(8), mode=mode.YOKAN_MODE_WAIT | mode.YOKAN_MODE_CONSUME))
    t = threading.Thread(target=consumer)
    t.start()
    # Whether the consumer is already waiting or not, it gets the value.
    db.put("later", "ready", mode=mode.YOKAN_MODE_NOTIFY)
    t.join(timeout=30)
    assert not t.is_alive()
    assert got == [5] and not db.exists("later")


def test_provider_registered_from_python():
    from mochi import margo
    from mochi.yokan.client import Client
    from mochi.yokan.exception import Exception as YokanException
    from mochi.yokan.server import Provider

    with margo.Engine("na+sm") as engine:
        with Provider(engine, 42, {"database": {"type": "unordered_map"}}) as provider:
            assert provider.provider_id == 42
            assert provider.config["database"]["type"] == "unordered_map"
            client = Client(engine)
            db = client.make_database_handle(engine.address, 42)
            db.put("key", "value")
            buf = bytearray(16)
            assert bytes(buf[:db.get("key", buf)]) == b"value"
            with pytest.raises(YokanException) as taken:
                Provider(engine, 42, "{}")
            assert taken.value.code == 4  # YOKAN_ERR_INVALID_PROVIDER
            with pytest.raises(YokanException) as bad:
                Provider(engine, 43, '{"database": {"type": "rocksdb"}}')
            assert bad.value.code == 6  # YOKAN_ERR_INVALID_BACKEND
            del db
            client = None
        # Destroyed: the id is free again.
        Provider(engine, 42, "{}").destroy()
