"""mochi.flock.view: the GroupView API, its digest against libmochi's, and
(de)serialization through the C view functions."""

import json
import os
import random

import pytest

from mochi.flock.common import FlockException, ReturnCode
from mochi.flock.view import (GroupView, Member, Metadata, djb2_hash,
                              hash_member, hash_metadata)

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_FILES = [
    os.path.join(HERE, "..", "..", "tests", "c", "flock", "data", "upstream-written.flock"),
    "/work/shared/spec/data/upstream-written.flock",
]


def upstream_file():
    for f in UPSTREAM_FILES:
        if os.path.exists(f):
            return f
    pytest.skip("upstream-written.flock not found")


# -- hashes (test vectors of the spec, §2.2) ----------------------------------

def test_hash_vectors():
    assert djb2_hash("") == 5381
    assert djb2_hash("a") == 177670
    assert hash_member(42, "a") == 193484016
    assert hash_member(200, "a") == 193480782          # 0xC8 sign-extended
    assert hash_member(1, "na+sm://1234-0") == 13680832206594748031
    assert hash_metadata("key", "value") == 1686041148830


def test_digest_vector():
    v = GroupView()
    v.members.add("na+sm://1234-0", 2)
    v.members.add("na+sm://1234-0", 1)
    v.metadata.add("__type__", "static")
    v.metadata.add("__config__", "{}")
    assert v.digest == 8247570235502796075


# -- members / metadata API (upstream test_view) ----------------------------

def test_members():
    view = GroupView()
    for i in range(5):
        view.members.add(address=f"address{i}", provider_id=i)
    assert len(view.members) == 5
    assert view.members.count == 5
    for i in range(5):
        assert view.members.exists(f"address{i}", i)
        assert not view.members.exists(f"address{i+1}", i)
        assert not view.members.exists(f"address{i}", i + 1)
        assert view.members[i].address == f"address{i}"
        assert view.members[i].provider_id == i
        assert (f"address{i}", i) in view.members
    del view.members[3]
    assert view.members.count == 4
    assert not view.members.exists("address3", 3)
    view.members.remove(2)
    assert view.members.count == 3
    assert not view.members.exists("address2", 2)
    view.members.remove("address1", 1)
    assert view.members.count == 2
    assert not view.members.exists("address1", 1)
    assert [(m.address, m.provider_id) for m in view.members] == [("address0", 0), ("address4", 4)]
    with pytest.raises(FlockException) as e:
        view.members.remove("address1", 1)
    assert e.value.code == ReturnCode.ERR_NO_MEMBER
    assert str(e.value) == "No member at this index"
    with pytest.raises(FlockException):
        view.members.remove(10)
    with pytest.raises(IndexError):
        view.members[2]
    with pytest.raises(ValueError):
        ("address0", 0, 1) in view.members
    assert view.members[-1] == Member("address4", 4)


def test_members_sorted_address_then_provider_id():
    view = GroupView()
    for address, pid in [("b", 1), ("a", 300), ("a", 2), ("ab", 0), ("a", 2)]:
        view.members.add(address, pid)
    assert [tuple(m) for m in view.members] == [
        ("a", 2), ("a", 2), ("a", 300), ("ab", 0), ("b", 1)]
    with pytest.raises(ValueError):
        view.members.add("x", 70000)
    with pytest.raises(TypeError):
        view.members.add("x", "1")


def test_metadata():
    view = GroupView()
    for i in range(5):
        view.metadata.add(key=f"key{i}", value=f"value{i}")
    assert len(view.metadata) == 5
    assert view.metadata.count == 5
    for i in range(5):
        assert view.metadata[f"key{i}"] == f"value{i}"
        assert view.metadata[i].key == f"key{i}"
        assert view.metadata[i].value == f"value{i}"
        assert f"key{i}" in view.metadata
    del view.metadata["key3"]
    assert view.metadata.count == 4
    assert view.metadata["key3"] is None
    view.metadata.remove("key2")
    assert view.metadata.count == 3
    assert view.metadata["key2"] is None
    view.metadata.remove("absent")           # silent, as upstream
    assert [m.key for m in view.metadata] == ["key0", "key1", "key4"]
    assert list(view.metadata)[0] == Metadata("key0", "value0")
    with pytest.raises(IndexError):
        view.metadata[3]


def test_digest_changes_and_restores():
    view = GroupView()
    assert view.digest == 0
    view.members.add("address", 1)
    assert view.digest != 0
    d = view.digest
    view.metadata.add("key", "value")
    assert view.digest not in (0, d)
    view.metadata.add("key", "other")           # replace
    assert view.digest == d ^ hash_metadata("key", "other")
    view.metadata.remove("key")
    assert view.digest == d
    view.members.remove("address", 1)
    assert view.digest == 0


