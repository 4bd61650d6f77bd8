"""Group views: the members of a Flock group and its key/value metadata.

A :class:`GroupView` is kept in Python (the C header's view helpers are
``static inline`` and so not exported by libmochi) with exactly the C
helpers' semantics: members sorted by address (byte-wise, as ``strcmp``)
then provider id, duplicates allowed; metadata sorted by key, keys unique;
``digest`` maintained as the header computes it (djb2 with sign-extended
bytes, see :func:`djb2_hash`, :func:`hash_member`, :func:`hash_metadata`).

Crossing into C uses a ctypes mirror of ``flock_group_view_t``
(:class:`mochi._lib.FlockGroupView`): a view is laid out in malloc'd memory
for the C calls that take one (serialization, providers) and read back from
the views libmochi fills (files, strings, group handles).
"""

import bisect
import ctypes
import threading
from contextlib import contextmanager

from .. import _lib
from .._lib import lib
from .common import FlockException, ReturnCode, check

__all__ = ["GroupView", "Member", "Metadata", "MembersProxy", "MetadataProxy",
           "djb2_hash", "hash_member", "hash_metadata"]

_MASK = (1 << 64) - 1


# --------------------------------------------------------------------------
# Hashes, bit-exact with include/flock/flock-group-view.h

def _byte(b):
    """A byte as the header's hash sees it: a signed char, sign-extended,
    converted to uint64_t."""
    b &= 0xFF
    return (b | 0xFFFFFFFFFFFFFF00) if b & 0x80 else b


