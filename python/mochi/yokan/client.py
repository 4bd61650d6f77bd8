"""Yokan client: :class:`Client` and :class:`Database` (``yokan/client.h``,
``yokan/database.h``), with upstream's Python API (``pyyokan_client``).

    client = Client(engine)                      # or Client("na+sm")
    db = client.make_database_handle(address, provider_id=42)
    # or, for a database spread over a Flock group (each key sent straight
    # to its owner; a mochi.flock GroupHandle or a group file):
    db = client.make_group_database_handle("group.flock", provider_id=42)
    db.put("key", "value")
    buf = bytearray(64)
    n = db.get("key", buf)                       # buf[:n] == b"value"

    coll = db.create_collection("docs")          # documents: see
    doc_id = coll.store("a document")            # mochi.yokan.collection

Keys and values are ``str`` (sent as UTF-8) or any contiguous buffer
(bytes, bytearray, memoryview, array, numpy array; its size is its size in
bytes). Outputs (``get``, ``list_keys``...) are writable buffers filled in
place. Every method takes ``mode`` (OR of :mod:`mochi.yokan.mode` flags)
and ``timeout_ms`` (used when > 0). Errors raise
:class:`mochi.yokan.exception.Exception` carrying the ``yk_return_t``
(non-contiguous buffer: ``YOKAN_ERR_NONCONTIG``, read-only output buffer:
``YOKAN_ERR_READONLY``); sizes lists that do not match their buffers raise
ValueError. Calls do not hold the GIL; callbacks (``fetch*``, ``iter``)
run on the calling thread, and an exception they raise ends the call and is
re-raised by it.
"""

import ctypes
import operator
import os
import threading

from .. import _lib
from .. import margo
from .._client import EngineClient
from .._closing import Closing
from .._lib import lib
from . import exception as _exc
from .exception import Exception

_missing = [name for name in _lib.YOKAN if not _lib.has(name)]
if _missing:
    raise ImportError(f"mochi.yokan: {_lib.path} does not export {', '.join(_missing)}; "
                      "is it an up-to-date libmochi?")

__all__ = ["Client", "Database", "Collection", "Exception"]


def __getattr__(name):
    # Collection lives in mochi.yokan.collection, which builds on this
    # module's helpers; it is looked up here on first use (upstream's
    # `from mochi.yokan.client import Collection`) so that either module
    # can be imported first.
    if name == "Collection":
        from .collection import Collection
        return Collection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Size sentinels of yokan/common.h (unsigned long long).
_KEY_NOT_FOUND = 2 ** 64 - 1
_SIZE_TOO_SMALL = 2 ** 64 - 2
_NO_MORE_KEYS = 2 ** 64 - 3
_LAST_VALID_SIZE = 2 ** 64 - 4



# The address given to empty output buffers; nothing is written there.
_NOWHERE = ctypes.create_string_buffer(1)


def _c_size_array(n):
    return ctypes.c_size_t * n


def _c_ptr_array(n):
    return ctypes.c_void_p * n



def _check(rc):
    if rc != 0:
        raise _exc.from_code(rc)


# ---------------------------------------------------------------------------
# Buffers


