"""mochi.yokan collections: every Collection method (str and buffer
documents, multi and packed forms), the Database's collection calls, and
the errors (missing collection or document, buffers too small, bad
arguments), against a Bedrock server in this process with Yokan providers
of type map (id 42), unordered_map (43) and lmdb (44)."""

import array
import tempfile
import threading

import pytest

from mochi.bedrock.server import Server
from mochi.yokan import exception as ye
from mochi.yokan import mode
from mochi.yokan.client import Client, Collection

MAP, UNORDERED, LMDB = 42, 43, 44
# yokan/common.h's YOKAN_MODE_UPDATE_NEW; upstream's mode module has no
# name for it, and neither has ours.
UPDATE_NEW = 0x8000


@pytest.fixture(scope="module")
def server():
    lmdb_dir = tempfile.TemporaryDirectory(prefix="yk-coll-lmdb-")
    config = {"providers": [
        {"name": "docs", "type": "yokan", "provider_id": MAP,
         "config": {"database": {"type": "map"}}},
        {"name": "docs_unordered", "type": "yokan", "provider_id": UNORDERED,
         "config": {"database": {"type": "unordered_map"}}},
        {"name": "docs_lmdb", "type": "yokan", "provider_id": LMDB,
         "config": {"database": {"type": "lmdb", "config": {"path": lmdb_dir.name}}}},
    ]}
    s = Server("na+sm", config=config)
    yield s
    s.finalize()
    lmdb_dir.cleanup()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server.margo.engine)
    yield c
    c.close()


def _empty(d, provider_id):
    if provider_id != LMDB:
        d.erase_range(b"")
        return
    # libmochi's lmdb backend refuses erase_range(b"") (YOKAN_ERR_INVALID_ARGS,
    # where upstream's erases every key): its keys are listed and erased.
    keys = []
    d.iter(lambda i, k, v: keys.append(bytes(k)), ignore_values=True)
    d.erase_multi(keys)


@pytest.fixture(params=[MAP, UNORDERED, LMDB], ids=["map", "unordered_map", "lmdb"])
def db(request, client, server):
    """Each backend's database, emptied."""
    d = client.make_database_handle(server.margo.engine.addr(), request.param)
    _empty(d, request.param)
    yield d
    _empty(d, request.param)
    d.release()


@pytest.fixture
def coll(db):
    return db.create_collection("docs")


def code_of(excinfo):
    return excinfo.value.code


def raises_code(code, call):
    with pytest.raises(ye.Exception) as e:
        call()
    assert code_of(e) == code, f"expected code {code}, got {code_of(e)} ({e.value})"


def text(buf, size):
    return bytes(buf[:size]).decode()


# -- the database's collection calls ----------------------------------------------

def test_create_exists_open_drop(db):
    assert not db.collection_exists("docs")
    coll = db.create_collection("docs", timeout_ms=5000.0)
    assert isinstance(coll, Collection)
    assert coll.name == "docs" and coll.database is db
    assert db.collection_exists("docs") and db.collection_exists(b"docs", timeout_ms=5000)
    raises_code(ye.YOKAN_ERR_KEY_EXISTS, lambda: db.create_collection("docs"))
    db.create_collection(b"other")
    # open_collection asks nothing: a missing collection shows on use.
    assert isinstance(db.open_collection("absent"), Collection)
    assert not db.collection_exists("absent")
    db.open_collection("docs").store("kept")
    assert coll.size() == 1
    db.drop_collection("docs")
    assert not db.collection_exists("docs") and db.collection_exists("other")
    db.drop_collection("docs")              # dropping a missing one is no error (upstream)
    # The documents went with it: a new collection of that name is empty.
    assert db.create_collection("docs").size() == 0
    # A collection's record is a key of the database, next to ordinary keys.
    db.put("plain", "value")
    assert db.exists("plain")