def _bytes(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def djb2_hash(s):
    """flock_djb2_hash: h = 5381; h = h * 33 + c over the bytes (mod 2^64)."""
    h = 5381
    for b in _bytes(s):
        h = (h * 33 + _byte(b)) & _MASK
    return h


def hash_member(provider_id, address):
    """flock_hash_member: djb2 of the address continued over the provider
    id's two bytes, low byte first."""
    h = djb2_hash(address)
    h = (h * 33 + _byte(provider_id & 0xFF)) & _MASK
    h = (h * 33 + _byte((provider_id >> 8) & 0xFF)) & _MASK
    return h


def hash_metadata(key, value):
    """flock_hash_metadata: djb2(key) XOR rotl64(djb2(value), 3)."""
    vh = djb2_hash(value)
    return djb2_hash(key) ^ (((vh << 3) | (vh >> 61)) & _MASK)


# --------------------------------------------------------------------------
# Value types

class Member:
    """One member: ``address`` (str) and ``provider_id`` (int), read-only."""
    __slots__ = ("_address", "_provider_id")

    def __init__(self, address, provider_id):
        self._address = str(address)
        self._provider_id = _check_provider_id(provider_id)

    @property
    def address(self):
        return self._address

    @property
    def provider_id(self):
        return self._provider_id

    def __eq__(self, other):
        if isinstance(other, Member):
            return (self._address, self._provider_id) == (other._address, other._provider_id)
        if isinstance(other, tuple):
            return (self._address, self._provider_id) == other
        return NotImplemented

    def __hash__(self):
        return hash((self._address, self._provider_id))

    def __iter__(self):
        return iter((self._address, self._provider_id))

    def __repr__(self):
        return f"Member(address={self._address!r}, provider_id={self._provider_id})"


class Metadata:
    """One metadata entry: ``key`` and ``value`` (str), read-only."""
    __slots__ = ("_key", "_value")

    def __init__(self, key, value):
        self._key = str(key)
        self._value = str(value)

    @property
    def key(self):
        return self._key

    @property
    def value(self):
        return self._value

    def __eq__(self, other):
        if isinstance(other, Metadata):
            return (self._key, self._value) == (other._key, other._value)
        if isinstance(other, tuple):
            return (self._key, self._value) == other
        return NotImplemented

    def __hash__(self):
        return hash((self._key, self._value))

    def __iter__(self):
        return iter((self._key, self._value))

    def __repr__(self):
        return f"Metadata(key={self._key!r}, value={self._value!r})"


def _check_provider_id(provider_id):
    if isinstance(provider_id, bool) or not isinstance(provider_id, int):
        raise TypeError(f"provider_id must be an int, not {type(provider_id).__name__}")
    if not 0 <= provider_id <= 0xFFFF:
        raise ValueError(f"provider_id {provider_id} is outside [0, 65535]")
    return provider_id


def _check_text(value, what):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    data = value.encode("utf-8")   # raises on lone surrogates: views are UTF-8
    if b"\0" in data:
        raise ValueError(f"{what} must not contain NUL characters")
    return data


def _index(i, size, message):
    if isinstance(i, bool) or not isinstance(i, int):
        raise TypeError(f"index must be an int, not {type(i).__name__}")
    if i < 0:
        i += size
    if not 0 <= i < size:
        raise IndexError(message)
    return i


# --------------------------------------------------------------------------
# Proxies

class MembersProxy:
    """``view.members``: the view's members, in sorted order."""
    __slots__ = ("_view",)

    def __init__(self, view):
        self._view = view

    def __len__(self):
        return len(self._view._mkeys)

    @property
    def count(self):
        return len(self._view._mkeys)

    def add(self, address, provider_id):
        """Inserts (address, provider_id) at its sorted place (before an
        equal member: duplicates are not rejected, as in C)."""
        self._view._add_member(address, provider_id)

    def remove(self, *args, **kwargs):
        """``remove(index)`` or ``remove(address, provider_id)``; raises
        FlockException (ERR_NO_MEMBER) if there is no such member."""
        if "index" in kwargs or (len(args) == 1 and not kwargs):
            index = kwargs.pop("index") if "index" in kwargs else args[0]
            if kwargs:
                raise TypeError(f"unexpected arguments {sorted(kwargs)}")
            self._view._remove_member_at(index)
            return
        names = ("address", "provider_id")
        params = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names or k in params:
                raise TypeError(f"unexpected argument {k!r}")
            params[k] = v
        if len(args) > 2 or set(params) != set(names):
            raise TypeError("remove() takes (index) or (address, provider_id)")
        self._view._remove_member(params["address"], params["provider_id"])

    def exists(self, address, provider_id):
        return self._view._find_member(address, provider_id) >= 0

    def __contains__(self, item):
        if isinstance(item, Member):
            item = (item.address, item.provider_id)
        if not isinstance(item, tuple):
            raise TypeError("expected an (address, provider_id) tuple or a Member")
        if len(item) != 2:
            raise ValueError("expected an (address, provider_id) tuple")
        address, provider_id = item
        return self.exists(address, provider_id)

    def __getitem__(self, index):
        keys = self._view._mkeys
        i = _index(index, len(keys), "Invalid member index")
        return Member(keys[i][0].decode("utf-8"), keys[i][1])

    def __delitem__(self, index):
        self._view._remove_member_at(index)

    def __iter__(self):
        for address, provider_id in list(self._view._mkeys):
            yield Member(address.decode("utf-8"), provider_id)

    def __repr__(self):
        return f"MembersProxy({list(self)!r})"


class MetadataProxy:
    """``view.metadata``: the view's key/value entries, in key order."""
    __slots__ = ("_view",)

    def __init__(self, view):
        self._view = view

    def __len__(self):
        return len(self._view._meta_keys)

    @property
    def count(self):
        return len(self._view._meta_keys)

    def add(self, key, value):
        """Sets key to value (replacing an existing value)."""
        self._view._add_metadata(key, value)

    def remove(self, key):
        """Removes the key; no error if it is absent (as upstream)."""
        self._view._remove_metadata(key)

    def __getitem__(self, item):
        """``[key]`` -> value or None; ``[index]`` -> Metadata."""
        if isinstance(item, str):
            return self._view._meta.get(item)
        keys = self._view._meta_keys
        i = _index(item, len(keys), "Invalid metadata index")
        key = keys[i].decode("utf-8")
        return Metadata(key, self._view._meta[key])

    def __delitem__(self, key):
        self._view._remove_metadata(key)

    def __contains__(self, key):
        return key in self._view._meta

    def __iter__(self):
        meta = self._view._meta
        for k in list(self._view._meta_keys):
            key = k.decode("utf-8")
            yield Metadata(key, meta[key])

    def items(self):
        return [(m.key, m.value) for m in self]

    def keys(self):
        return [m.key for m in self]

    def to_dict(self):
        return dict(self.items())

    def __repr__(self):
        return f"MetadataProxy({self.to_dict()!r})"


# --------------------------------------------------------------------------
# The view

class GroupView:
    """A group view. ``GroupView()`` is empty (digest 0)."""

    def __init__(self):
        self._mkeys = []          # sorted [(address bytes, provider_id)]
        self._meta = {}           # key -> value (str)
        self._meta_keys = []      # sorted [key bytes]
        self._digest = 0
        self._mutex = threading.Lock()
        self._c_digest = None     # digest libmochi reported, for views read from C

    # -- members --------------------------------------------------------------
    def _add_member(self, address, provider_id):
        data = _check_text(address, "address")
        pid = _check_provider_id(provider_id)
        bisect.insort_left(self._mkeys, (data, pid))
        self._digest ^= hash_member(pid, data)

    def _find_member(self, address, provider_id):
        if not isinstance(address, str) or isinstance(provider_id, bool) \
                or not isinstance(provider_id, int):
            return -1
        key = (address.encode("utf-8", "surrogatepass"), provider_id)
        i = bisect.bisect_left(self._mkeys, key)
        return i if i < len(self._mkeys) and self._mkeys[i] == key else -1

    def _remove_member_at(self, index):
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, not {type(index).__name__}")
        if index < 0:
            index += len(self._mkeys)
        if not 0 <= index < len(self._mkeys):
            raise FlockException(ReturnCode.ERR_NO_MEMBER, "GroupView.members.remove")
        data, pid = self._mkeys.pop(index)
        self._digest ^= hash_member(pid, data)

    def _remove_member(self, address, provider_id):
        i = self._find_member(address, provider_id)
        if i < 0:
            raise FlockException(ReturnCode.ERR_NO_MEMBER, "GroupView.members.remove")
        self._remove_member_at(i)

    # -- metadata -------------------------------------------------------------
    def _add_metadata(self, key, value):
        kdata = _check_text(key, "key")
        vdata = _check_text(value, "value")
        old = self._meta.get(key)
        if old is not None:
            self._digest ^= hash_metadata(kdata, old.encode("utf-8")) ^ hash_metadata(kdata, vdata)
        else:
            bisect.insort_left(self._meta_keys, kdata)
            self._digest ^= hash_metadata(kdata, vdata)
        self._meta[key] = value

    def _remove_metadata(self, key):
        if not isinstance(key, str) or key not in self._meta:
            return False
        kdata = key.encode("utf-8")
        value = self._meta.pop(key)
        i = bisect.bisect_left(self._meta_keys, kdata)
        del self._meta_keys[i]
        self._digest ^= hash_metadata(kdata, value.encode("utf-8"))
        return True

    # -- public API -------------------------------------------------------------
    @property
    def members(self):
        return MembersProxy(self)

    @property
    def metadata(self):
        return MetadataProxy(self)

    @property
    def digest(self):
        """XOR of the hashes of every member and metadata entry (0 if empty)."""
        return self._digest

    def clear(self):
        self._mkeys = []
        self._meta = {}
        self._meta_keys = []
        self._digest = 0

    def lock(self):
        self._mutex.acquire()

    def unlock(self):
        self._mutex.release()

    @contextmanager
    def locked(self):
        """``with view.locked(): ...`` holds the view's lock."""
        self.lock()
        try:
            yield self
        finally:
            self.unlock()

    def copy(self):
        """An independent deep copy (same content, same digest)."""
        out = GroupView()
        out._mkeys = list(self._mkeys)
        out._meta = dict(self._meta)
        out._meta_keys = list(self._meta_keys)
        out._digest = self._digest
        return out

    def __eq__(self, other):
        if not isinstance(other, GroupView):
            return NotImplemented
        return self._mkeys == other._mkeys and self._meta == other._meta

    __hash__ = None

    def __repr__(self):
        return (f"GroupView(members={len(self._mkeys)}, metadata={len(self._meta)}, "
                f"digest={self._digest})")

    def __str__(self):
        """The JSON serialization, as libmochi writes it
        (flock_group_view_serialize)."""
        chunks = []

        @_lib.FLOCK_SERIALIZER_FN
        def serializer(_ctx, text, length):
            chunks.append(ctypes.string_at(text, length))

        with _CView(self) as cview:
            check(lib.flock_group_view_serialize(ctypes.byref(cview), serializer, None),
                  "flock_group_view_serialize")
        return b"".join(chunks).decode("utf-8")

    def serialize_to_file(self, filename):
        """Writes the view to a file (atomically replaced), as providers do."""
        with _CView(self) as cview:
            check(lib.flock_group_view_serialize_to_file(
                ctypes.byref(cview), _lib.c_text(str(filename), "filename")),
                "flock_group_view_serialize_to_file")

    @staticmethod
    def from_file(filename):
        """Loads a group file (FlockException: ERR_INVALID_ARGS if it cannot
        be read, ERR_INVALID_CONFIG if its content is invalid)."""
        cview = _lib.FlockGroupView()
        try:
            check(lib.flock_group_view_from_file(_lib.c_text(str(filename), "filename"),
                                                 ctypes.byref(cview)),
                  "flock_group_view_from_file")
            return _from_c(cview)
        finally:
            _clear_c(cview)

    @staticmethod
    def from_string(content):
        """Parses a serialized view (str or bytes); FlockException
        (ERR_INVALID_CONFIG) if invalid."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        cview = _lib.FlockGroupView()
        try:
            check(lib.flock_group_view_from_string(data, len(data), ctypes.byref(cview)),
                  "flock_group_view_from_string")
            return _from_c(cview)
        finally:
            _clear_c(cview)


# --------------------------------------------------------------------------
# The C mirror

def _c_strdup(data):
    ptr = _lib.libc_malloc(len(data) + 1)
    if not ptr:
        raise MemoryError("malloc failed")
    ctypes.memmove(ptr, data + b"\0", len(data) + 1)
    return ptr


def _clear_c(cview):
    """flock_group_view_clear (the header's inline helper), in Python."""
    members = cview.members
    for i in range(members.size):
        m = members.data[i]
        _lib.libc_free(m.address)
        if m.extra.free:
            _lib.MEMBER_FREE_FN(m.extra.free)(m.extra.data)
    if members.size or members.capacity:
        _lib.libc_free(ctypes.cast(members.data, ctypes.c_void_p))
    cview.members.size = 0
    cview.members.capacity = 0
    cview.members.data = None
    meta = cview.metadata
    for i in range(meta.size):
        e = meta.data[i]
        _lib.libc_free(e.key)
        _lib.libc_free(e.value)
    if meta.size or meta.capacity:
        _lib.libc_free(ctypes.cast(meta.data, ctypes.c_void_p))
    cview.metadata.size = 0
    cview.metadata.capacity = 0
    cview.metadata.data = None
    cview.digest = 0


def _fill_c(view, cview):
    """Lays `view` out in malloc'd memory in the (empty) C view `cview`,
    keeping the header's invariants (sorted arrays, digest)."""
    try:
        n = len(view._mkeys)
        if n:
            ptr = _lib.libc_calloc(n, ctypes.sizeof(_lib.FlockMember))
            if not ptr:
                raise MemoryError("calloc failed")
            cview.members.data = ctypes.cast(ptr, ctypes.POINTER(_lib.FlockMember))
            cview.members.capacity = n
            for i, (address, pid) in enumerate(view._mkeys):
                m = cview.members.data[i]
                m.address = _c_strdup(address)
                m.provider_id = pid
                cview.members.size = i + 1
        n = len(view._meta_keys)
        if n:
            ptr = _lib.libc_calloc(n, ctypes.sizeof(_lib.FlockMetadata))
            if not ptr:
                raise MemoryError("calloc failed")
            cview.metadata.data = ctypes.cast(ptr, ctypes.POINTER(_lib.FlockMetadata))
            cview.metadata.capacity = n
            for i, kdata in enumerate(view._meta_keys):
                e = cview.metadata.data[i]
                e.key = _c_strdup(kdata)
                e.value = _c_strdup(view._meta[kdata.decode("utf-8")].encode("utf-8"))
                cview.metadata.size = i + 1
        cview.digest = view._digest
    except BaseException:
        _clear_c(cview)
        raise


def _from_c(cview):
    """A GroupView with the content of a C view (which is left as is)."""
    view = GroupView()
    members = cview.members
    for i in range(members.size):
        m = members.data[i]
        view._add_member(ctypes.string_at(m.address).decode("utf-8"), m.provider_id)
    meta = cview.metadata
    for i in range(meta.size):
        e = meta.data[i]
        view._add_metadata(ctypes.string_at(e.key).decode("utf-8"),
                           ctypes.string_at(e.value).decode("utf-8"))
    view._c_digest = cview.digest
    return view


class _CView:
    """``with _CView(view) as cview:`` -- a C copy of `view`, freed at exit
    (whatever a C call left in it)."""

    def __init__(self, view):
        self._view = view
        self.cview = _lib.FlockGroupView()

    def __enter__(self):
        _fill_c(self._view, self.cview)
        return self.cview

    def __exit__(self, *exc):
        _clear_c(self.cview)
        return False
