"""Yokan document collections: :class:`Collection` (``yokan/collection.h``),
with upstream's Python API (``pyyokan_client.Collection``).

    coll = db.create_collection("events")      # or db.open_collection(...)
    first = coll.store("a document")           # ids count up from 0
    ids = coll.store_multi(["b", b"c"])
    buf = bytearray(64)
    n = coll.load(first, buf)                  # buf[:n] == b"a document"

Documents follow :mod:`mochi.yokan.client`'s conventions: ``str`` (sent as
UTF-8) or contiguous buffers in, writable buffers out, ``mode`` and
``timeout_ms`` keywords on every call, no GIL held during a call, callbacks
run on the calling thread (an exception they raise ends the call and is
re-raised), errors as :class:`mochi.yokan.exception.Exception`. An
operation on a collection that does not exist raises
YOKAN_ERR_KEY_NOT_FOUND (``length`` and ``length_multi`` answer None, as
for a missing document).
"""

import ctypes
import operator

from .. import _lib
from .._lib import lib
from . import exception as _exc
from .client import (_Buffers, _Callback, _check, _mode, _packed_input, _size_or_minus_one,
                     _size_or_none, _timeout, _unsigned, _LAST_VALID_SIZE, _NO_MORE_KEYS)
from .exception import Exception

__all__ = ["Collection"]


def _function(name):
    """The exported C function ``name``; a libmochi built without
    collections gets the error its old header gave them."""
    if not _lib.has(name):
        raise Exception(f"Unsupported operation or mode ({_lib.path} does not export {name})",
                        _exc.YOKAN_ERR_OP_UNSUPPORTED)
    return getattr(lib, name)


def _name(name):
    """The collection name as the NUL-terminated bytes the C API takes."""
    return _lib.c_text(name, "collection name")


def _ids(ids, what="ids"):
    """A yk_id_t array from a sequence of ints."""
    try:
        values = [operator.index(i) for i in ids]
    except TypeError:
        raise TypeError(f"{what} must be a list of ints") from None
    if any(not 0 <= v < 2 ** 64 for v in values):
        raise ValueError(f"{what} must be document ids (0 <= id < 2**64)")
    return (ctypes.c_uint64 * len(values))(*values)


def _same_length(a, b, what):
    if len(a) != len(b):
        raise ValueError(f"{what} should have the same length")


def _listed_docs(ids, sizes, count):
    """``(id, size)`` pairs up to the first NO_MORE_DOCS (the same value as
    NO_MORE_KEYS); -1 for a document that did not fit."""
    out = []
    for i in range(count):
        if sizes[i] == _NO_MORE_KEYS:
            break
        out.append((ids[i], _size_or_minus_one(sizes[i])))
    return out


class _DocumentCallback(_Callback):
    """A yk_document_callback_t calling ``callback(index, id, document)``;
    the document is a read-only memoryview (a copy: C's memory is only
    valid during the call), or None for an absent one. Errors are kept
    and re-raised as :class:`mochi.yokan.client._Callback` does."""

    def __init__(self, callback):
        if not callable(callback):
            raise TypeError("callback must be callable (index, id, document)")
        self._callback = callback
        self.error = None
        self.c_function = _lib.YK_DOCUMENT_FN(self._call)

    def _call(self, _uargs, index, doc_id, doc, size):
        if self.error is not None:
            return _exc.YOKAN_ERR_OTHER
        try:
            data = None
            if size <= _LAST_VALID_SIZE:
                data = memoryview(ctypes.string_at(doc, size) if size else b"")
            self._callback(index, doc_id, data)
        except BaseException as e:  # noqa: B902 -- re-raised by the caller
            self.error = e
            return _exc.YOKAN_ERR_OTHER
        return 0