def test_copy_is_independent_and_clear():
    view = GroupView()
    view.members.add("a", 1)
    view.metadata.add("k", "v")
    c = view.copy()
    assert c == view and c.digest == view.digest
    c.members.add("b", 2)
    c.metadata.add("k", "w")
    assert len(view.members) == 1 and view.metadata["k"] == "v"
    view.clear()
    assert view.digest == 0 and len(view.members) == 0 and len(view.metadata) == 0
    assert len(c.members) == 2


def test_locked():
    view = GroupView()
    with view.locked() as v:
        assert v is view
        assert not view._mutex.acquire(blocking=False)
    assert view._mutex.acquire(blocking=False)
    view.unlock()


# -- through C ---------------------------------------------------------------

def test_str_is_the_c_serialization():
    view = GroupView()
    assert json.loads(str(view)) == {"members": [], "metadata": {}}
    view.members.add("na+sm://1234-0", 2)
    view.members.add("na+sm://1234-0", 1)
    view.metadata.add("__type__", "static")
    view.metadata.add("__config__", "{}")
    assert str(view) == (
        '{"members":[{"address":"na+sm://1234-0","provider_id":1},'
        '{"address":"na+sm://1234-0","provider_id":2}],'
        '"metadata":{"__config__":"{}","__type__":"static"}}')


def _random_text(rng, n):
    alphabet = "abcXYZ019:/+-_ .{}\"\\é€\u00ff\u0101\U0001f600\n\t"
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_digest_matches_c_on_random_views():
    rng = random.Random(1234)
    for _ in range(60):
        view = GroupView()
        for _ in range(rng.randint(1, 8)):
            view.members.add(_random_text(rng, rng.randint(0, 12)),
                             rng.choice([0, 1, 42, 127, 128, 200, 255, 256, 32767, 32768, 65535]))
        for _ in range(rng.randint(0, 6)):
            view.metadata.add(_random_text(rng, rng.randint(0, 8)), _random_text(rng, rng.randint(0, 8)))
        back = GroupView.from_string(str(view))
        assert back._c_digest == view.digest          # libmochi's digest of the same content
        assert back == view
        assert back.digest == view.digest


def test_from_string_and_file_round_trip(tmp_path):
    view = GroupView()
    for i in range(4):
        view.members.add(f"na+sm://99-{i}", 10 + i)
    view.metadata.add("zeta", "été")
    view.metadata.add("alpha", "1")
    text = str(view)
    again = GroupView.from_string(text)
    assert again == view and again.digest == view.digest
    assert GroupView.from_string(text.encode()) == view
    f = tmp_path / "g.flock"
    view.serialize_to_file(str(f))
    assert f.read_text(encoding="utf-8") == text
    loaded = GroupView.from_file(str(f))
    assert loaded == view
    assert loaded.digest == view.digest == loaded._c_digest
    view.serialize_to_file(f)        # os.PathLike accepted; atomic replace
    assert GroupView.from_file(f) == view


def test_upstream_written_file():
    f = upstream_file()
    view = GroupView.from_file(f)
    assert [tuple(m) for m in view.members] == [
        ("na+sm://1234-0", 1), ("na+sm://1234-0", 2), ("ofi+tcp://127.0.0.1:5000", 7)]
    assert view.metadata.to_dict() == {"__config__": "{}", "__type__": "static", "zeta": "été"}
    assert view.digest == view._c_digest
    with open(f, encoding="utf-8") as fh:
        content = fh.read()
    assert str(view) == content.strip()      # we write what upstream writes


def test_invalid_documents():
    for doc in ["", "not json", "[]", '{"members":[]}', '{"metadata":{}}',
                '{"members":[{"address":1,"provider_id":1}]}',
                '{"members":[{"address":"a","provider_id":70000}]}',
                '{"members":[{"address":"a"}]}',
                '{"members":[{"address":"a","provider_id":1}],"metadata":[]}']:
        with pytest.raises(FlockException) as e:
            GroupView.from_string(doc)
        assert e.value.code == ReturnCode.ERR_INVALID_CONFIG, doc
    # members without metadata: empty metadata (upstream crashes)
    v = GroupView.from_string('{"members":[{"address":"a","provider_id":1}]}')
    assert len(v.members) == 1 and len(v.metadata) == 0


def test_missing_file(tmp_path):
    with pytest.raises(FlockException) as e:
        GroupView.from_file(str(tmp_path / "absent.flock"))
    assert e.value.code == ReturnCode.ERR_INVALID_ARGS