def test_collection_names(db):
    with pytest.raises(ValueError):
        db.create_collection("bad\0name")
    with pytest.raises(TypeError):
        db.open_collection(42)
    c = Collection("made directly", db)
    assert repr(c).startswith("Collection('made directly'")
    raises_code(ye.YOKAN_ERR_KEY_NOT_FOUND, c.size)
    db.create_collection("made directly")
    assert c.size() == 0
    assert db.create_collection("é").name == "é" and db.collection_exists("é")


def test_missing_collection(db):
    c = db.open_collection("absent")
    out = bytearray(8)
    for call in (c.size, c.last_id, lambda: c.store("x"), lambda: c.store_multi(["x"]),
                 lambda: c.store_packed(b"x", [1]), lambda: c.load(0, out),
                 lambda: c.load_multi([0], [out]), lambda: c.load_packed([0], out),
                 lambda: c.update(0, "x"), lambda: c.update(0, "x", mode=UPDATE_NEW),
                 lambda: c.update_multi([0], ["x"]), lambda: c.update_packed([0], b"x", [1]),
                 lambda: c.erase(0), lambda: c.erase_multi([0]),
                 lambda: c.list_docs(0, [out]), lambda: c.list_docs_packed(0, out, 1),
                 lambda: c.iter(lambda i, id, doc: None)):
        raises_code(ye.YOKAN_ERR_KEY_NOT_FOUND, call)
    assert not db.collection_exists("absent")


def test_released_database(client, server):
    d = client.make_database_handle(server.margo.engine.addr(), MAP)
    c = d.create_collection("short-lived")
    d.drop_collection("short-lived")
    d.release()
    raises_code(ye.YOKAN_ERR_INVALID_ARGS, c.size)
    raises_code(ye.YOKAN_ERR_INVALID_ARGS, lambda: d.create_collection("x"))


# -- store, size, last_id, load ---------------------------------------------------

def test_store_and_load(coll):
    assert coll.size() == 0
    assert coll.store("zero") == 0
    assert coll.store(b"one", timeout_ms=5000.0) == 1
    assert coll.store(bytearray(b"two")) == 2
    assert coll.store(memoryview(b"three")) == 3
    assert coll.store(array.array("i", [1, 2])) == 4
    assert coll.store("") == 5
    assert coll.size() == 6 and coll.last_id() == 5
    out = bytearray(16)
    assert coll.load(0, out) == 4 and out[:4] == b"zero"
    assert coll.load(3, memoryview(out)) == 5 and out[:5] == b"three"
    assert coll.load(id=4, buffer=out) == 8
    assert array.array("i", out[:8]) == array.array("i", [1, 2])
    assert coll.load(5, out) == 0
    assert coll.load(1, out, timeout_ms=5000.0) == 3


def test_store_multi_and_packed(coll):
    assert coll.store_multi(["a", b"bb", bytearray(b"ccc")]) == [0, 1, 2]
    assert coll.store_multi(documents=[]) == []
    assert coll.store_packed(b"ddeeeee", [2, 5]) == [3, 4]
    assert coll.store_packed(documents=bytearray(b"f-unused"), doc_sizes=[1]) == [5]
    assert coll.store_packed(b"", []) == []
    with pytest.raises(ValueError):
        coll.store_packed(b"short", [3, 3])
    assert coll.size() == 6
    out = [bytearray(8) for _ in range(6)]
    assert coll.load_multi(range(6), out) == [1, 2, 3, 2, 5, 1]
    assert [text(b, n) for b, n in zip(out, [1, 2, 3, 2, 5, 1])] == \
        ["a", "bb", "ccc", "dd", "eeeee", "f"]


def test_load_errors(coll):
    coll.store("a document")
    raises_code(ye.YOKAN_ERR_KEY_NOT_FOUND, lambda: coll.load(1, bytearray(16)))
    raises_code(ye.YOKAN_ERR_BUFFER_SIZE, lambda: coll.load(0, bytearray(3)))
    raises_code(ye.YOKAN_ERR_READONLY, lambda: coll.load(0, b"read-only buffer"))
    raises_code(ye.YOKAN_ERR_NONCONTIG, lambda: coll.load(0, memoryview(bytearray(32))[::2]))
    with pytest.raises(TypeError):
        coll.load(0, 17)
    with pytest.raises(ValueError):
        coll.load(-1, bytearray(16))
    with pytest.raises(TypeError):
        coll.store(3.5)