class _Buffers:
    """Keeps the Python objects behind the raw pointers of one call alive
    until the call returns."""

    def __init__(self):
        self._keep = []

    def input(self, obj, what):
        """(address or None, size) of a str (UTF-8) or contiguous buffer."""
        if isinstance(obj, str):
            data = obj.encode("utf-8")
        elif type(obj) is bytes:
            data = obj
        else:
            view = self._view(obj, what)
            if not view.readonly:
                return self._pin(view)
            data = view.tobytes()
        if not data:
            return None, 0
        self._keep.append(data)
        return ctypes.cast(data, ctypes.c_void_p).value, len(data)

    def output(self, obj, what):
        """(address, size) of a writable contiguous buffer."""
        view = self._view(obj, what)
        if view.readonly:
            raise _exc.from_code(_exc.YOKAN_ERR_READONLY)
        if view.nbytes == 0:
            # Some C calls refuse a NULL output before looking at its size;
            # an empty buffer then gets the "too small" answer (as upstream,
            # whose buffers always have an address), not "invalid argument".
            return ctypes.addressof(_NOWHERE), 0
        return self._pin(view)

    @staticmethod
    def _view(obj, what):
        try:
            view = memoryview(obj)
        except TypeError:
            raise TypeError(f"{what} must be a str or a buffer (bytes, bytearray, memoryview...), "
                            f"not {type(obj).__name__}") from None
        if not view.c_contiguous:
            raise _exc.from_code(_exc.YOKAN_ERR_NONCONTIG)
        return view

    def _pin(self, view):
        if view.nbytes == 0:
            return None, 0
        array = (ctypes.c_char * view.nbytes).from_buffer(view)
        self._keep.append(array)
        return ctypes.addressof(array), view.nbytes

    def inputs(self, objs, what):
        """Arrays of addresses and sizes of a sequence of inputs."""
        pairs = [self.input(o, what) for o in objs]
        return (_c_ptr_array(len(pairs))(*[p for p, _ in pairs]),
                _c_size_array(len(pairs))(*[n for _, n in pairs]))

    def outputs(self, objs, what):
        pairs = [self.output(o, what) for o in objs]
        return (_c_ptr_array(len(pairs))(*[p for p, _ in pairs]),
                _c_size_array(len(pairs))(*[n for _, n in pairs]))


def _sizes(sizes, what):
    """A size_t array from a list of ints."""
    try:
        values = [operator.index(s) for s in sizes]
    except TypeError:
        raise TypeError(f"{what} must be a list of ints") from None
    if any(v < 0 or v >= 2 ** 64 for v in values):
        raise ValueError(f"{what} must hold sizes (0 <= size < 2**64)")
    return _c_size_array(len(values))(*values), sum(values)


def _packed_input(buffers, data, sizes, what, sizes_what):
    """(address, size_t array, count) of a packed buffer and its sizes."""
    array, total = _sizes(sizes, sizes_what)
    ptr, size = buffers.input(data, what)
    if total > size:
        raise ValueError(f"{what} buffer is smaller than accumulated {sizes_what}")
    return ptr, array, len(array)


def _pairs(pairs, what):
    try:
        items = [tuple(p) for p in pairs]
    except TypeError:
        raise TypeError(f"{what} must be a list of (key, value) pairs") from None
    if any(len(p) != 2 for p in items):
        raise ValueError(f"{what} must be a list of (key, value) pairs")
    return items


def _mode(mode):
    value = operator.index(mode)
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError(f"mode {value} does not fit an int32_t")
    return value


def _timeout(timeout_ms):
    value = float(timeout_ms)
    return value if value > 0.0 else 0.0


def _unsigned(value, what, bits):
    value = operator.index(value)
    if not 0 <= value < 2 ** bits:
        raise ValueError(f"{what} must be in 0..{2 ** bits - 1}")
    return value


def _size_or_none(size):
    return None if size == _KEY_NOT_FOUND else size


def _size_or_minus_one(size):
    return -1 if size == _SIZE_TOO_SMALL else size


def _listed(sizes, count):
    """List results: sizes up to the first NO_MORE_KEYS, -1 for too small."""
    out = []
    for i in range(count):
        if sizes[i] == _NO_MORE_KEYS:
            break
        out.append(_size_or_minus_one(sizes[i]))
    return out