class Collection:
    """The collection ``name`` of a :class:`mochi.yokan.client.Database`
    (made by its ``create_collection`` / ``open_collection``, or as
    ``Collection(name, database)``). Making one sends nothing: a missing
    collection shows at the first call. The collection keeps its database
    object alive; once the database is released its calls raise
    YOKAN_ERR_INVALID_ARGS."""

    def __init__(self, name, database):
        self._cname = _name(name)
        self._name = name if isinstance(name, str) else self._cname.decode("utf-8", "replace")
        self._database = database

    @property
    def name(self):
        return self._name

    @property
    def database(self):
        return self._database

    def __repr__(self):
        return f"Collection({self._name!r}, {self._database!r})"

    def _call(self, function, mode, *args, timeout_ms):
        """function(handle, name, mode, *args, timeout) -> rc, through the
        database (which keeps its handle alive during the call)."""
        return self._database._call(_function(function), self._cname, _mode(mode), *args,
                                    _timeout(timeout_ms))

    # -- size -----------------------------------------------------------------
    def size(self, mode=0, timeout_ms=0.0):
        """The number of documents."""
        out = ctypes.c_size_t()
        _check(self._call("yk_collection_size_timed", mode, ctypes.byref(out),
                          timeout_ms=timeout_ms))
        return out.value

    def last_id(self, mode=0, timeout_ms=0.0):
        """The id before the one the next stored document gets (2**64-1
        while none was stored), as upstream computes it. An extension:
        upstream's Python API lacks it; C++ has ``Collection::last_id``."""
        out = ctypes.c_uint64()
        _check(self._call("yk_collection_last_id_timed", mode, ctypes.byref(out),
                          timeout_ms=timeout_ms))
        return out.value

    # -- store ----------------------------------------------------------------
    def store(self, document, mode=0, timeout_ms=0.0):
        """Stores ``document``; returns its id."""
        b = _Buffers()
        dp, dn = b.input(document, "document")
        out = ctypes.c_uint64()
        _check(self._call("yk_doc_store_timed", mode, dp, dn, ctypes.byref(out),
                          timeout_ms=timeout_ms))
        return out.value

    def store_multi(self, documents, mode=0, timeout_ms=0.0):
        """Stores each document, in order; returns their ids."""
        documents = list(documents)
        if not documents:
            return []
        b = _Buffers()
        ptrs, sizes = b.inputs(documents, "document")
        ids = (ctypes.c_uint64 * len(documents))()
        _check(self._call("yk_doc_store_multi_timed", mode, len(documents), ptrs, sizes, ids,
                          timeout_ms=timeout_ms))
        return list(ids)

    def store_packed(self, documents, doc_sizes, mode=0, timeout_ms=0.0):
        """Stores the documents packed back to back in ``documents`` (their
        sizes in ``doc_sizes``); returns their ids."""
        b = _Buffers()
        dp, sizes, count = _packed_input(b, documents, doc_sizes, "documents", "doc_sizes")
        if count == 0:
            return []
        ids = (ctypes.c_uint64 * count)()
        _check(self._call("yk_doc_store_packed_timed", mode, count, dp, sizes, ids,
                          timeout_ms=timeout_ms))
        return list(ids)

    # -- update ---------------------------------------------------------------
    def update(self, id, document, mode=0, timeout_ms=0.0):
        """Replaces document ``id`` (absent: YOKAN_ERR_INVALID_ID, unless
        ``mode`` has YOKAN_MODE_UPDATE_NEW, 0x8000, which stores it)."""
        b = _Buffers()
        dp, dn = b.input(document, "document")
        _check(self._call("yk_doc_update_timed", mode, _unsigned(id, "id", 64), dp, dn,
                          timeout_ms=timeout_ms))

    def update_multi(self, ids, documents, mode=0, timeout_ms=0.0):
        """Replaces document ``ids[i]`` by ``documents[i]`` for each i."""
        ids, documents = list(ids), list(documents)
        _same_length(ids, documents, '"ids" and "documents"')
        if not ids:
            return
        b = _Buffers()
        ptrs, sizes = b.inputs(documents, "document")
        _check(self._call("yk_doc_update_multi_timed", mode, len(ids), _ids(ids), ptrs, sizes,
                          timeout_ms=timeout_ms))

    def update_packed(self, ids, documents, doc_sizes, mode=0, timeout_ms=0.0):
        """As :meth:`update_multi` with the documents packed in
        ``documents``; returns ``ids`` (as upstream does)."""
        ids, doc_sizes = list(ids), list(doc_sizes)
        _same_length(ids, doc_sizes, '"ids" and "doc_sizes"')
        b = _Buffers()
        dp, sizes, count = _packed_input(b, documents, doc_sizes, "documents", "doc_sizes")
        if count:
            _check(self._call("yk_doc_update_packed_timed", mode, count, _ids(ids), dp, sizes,
                              timeout_ms=timeout_ms))
        return ids

    # -- load -----------------------------------------------------------------
    def load(self, id, buffer, mode=0, timeout_ms=0.0):
        """Reads document ``id`` into the writable ``buffer``; returns its
        size. Absent: YOKAN_ERR_KEY_NOT_FOUND; buffer too small:
        YOKAN_ERR_BUFFER_SIZE."""
        b = _Buffers()
        bp, bn = b.output(buffer, "buffer")
        size = ctypes.c_size_t(bn)
        _check(self._call("yk_doc_load_timed", mode, _unsigned(id, "id", 64), bp,
                          ctypes.byref(size), timeout_ms=timeout_ms))
        return size.value

    def load_multi(self, ids, buffers, mode=0, timeout_ms=0.0):
        """Reads document ``ids[i]`` into ``buffers[i]``; returns a list:
        the size, None (absent) or -1 (too small)."""
        ids, buffers = list(ids), list(buffers)
        _same_length(ids, buffers, '"ids" and "buffers"')
        if not ids:
            return []
        b = _Buffers()
        ptrs, sizes = b.outputs(buffers, "buffer")
        _check(self._call("yk_doc_load_multi_timed", mode, len(ids), _ids(ids), ptrs, sizes,
                          timeout_ms=timeout_ms))
        return [_size_or_minus_one(_size_or_none(s)) for s in sizes]

    def load_packed(self, ids, buffer, mode=0, timeout_ms=0.0):
        """Reads the documents back to back into the writable ``buffer``;
        returns a list: the size, None (absent) or -1 (did not fit; upstream
        leaves 2**64-2 there)."""
        ids = list(ids)
        b = _Buffers()
        bp, bn = b.output(buffer, "buffer")
        if not ids:
            return []
        sizes = (ctypes.c_size_t * len(ids))()
        _check(self._call("yk_doc_load_packed_timed", mode, len(ids), _ids(ids), bn, bp, sizes,
                          timeout_ms=timeout_ms))
        return [_size_or_minus_one(_size_or_none(s)) for s in sizes]

    # -- fetch ----------------------------------------------------------------
    def fetch(self, id, callback, mode=0, timeout_ms=0.0):
        """Calls ``callback(index, id, document)`` with document ``id`` (a
        read-only memoryview, or None if absent)."""
        cb = _DocumentCallback(callback)
        cb.finish(self._call("yk_doc_fetch_timed", mode, _unsigned(id, "id", 64),
                             cb.c_function, None, timeout_ms=timeout_ms))

    def fetch_multi(self, ids, callback, mode=0, batch_size=0, timeout_ms=0.0):
        """As :meth:`fetch` for each of ``ids``, in order (``index`` is the
        id's position); ``batch_size`` documents per round trip (0: all)."""
        ids = list(ids)
        options = _lib.YkDocFetchOptions(None, _unsigned(batch_size, "batch_size", 32))
        cb = _DocumentCallback(callback)
        if not ids:
            return
        cb.finish(self._call("yk_doc_fetch_multi_timed", mode, len(ids), _ids(ids),
                             cb.c_function, None, ctypes.byref(options),
                             timeout_ms=timeout_ms))

    # -- length ---------------------------------------------------------------
    def length(self, id, mode=0, timeout_ms=0.0):
        """The size of document ``id``, or None if it is absent."""
        size = ctypes.c_size_t()
        rc = self._call("yk_doc_length_timed", mode, _unsigned(id, "id", 64),
                        ctypes.byref(size), timeout_ms=timeout_ms)
        if rc == _exc.YOKAN_ERR_KEY_NOT_FOUND:
            # Upstream answers None for a missing document, and so for a
            # missing collection too: both come back with this code.
            return None
        _check(rc)
        return size.value

    def length_multi(self, ids, mode=0, timeout_ms=0.0):
        """A list: each document's size, or None (absent)."""
        ids = list(ids)
        if not ids:
            return []
        sizes = (ctypes.c_size_t * len(ids))()
        _check(self._call("yk_doc_length_multi_timed", mode, len(ids), _ids(ids), sizes,
                          timeout_ms=timeout_ms))
        return [_size_or_none(s) for s in sizes]

    # -- erase ----------------------------------------------------------------
    def erase(self, id, mode=0, timeout_ms=0.0):
        """Erases document ``id``."""
        _check(self._call("yk_doc_erase_timed", mode, _unsigned(id, "id", 64),
                          timeout_ms=timeout_ms))

    def erase_multi(self, ids, mode=0, timeout_ms=0.0):
        ids = list(ids)
        if not ids:
            return
        _check(self._call("yk_doc_erase_multi_timed", mode, len(ids), _ids(ids),
                          timeout_ms=timeout_ms))

    # -- list -----------------------------------------------------------------
    def list_docs(self, start_id, buffers, filter="", mode=0, timeout_ms=0.0):
        """Lists up to ``len(buffers)`` documents from ``start_id`` on
        (included, whatever the mode, as upstream) into the writable
        ``buffers``; returns ``(id, size)`` pairs (size -1: did not fit its
        buffer), fewer at the end of the collection."""
        start_id = _unsigned(start_id, "start_id", 64)
        buffers = list(buffers)
        b = _Buffers()
        fp, fn = b.input(filter, "filter")
        if not buffers:
            return []
        ptrs, sizes = b.outputs(buffers, "buffer")
        ids = (ctypes.c_uint64 * len(buffers))()
        _check(self._call("yk_doc_list_timed", mode, start_id, fp, fn, len(buffers), ids, ptrs,
                          sizes, timeout_ms=timeout_ms))
        return _listed_docs(ids, sizes, len(buffers))

    def list_docs_packed(self, start_id, buffer, count, filter="", mode=0, timeout_ms=0.0):
        """As :meth:`list_docs`, up to ``count`` documents packed back to
        back in the writable ``buffer``."""
        start_id = _unsigned(start_id, "start_id", 64)
        count = _unsigned(count, "count", 64)
        b = _Buffers()
        fp, fn = b.input(filter, "filter")
        bp, bn = b.output(buffer, "buffer")
        if count == 0:
            return []
        ids = (ctypes.c_uint64 * count)()
        sizes = (ctypes.c_size_t * count)()
        _check(self._call("yk_doc_list_packed_timed", mode, start_id, fp, fn, count, ids, bn,
                          bp, sizes, timeout_ms=timeout_ms))
        return _listed_docs(ids, sizes, count)

    # -- iter -----------------------------------------------------------------
    def iter(self, callback, from_id=0, filter=b"", count=0, mode=0, batch_size=0,
             timeout_ms=0.0):
        """Calls ``callback(index, id, document)`` for up to ``count`` (0:
        all) documents from ``from_id`` on (included), in id order;
        ``document`` is a read-only memoryview."""
        from_id = _unsigned(from_id, "from_id", 64)
        count = _unsigned(count, "count", 64)
        options = _lib.YkDocIterOptions(_unsigned(batch_size, "batch_size", 32), None)
        b = _Buffers()
        fp, fn = b.input(filter, "filter")
        cb = _DocumentCallback(callback)
        cb.finish(self._call("yk_doc_iter_timed", mode, from_id, fp, fn, count, cb.c_function,
                             None, ctypes.byref(options), timeout_ms=timeout_ms))