def test_empty_documents_and_buffers(coll):
    assert coll.store_multi(["", "x", b""]) == [0, 1, 2]
    empty = bytearray(0)
    assert coll.load(0, empty) == 0 and coll.length(2) == 0
    raises_code(ye.YOKAN_ERR_BUFFER_SIZE, lambda: coll.load(1, empty))
    assert coll.load_multi([0, 1], [empty, empty]) == [0, -1]
    assert coll.load_packed([1, 5], empty) == [-1, None]
    assert coll.list_docs(1, [empty, bytearray(1)]) == [(1, -1), (2, 0)]
    assert coll.list_docs_packed(1, empty, 1) == [(1, -1)]
    coll.update(1, "")
    assert coll.length(1) == 0


def test_load_multi_and_packed(coll):
    coll.store_multi(["one", "three", "eleven"])
    bufs = [bytearray(8), bytearray(2), bytearray(8), bytearray(8)]
    assert coll.load_multi([0, 1, 2, 9], bufs) == [3, -1, 6, None]
    assert bufs[0][:3] == b"one" and bufs[2][:6] == b"eleven"
    assert coll.load_multi([], []) == []
    with pytest.raises(ValueError):
        coll.load_multi([0, 1], [bytearray(8)])
    raises_code(ye.YOKAN_ERR_READONLY, lambda: coll.load_multi([0], [b"12345678"]))
    buf = bytearray(32)
    assert coll.load_packed([2, 7, 0], buf) == [6, None, 3]
    assert buf[:9] == b"elevenone"
    # Packed: the documents that do not fit after the others are -1.
    small = bytearray(8)
    assert coll.load_packed([0, 1, 2], small) == [3, 5, -1]
    assert small == b"onethree"
    assert coll.load_packed([], small) == []
    raises_code(ye.YOKAN_ERR_READONLY, lambda: coll.load_packed([0], b"12345678"))


# -- fetch ------------------------------------------------------------------------

def test_fetch(coll):
    coll.store_multi(["a", "bb", "ccc"])
    coll.erase(1)
    seen = []
    caller = threading.get_ident()

    def record(index, doc_id, doc):
        assert threading.get_ident() == caller
        assert doc is None or (isinstance(doc, memoryview) and doc.readonly)
        seen.append((index, doc_id, None if doc is None else bytes(doc)))
    coll.fetch(0, record)
    coll.fetch(id=1, callback=record)
    coll.fetch(9, record, timeout_ms=5000.0)
    assert seen == [(0, 0, b"a"), (0, 1, None), (0, 9, None)]
    seen.clear()
    coll.fetch_multi([2, 1, 0, 7], record, batch_size=2)
    assert seen == [(0, 2, b"ccc"), (1, 1, None), (2, 0, b"a"), (3, 7, None)]
    seen.clear()
    coll.fetch_multi([], record)
    assert seen == []


def test_fetch_callback_errors_are_raised(coll):
    coll.store_multi(["a", "b", "c"])
    calls = []

    def fail_first(index, doc_id, doc):
        calls.append(index)
        raise ValueError("stop here")
    with pytest.raises(ValueError, match="stop here"):
        coll.fetch(0, fail_first)
    calls.clear()
    with pytest.raises(ValueError, match="stop here"):
        coll.fetch_multi([0, 1, 2], fail_first)
    assert calls == [0]
    with pytest.raises(TypeError):
        coll.fetch(0, "not callable")


# -- length -----------------------------------------------------------------------