def _flags(flags, count):
    return [bool((flags[i // 8] >> (i % 8)) & 1) for i in range(count)]


class _Callback:
    """A yk_keyvalue_callback_t calling ``callback(index, key, value)``;
    ``key_of(index, key_ptr, key_size)`` makes the key handed to Python.
    The first Python exception ends the call (the callback returns
    YOKAN_ERR_OTHER) and is kept in :attr:`error` to be re-raised."""

    def __init__(self, callback, key_of, ignore_values=False):
        if not callable(callback):
            raise TypeError("callback must be callable (index, key, value)")
        self._callback = callback
        self._key_of = key_of
        self._ignore_values = ignore_values
        self.error = None
        self.c_function = _lib.YK_KEYVALUE_FN(self._call)

    def _call(self, _uargs, index, key, ksize, value, vsize):
        if self.error is not None:
            return _exc.YOKAN_ERR_OTHER
        try:
            if self._ignore_values or vsize > _LAST_VALID_SIZE:
                data = None
            else:
                data = memoryview(ctypes.string_at(value, vsize) if vsize else b"")
            self._callback(index, self._key_of(index, key, ksize), data)
        except BaseException as e:  # noqa: B902 -- re-raised by the caller
            self.error = e
            return _exc.YOKAN_ERR_OTHER
        return 0

    def finish(self, rc):
        """Raises the callback's exception, else the call's error."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        _check(rc)


def _raw_key(_index, key, ksize):
    return memoryview(ctypes.string_at(key, ksize) if ksize else b"")


def _text_key(_index, key, ksize):
    return (ctypes.string_at(key, ksize) if ksize else b"").decode("utf-8")


def _given_keys(keys):
    """Hands the caller's key back when it was a str (as upstream), else
    the key's bytes as a memoryview."""
    def key_of(index, key, ksize):
        if 0 <= index < len(keys) and isinstance(keys[index], str):
            return keys[index]
        return _raw_key(index, key, ksize)
    return key_of


# ---------------------------------------------------------------------------
# Database


class Database(Closing):
    """A handle on the database of one Yokan provider (made by
    :meth:`Client.make_database_handle`). Released by :meth:`release`, at
    the end of a ``with`` block or when collected; a release during a call
    on another thread takes effect when that call ends."""

    _close_method = "release"

    def __init__(self, handle, client, address, provider_id, group=False):
        self._group = group
        self._handle = ctypes.c_void_p(handle)
        self._client = client
        self._address = address
        self._provider_id = provider_id
        self._lock = threading.Lock()
        self._calls = 0
        self._released = False

    @property
    def client(self):
        return self._client

    @property
    def address(self):
        """The provider's address (str); for a group-aware handle, the
        member it named when it was made."""
        return self._address

    @property
    def group_aware(self):
        """True for a handle made by :meth:`Client.make_group_database_handle`."""
        return self._group

    @property
    def provider_id(self):
        return self._provider_id

    def _call(self, function, *args):
        """function(handle, *args) -> rc, with the handle kept alive."""
        with self._lock:
            if self._released:
                raise Exception("Invalid argument (the database handle is released)",
                                _exc.YOKAN_ERR_INVALID_ARGS)
            self._calls += 1
            handle = self._handle
        try:
            return function(handle, *args)
        finally:
            with self._lock:
                self._calls -= 1
                last = self._released and self._calls == 0
            if last:
                self._free()

    def release(self):
        """Releases the handle (idempotent). Calls still running (on other
        threads, or the callback's own) finish first; the last one frees it."""
        with self._lock:
            if self._released:
                return
            self._released = True
            busy = self._calls > 0
        if not busy:
            self._free()

    def _free(self):
        handle = self._take_handle()
        if handle:
            lib.yk_database_handle_release(handle)
            self._client._detach()

    def __repr__(self):
        return f"Database(address={self._address!r}, provider_id={self._provider_id})"

    # -- count ----------------------------------------------------------------
    def count(self, mode=0, timeout_ms=0.0):
        """The number of key/value pairs."""
        out = ctypes.c_size_t()
        _check(self._call(lib.yk_count_timed, _mode(mode), ctypes.byref(out), _timeout(timeout_ms)))
        return out.value

    # -- put ------------------------------------------------------------------
    def put(self, key, value, mode=0, timeout_ms=0.0):
        b = _Buffers()
        kp, kn = b.input(key, "key")
        vp, vn = b.input(value, "value")
        _check(self._call(lib.yk_put_timed, _mode(mode), kp, kn, vp, vn, _timeout(timeout_ms)))

    def put_multi(self, pairs, mode=0, timeout_ms=0.0):
        """Stores every ``(key, value)`` of ``pairs``, in order."""
        items = _pairs(pairs, "pairs")
        if not items:
            return
        b = _Buffers()
        keys, ksizes = b.inputs([k for k, _ in items], "key")
        values, vsizes = b.inputs([v for _, v in items], "value")
        _check(self._call(lib.yk_put_multi_timed, _mode(mode), len(items), keys, ksizes,
                          values, vsizes, _timeout(timeout_ms)))

    def put_packed(self, keys, key_sizes, values, value_sizes, mode=0, timeout_ms=0.0):
        """Stores the keys packed back to back in ``keys`` (sizes in
        ``key_sizes``) with the values packed in ``values``."""
        if len(key_sizes) != len(value_sizes):
            raise ValueError("key_sizes and value_sizes should have the same length")
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        vp, vs, _ = _packed_input(b, values, value_sizes, "values", "value_sizes")
        if count == 0:
            return
        _check(self._call(lib.yk_put_packed_timed, _mode(mode), count, kp, ks, vp, vs,
                          _timeout(timeout_ms)))

    # -- get ------------------------------------------------------------------
    def get(self, key, value, mode=0, timeout_ms=0.0):
        """Reads the value of ``key`` into the writable buffer ``value``;
        returns its size. Absent key: YOKAN_ERR_KEY_NOT_FOUND; buffer too
        small: YOKAN_ERR_BUFFER_SIZE."""
        b = _Buffers()
        kp, kn = b.input(key, "key")
        vp, vn = b.output(value, "value")
        size = ctypes.c_size_t(vn)
        _check(self._call(lib.yk_get_timed, _mode(mode), kp, kn, vp, ctypes.byref(size),
                          _timeout(timeout_ms)))
        return size.value

    def get_multi(self, pairs, mode=0, timeout_ms=0.0):
        """Reads each key of ``pairs`` (``(key, writable buffer)``) into its
        buffer; returns a list: the size, None (absent) or -1 (too small)."""
        items = _pairs(pairs, "pairs")
        if not items:
            return []
        b = _Buffers()
        keys, ksizes = b.inputs([k for k, _ in items], "key")
        values, vsizes = b.outputs([v for _, v in items], "value")
        _check(self._call(lib.yk_get_multi_timed, _mode(mode), len(items), keys, ksizes,
                          values, vsizes, _timeout(timeout_ms)))
        return [_size_or_minus_one(_size_or_none(s)) for s in vsizes]

    def get_packed(self, keys, key_sizes, values, mode=0, timeout_ms=0.0):
        """Reads the packed keys' values back to back into ``values``;
        returns a list: the size, None (absent) or -1 (did not fit)."""
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        if count == 0:
            return []
        vp, vn = b.output(values, "values")
        vsizes = _c_size_array(count)()
        _check(self._call(lib.yk_get_packed_timed, _mode(mode), count, kp, ks, vn, vp, vsizes,
                          _timeout(timeout_ms)))
        return [_size_or_minus_one(_size_or_none(s)) for s in vsizes]

    # -- fetch ----------------------------------------------------------------
    def fetch(self, key, callback, mode=0, timeout_ms=0.0):
        """Calls ``callback(index, key, value)`` with the value of ``key``
        (a read-only memoryview, or None if absent); ``key`` is the caller's
        str, or a memoryview of the key's bytes."""
        b = _Buffers()
        kp, kn = b.input(key, "key")
        cb = _Callback(callback, _given_keys([key]))
        cb.finish(self._call(lib.yk_fetch_timed, _mode(mode), kp, kn, cb.c_function, None,
                             _timeout(timeout_ms)))

    def fetch_multi(self, keys, callback, mode=0, batch_size=0, timeout_ms=0.0):
        """As :meth:`fetch` for each key of ``keys``, in order (``index`` is
        the key's position); ``batch_size`` keys per batch (0: all)."""
        keys = list(keys)
        options = _lib.YkFetchOptions(None, _unsigned(batch_size, "batch_size", 32))
        if not keys:
            return
        b = _Buffers()
        kptrs, ksizes = b.inputs(keys, "key")
        cb = _Callback(callback, _given_keys(keys))
        cb.finish(self._call(lib.yk_fetch_multi_timed, _mode(mode), len(keys), kptrs, ksizes,
                             cb.c_function, None, ctypes.byref(options), _timeout(timeout_ms)))

    def fetch_packed(self, keys, key_sizes, callback, mode=0, batch_size=0, timeout_ms=0.0):
        """As :meth:`fetch_multi` with the keys packed in ``keys``; the
        callback's keys are memoryviews."""
        options = _lib.YkFetchOptions(None, _unsigned(batch_size, "batch_size", 32))
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        if count == 0:
            return
        cb = _Callback(callback, _raw_key)
        cb.finish(self._call(lib.yk_fetch_packed_timed, _mode(mode), count, kp, ks,
                             cb.c_function, None, ctypes.byref(options), _timeout(timeout_ms)))

    # -- exists ---------------------------------------------------------------
    def exists(self, key, mode=0, timeout_ms=0.0):
        b = _Buffers()
        kp, kn = b.input(key, "key")
        flag = ctypes.c_uint8(0)
        _check(self._call(lib.yk_exists_timed, _mode(mode), kp, kn, ctypes.byref(flag),
                          _timeout(timeout_ms)))
        return bool(flag.value)

    def exists_multi(self, keys, mode=0, timeout_ms=0.0):
        """A list of bools, one per key."""
        keys = list(keys)
        if not keys:
            return []
        b = _Buffers()
        kptrs, ksizes = b.inputs(keys, "key")
        flags = (ctypes.c_uint8 * ((len(keys) + 7) // 8))()
        _check(self._call(lib.yk_exists_multi_timed, _mode(mode), len(keys), kptrs, ksizes,
                          flags, _timeout(timeout_ms)))
        return _flags(flags, len(keys))

    def exists_packed(self, keys, key_sizes, mode=0, timeout_ms=0.0):
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        if count == 0:
            return []
        flags = (ctypes.c_uint8 * ((count + 7) // 8))()
        _check(self._call(lib.yk_exists_packed_timed, _mode(mode), count, kp, ks, flags,
                          _timeout(timeout_ms)))
        return _flags(flags, count)

    # -- length ---------------------------------------------------------------
    def length(self, key, mode=0, timeout_ms=0.0):
        """The size of the value of ``key``, or None if it is absent."""
        b = _Buffers()
        kp, kn = b.input(key, "key")
        size = ctypes.c_size_t(0)
        rc = self._call(lib.yk_length_timed, _mode(mode), kp, kn, ctypes.byref(size),
                        _timeout(timeout_ms))
        if rc == _exc.YOKAN_ERR_KEY_NOT_FOUND:
            return None
        _check(rc)
        return size.value

    def length_multi(self, keys, mode=0, timeout_ms=0.0):
        """A list: each key's value size, or None (absent)."""
        keys = list(keys)
        if not keys:
            return []
        b = _Buffers()
        kptrs, ksizes = b.inputs(keys, "key")
        vsizes = _c_size_array(len(keys))()
        _check(self._call(lib.yk_length_multi_timed, _mode(mode), len(keys), kptrs, ksizes,
                          vsizes, _timeout(timeout_ms)))
        return [_size_or_none(s) for s in vsizes]

    def length_packed(self, keys, key_sizes, mode=0, timeout_ms=0.0):
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        if count == 0:
            return []
        vsizes = _c_size_array(count)()
        _check(self._call(lib.yk_length_packed_timed, _mode(mode), count, kp, ks, vsizes,
                          _timeout(timeout_ms)))
        return [_size_or_none(s) for s in vsizes]

    # -- erase ----------------------------------------------------------------
    def erase(self, key, mode=0, timeout_ms=0.0):
        """Erases ``key`` (an absent key is not an error)."""
        b = _Buffers()
        kp, kn = b.input(key, "key")
        _check(self._call(lib.yk_erase_timed, _mode(mode), kp, kn, _timeout(timeout_ms)))

    def erase_multi(self, keys, mode=0, timeout_ms=0.0):
        keys = list(keys)
        if not keys:
            return
        b = _Buffers()
        kptrs, ksizes = b.inputs(keys, "key")
        _check(self._call(lib.yk_erase_multi_timed, _mode(mode), len(keys), kptrs, ksizes,
                          _timeout(timeout_ms)))

    def erase_packed(self, keys, key_sizes, mode=0, timeout_ms=0.0):
        b = _Buffers()
        kp, ks, count = _packed_input(b, keys, key_sizes, "keys", "key_sizes")
        if count == 0:
            return
        _check(self._call(lib.yk_erase_packed_timed, _mode(mode), count, kp, ks,
                          _timeout(timeout_ms)))

    def erase_range(self, prefix, mode=0, timeout_ms=0.0):
        """Erases every key starting with ``prefix`` (empty: every key)."""
        b = _Buffers()
        pp, pn = b.input(prefix, "prefix")
        _check(self._call(lib.yk_erase_range_timed, _mode(mode), pp, pn, _timeout(timeout_ms)))

    # -- list -----------------------------------------------------------------
    def list_keys(self, keys, from_key, filter, mode=0, timeout_ms=0.0):
        """Lists up to ``len(keys)`` keys after ``from_key`` (empty: from
        the start; with YOKAN_MODE_INCLUSIVE from it) matching ``filter``
        (a prefix; empty: all) into the writable buffers ``keys``; returns
        the listed keys' sizes (-1: did not fit its buffer)."""
        b = _Buffers()
        fp, fn = b.input(from_key, "from_key")
        xp, xn = b.input(filter, "filter")
        slots = list(keys)
        if not slots:
            return []
        kptrs, ksizes = b.outputs(slots, "key buffer")
        _check(self._call(lib.yk_list_keys_timed, _mode(mode), fp, fn, xp, xn, len(slots),
                          kptrs, ksizes, _timeout(timeout_ms)))
        return _listed(ksizes, len(slots))

    def list_keys_packed(self, keys, count, from_key, filter, mode=0, timeout_ms=0.0):
        """As :meth:`list_keys`, up to ``count`` keys packed back to back in
        the writable buffer ``keys``."""
        count = _unsigned(count, "count", 64)
        b = _Buffers()
        fp, fn = b.input(from_key, "from_key")
        xp, xn = b.input(filter, "filter")
        kp, kn = b.output(keys, "keys")
        if count == 0:
            return []
        ksizes = _c_size_array(count)()
        _check(self._call(lib.yk_list_keys_packed_timed, _mode(mode), fp, fn, xp, xn, count,
                          kp, kn, ksizes, _timeout(timeout_ms)))
        return _listed(ksizes, count)

    def list_keyvals(self, pairs, from_key, filter, mode=0, timeout_ms=0.0):
        """As :meth:`list_keys` with the values: ``pairs`` is a list of
        ``(key buffer, value buffer)``; returns ``(key size, value size)``
        tuples (-1: did not fit)."""
        items = _pairs(pairs, "pairs")
        b = _Buffers()
        fp, fn = b.input(from_key, "from_key")
        xp, xn = b.input(filter, "filter")
        if not items:
            return []
        kptrs, ksizes = b.outputs([k for k, _ in items], "key buffer")
        vptrs, vsizes = b.outputs([v for _, v in items], "value buffer")
        _check(self._call(lib.yk_list_keyvals_timed, _mode(mode), fp, fn, xp, xn, len(items),
                          kptrs, ksizes, vptrs, vsizes, _timeout(timeout_ms)))
        return self._listed_pairs(ksizes, vsizes, len(items))

    def list_keyvals_packed(self, keys, values, count, from_key, filter, mode=0, timeout_ms=0.0):
        """As :meth:`list_keyvals`, up to ``count`` pairs, keys packed in
        ``keys`` and values packed in ``values``."""
        count = _unsigned(count, "count", 64)
        b = _Buffers()
        fp, fn = b.input(from_key, "from_key")
        xp, xn = b.input(filter, "filter")
        kp, kn = b.output(keys, "keys")
        vp, vn = b.output(values, "values")
        if count == 0:
            return []
        ksizes = _c_size_array(count)()
        vsizes = _c_size_array(count)()
        _check(self._call(lib.yk_list_keyvals_packed_timed, _mode(mode), fp, fn, xp, xn, count,
                          kp, kn, ksizes, vp, vn, vsizes, _timeout(timeout_ms)))
        return self._listed_pairs(ksizes, vsizes, count)

    @staticmethod
    def _listed_pairs(ksizes, vsizes, count):
        out = []
        for i in range(count):
            if ksizes[i] == _NO_MORE_KEYS:
                break
            out.append((_size_or_minus_one(ksizes[i]), _size_or_minus_one(vsizes[i])))
        return out

    # -- iter -----------------------------------------------------------------
    def iter(self, callback, from_key=b"", filter=b"", count=0, mode=0, batch_size=0,
             ignore_values=False, timeout_ms=0.0):
        """Calls ``callback(index, key, value)`` for up to ``count`` (0: all)
        keys after ``from_key`` matching ``filter``, in order. ``key`` is a
        str when ``from_key`` is a str, else a memoryview; ``value`` a
        read-only memoryview (None with ``ignore_values``)."""
        count = _unsigned(count, "count", 64)
        options = _lib.YkIterOptions(_unsigned(batch_size, "batch_size", 32), None,
                                     bool(ignore_values))
        b = _Buffers()
        fp, fn = b.input(from_key, "from_key")
        xp, xn = b.input(filter, "filter")
        cb = _Callback(callback, _text_key if isinstance(from_key, str) else _raw_key,
                       ignore_values=bool(ignore_values))
        cb.finish(self._call(lib.yk_iter_timed, _mode(mode), fp, fn, xp, xn, count,
                             cb.c_function, None, ctypes.byref(options), _timeout(timeout_ms)))

    # -- collections ----------------------------------------------------------
    def create_collection(self, name, mode=0, timeout_ms=0.0):
        """Creates the collection ``name`` (taken: YOKAN_ERR_KEY_EXISTS);
        returns its :class:`mochi.yokan.collection.Collection`."""
        from .collection import Collection, _function, _name
        _check(self._call(_function("yk_collection_create_timed"), _name(name), _mode(mode),
                          _timeout(timeout_ms)))
        return Collection(name, self)

    def open_collection(self, name):
        """The :class:`mochi.yokan.collection.Collection` ``name``, without
        asking the provider (as upstream): a missing one fails at its first
        call."""
        from .collection import Collection
        return Collection(name, self)

    def drop_collection(self, name, mode=0, timeout_ms=0.0):
        """Erases the collection ``name`` and its documents."""
        from .collection import _function, _name
        _check(self._call(_function("yk_collection_drop_timed"), _name(name), _mode(mode),
                          _timeout(timeout_ms)))

    def collection_exists(self, name, mode=0, timeout_ms=0.0):
        """Whether the collection ``name`` exists (a bool)."""
        from .collection import _function, _name
        flag = ctypes.c_uint8(0)
        _check(self._call(_function("yk_collection_exists_timed"), _name(name), _mode(mode),
                          ctypes.byref(flag), _timeout(timeout_ms)))
        return bool(flag.value)


# ---------------------------------------------------------------------------
# Client


def _engine_of(arg):
    """An Engine or protocol string as is; anything with a ``mid``
    attribute (or method) holding a margo_instance_id, or such an id,
    wrapped in a non-owning Engine."""
    if isinstance(arg, (margo.Engine, str)):
        return arg
    mid = arg
    if not isinstance(arg, (ctypes.c_void_p, int)) and hasattr(arg, "mid"):
        mid = arg.mid() if callable(arg.mid) else arg.mid
    if isinstance(mid, (ctypes.c_void_p, int)) and not isinstance(mid, bool):
        return margo.Engine.from_margo_instance_id(mid, owner=arg)
    raise TypeError(f"Invalid argument type {type(arg)}: expected a mochi.margo.Engine, "
                    "a protocol string or a margo_instance_id")


class Client(EngineClient):
    """A Yokan client: ``Client(engine)`` (a :class:`mochi.margo.Engine`,
    not owned; also anything with a ``mid``, e.g. ``server.margo``, or a
    margo_instance_id) or ``Client("na+sm")`` (a protocol: a client-mode
    engine is created and owned).

    The client (and the engine it owns) stays open while a
    :class:`Database` made from it is alive, as upstream's C++ Database
    holds its client: :meth:`close` with live handles only refuses new
    ones, and the last handle's release finishes it."""

    def __init__(self, engine):
        self._lock = threading.Lock()
        self._databases = 0
        self._close_pending = False

        def init(e, out):
            _check(lib.yk_client_init(e._live_mid("yk_client_init"), ctypes.byref(out)))
        super().__init__(_engine_of(engine), init, lib.yk_client_finalize)

    def _live(self):
        if not self._client or self._close_pending:
            raise Exception("Invalid argument (the client is closed)", _exc.YOKAN_ERR_INVALID_ARGS)
        return self._client

    def _detach(self):
        with self._lock:
            self._databases -= 1
            now = self._close_pending and self._databases == 0
        if now:
            super().close()

    def close(self):
        """Finalizes the client (and the engine it owns), at once or, with
        database handles alive, when the last one is released."""
        with self._lock:
            if self._databases > 0:
                self._close_pending = True
                return
        super().close()

    def _resolve(self, address):
        """An Address of this client's engine for ``address``."""
        if isinstance(address, margo.Address):
            if address.engine.mid.value == self._engine.mid.value:
                return address      # an address of this very instance
            return self._engine.lookup(str(address))
        if isinstance(address, (str, bytes)):
            return self._engine.lookup(address)
        if hasattr(address, "hg_addr"):
            # Someone else's hg_addr_t: use a copy of our own.
            raw = address.hg_addr() if callable(address.hg_addr) else address.hg_addr
            if isinstance(raw, int) and not isinstance(raw, bool):
                raw = ctypes.c_void_p(raw)
            if isinstance(raw, ctypes.c_void_p) and raw.value:
                out = ctypes.c_void_p()
                if lib.margo_addr_dup(self._engine._live_mid("margo_addr_dup"), raw,
                                      ctypes.byref(out)) != 0:
                    raise margo.MargoException("margo_addr_dup failed")
                return margo.Address(self._engine, out.value)
        raise TypeError(f"address must be a mochi.margo.Address or an address string, "
                        f"not {type(address).__name__}")

    def make_database_handle(self, address, provider_id, check=True):
        """A :class:`Database` on the provider ``provider_id`` at ``address``
        (a :class:`mochi.margo.Address`, e.g. ``engine.addr()``, or an
        address string). With ``check``, the provider is asked first
        (YOKAN_ERR_INVALID_PROVIDER if there is no Yokan provider with that
        id there)."""
        provider_id = _unsigned(provider_id, "provider_id", 16)
        addr = self._resolve(address)
        out = ctypes.c_void_p()
        with self._lock:
            client = self._live()
            self._databases += 1    # the client stays open during the call
        try:
            _check(lib.yk_database_handle_create(client, addr.hg_addr, provider_id, bool(check),
                                                 ctypes.byref(out)))
            database = Database(out.value, self, str(addr), provider_id)
        except BaseException:
            self._detach()
            raise
        return database

    def make_group_database_handle(self, group, provider_id):
        """A group-aware :class:`Database` on the distributed database whose
        shards are the Yokan providers ``provider_id`` of a Flock group's
        members (providers that depend on the group). ``group`` is a
        :class:`mochi.flock.client.GroupHandle` (kept by the caller) or the
        path of a Flock group file. Every operation works on it: each key
        goes straight to its primary owner (multi-key calls are split by
        owner), a primary that does not answer is replaced by the next
        owner, count/list/iter/erase_range go to one live member, and the
        handle follows the group's view. Errors: YOKAN_ERR_INVALID_ARGS
        (unreadable file, empty view), YOKAN_ERR_INVALID_PROVIDER (no Yokan
        provider with that id, or not a shard of a distributed database),
        YOKAN_ERR_FROM_MERCURY (no member answers)."""
        from ..flock.client import GroupHandle
        provider_id = _unsigned(provider_id, "provider_id", 16)
        if isinstance(group, GroupHandle):
            create = lambda client, out: lib.yk_database_handle_create_from_group(  # noqa: E731
                client, group._live("yk_database_handle_create_from_group"), provider_id, out)
        elif isinstance(group, (str, bytes, os.PathLike)):
            path = os.fsencode(group)
            if b"\0" in path:
                raise ValueError("the group file name contains a NUL byte")
            create = lambda client, out: lib.yk_database_handle_create_from_group_file(  # noqa: E731
                client, path, provider_id, out)
        else:
            raise TypeError(f"group must be a mochi.flock GroupHandle or a group file path, "
                            f"not {type(group).__name__}")
        out = ctypes.c_void_p()
        with self._lock:
            client = self._live()
            self._databases += 1    # the client stays open during the call
        try:
            _check(create(client, ctypes.byref(out)))
            try:
                raw = ctypes.c_void_p()
                _check(lib.yk_database_handle_get_info(out, None, ctypes.byref(raw), None))
                address = str(margo.Address(self._engine, raw.value))
            except BaseException:
                lib.yk_database_handle_release(out)
                raise
            database = Database(out.value, self, address, provider_id, group=True)
        except BaseException:
            self._detach()
            raise
        return database