def test_length(coll):
    coll.store_multi(["", "four", "seven.."])
    assert [coll.length(i) for i in range(3)] == [0, 4, 7]
    assert coll.length(3) is None
    assert coll.length_multi([2, 5, 1, 0]) == [7, None, 4, 0]
    assert coll.length_multi(ids=[]) == []
    coll.erase(1)
    assert coll.length(1) is None and coll.length_multi([1]) == [None]


# -- update -----------------------------------------------------------------------

def test_update(coll):
    coll.store_multi(["a", "b", "c"])
    coll.update(0, "A")
    coll.update(id=1, document=bytearray(b"Bee"), timeout_ms=5000.0)
    out = bytearray(8)
    assert text(out, coll.load(0, out)) == "A" and text(out, coll.load(1, out)) == "Bee"
    raises_code(ye.YOKAN_ERR_INVALID_ID, lambda: coll.update(3, "never stored"))
    raises_code(ye.YOKAN_ERR_INVALID_ID, lambda: coll.update_multi([0, 7], ["x", "y"]))
    assert text(out, coll.load(0, out)) == "A"      # nothing of the failed call landed
    assert coll.size() == 3 and coll.last_id() == 2


def test_update_new(coll):
    coll.store_multi(["a", "b"])
    coll.update(5, "five", mode=UPDATE_NEW)
    out = bytearray(8)
    assert text(out, coll.load(5, out)) == "five"
    assert coll.size() == 3 and coll.last_id() == 5
    assert coll.store("next") == 6          # ids continue after the new one
    assert coll.length_multi([2, 3, 4]) == [None, None, None]
    # UPDATE_NEW also replaces an existing document, and brings back an
    # erased one.
    coll.erase(1)
    coll.update_multi([0, 1], ["A", "B"], mode=UPDATE_NEW)
    assert coll.size() == 4
    assert text(out, coll.load(1, out)) == "B"
    assert [i for i, _ in coll.list_docs(0, [bytearray(8) for _ in range(8)])] == [0, 1, 5, 6]


def test_update_multi_and_packed(coll):
    coll.store_multi(["a", "b", "c", "d"])
    coll.update_multi([3, 0], ["D", b"AA"])
    coll.update_multi([], [])
    with pytest.raises(ValueError):
        coll.update_multi([0, 1], ["x"])
    assert coll.update_packed([1, 2], b"BBBCC", [3, 2]) == [1, 2]
    assert coll.update_packed(ids=[], documents=b"", doc_sizes=[]) == []
    with pytest.raises(ValueError):
        coll.update_packed([1, 2], b"BBB", [3])
    with pytest.raises(ValueError):
        coll.update_packed([1, 2], b"BB", [1, 2])
    bufs = [bytearray(4) for _ in range(4)]
    sizes = coll.load_multi(range(4), bufs)
    assert [text(b, n) for b, n in zip(bufs, sizes)] == ["AA", "BBB", "CC", "D"]
    assert coll.size() == 4


# -- erase ------------------------------------------------------------------------

def test_erase(coll):
    coll.store_multi([f"doc{i}" for i in range(6)])
    coll.erase(0)
    coll.erase_multi(ids=[2, 4])
    coll.erase_multi([])
    assert coll.size() == 3 and coll.last_id() == 5
    for i in (0, 2, 4):
        raises_code(ye.YOKAN_ERR_KEY_NOT_FOUND, lambda: coll.load(i, bytearray(8)))
    assert coll.length_multi(range(6)) == [None, 4, None, 4, None, 4]
    assert coll.store("after") == 6          # erased ids are not given out again


# -- list -------------------------------------------------------------------------

@pytest.fixture
def filled(coll):
    docs = [f"document number {i}" * (1 + i % 3) for i in range(25)]
    assert coll.store_multi(docs) == list(range(25))
    return coll, docs


def test_list_docs_paging(filled):
    coll, docs = filled
    found, start = [], 0
    while True:
        bufs = [bytearray(64) for _ in range(10)]
        page = coll.list_docs(start, bufs)
        found += [(i, text(b, n)) for (i, n), b in zip(page, bufs)]
        if len(page) < 10:
            break
        start = page[-1][0] + 1
    assert found == list(enumerate(docs))
    # The start id is included whatever the mode, as upstream.
    bufs = [bytearray(64) for _ in range(2)]
    assert coll.list_docs(7, bufs, mode=mode.YOKAN_MODE_INCLUSIVE) == \
        [(7, len(docs[7])), (8, len(docs[8]))]
    assert coll.list_docs(start_id=7, buffers=bufs, filter="") == \
        [(7, len(docs[7])), (8, len(docs[8]))]
    assert coll.list_docs(25, bufs) == [] and coll.list_docs(10 ** 6, bufs) == []
    assert coll.list_docs(0, []) == []


def test_list_docs_skips_erased_and_reports_small_buffers(filled):
    coll, docs = filled
    coll.erase_multi([1, 2, 4])
    bufs = [bytearray(64), bytearray(4), bytearray(64)]
    assert coll.list_docs(0, bufs) == [(0, len(docs[0])), (3, -1), (5, len(docs[5]))]
    assert text(bufs[2], len(docs[5])) == docs[5]


def test_list_docs_packed(filled):
    coll, docs = filled
    found, start = [], 0
    while True:
        buf = bytearray(1000)
        page = coll.list_docs_packed(start, buf, 10)
        offset = 0
        for i, n in page:
            found.append((i, text(buf[offset:], n)))
            offset += n
        if len(page) < 10:
            break
        start = page[-1][0] + 1
    assert found == list(enumerate(docs))
    # A buffer too small for all: the ones that do not fit are -1.
    small = bytearray(len(docs[0]) + len(docs[1]) + 3)
    page = coll.list_docs_packed(start_id=0, buffer=small, count=4, filter=b"")
    assert page[:2] == [(0, len(docs[0])), (1, len(docs[1]))]
    assert all(n == -1 for _, n in page[2:]) and len(page) >= 3
    assert coll.list_docs_packed(0, bytearray(8), 0) == []
    raises_code(ye.YOKAN_ERR_READONLY, lambda: coll.list_docs_packed(0, b"read-only", 1))


# -- iter -------------------------------------------------------------------------

def test_iter(filled):
    coll, docs = filled
    seen = []
    caller = threading.get_ident()

    def record(index, doc_id, doc):
        assert threading.get_ident() == caller and doc.readonly
        seen.append((index, doc_id, bytes(doc).decode()))
    coll.iter(record)
    assert seen == [(i, i, d) for i, d in enumerate(docs)]
    seen.clear()
    coll.iter(record, from_id=20, batch_size=2)
    assert [i for _, i, _ in seen] == [20, 21, 22, 23, 24]
    assert [i for i, _, _ in seen] == list(range(5))
    seen.clear()
    coll.erase(11)
    coll.iter(callback=record, from_id=10, filter=b"", count=3, timeout_ms=5000.0)
    assert [i for _, i, _ in seen] == [10, 12, 13]
    seen.clear()
    coll.iter(record, from_id=100)
    assert seen == []

    def boom(index, doc_id, doc):
        raise RuntimeError("callback failed")
    with pytest.raises(RuntimeError, match="callback failed"):
        coll.iter(boom)


def test_document_filters_are_not_provided(filled):
    coll, _ = filled
    raises_code(ye.YOKAN_ERR_MODE, lambda: coll.iter(lambda i, d, v: None, filter=b"return true",
                                                     mode=mode.YOKAN_MODE_LUA_FILTER))


# -- threads ----------------------------------------------------------------------

def test_concurrent_stores_get_distinct_ids(coll):
    ids, errors = [], []

    def writer(n):
        try:
            for i in range(20):
                ids.append(coll.store(f"{n}-{i}"))
        except BaseException as e:  # noqa: B902 -- reported below
            errors.append(e)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(ids) == list(range(80)) and coll.size() == 80
