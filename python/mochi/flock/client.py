"""Flock client side: :class:`Client` and :class:`GroupHandle`
(flock-client.h, flock-group.h)."""

import ctypes
import threading

from .. import _lib
from .. import margo
from .._client import EngineClient
from .._closing import Closing
from .._lib import lib
from .common import FlockException, ReturnCode, c_update_callbacks, check
from .view import GroupView, _clear_c, _from_c

__all__ = ["Client", "GroupHandle"]


class GroupHandle(Closing):
    """A handle on a group, caching its view. Made by a :class:`Client`."""

    _close_method = "release"

    def __init__(self, handle, client):
        self._handle = ctypes.c_void_p(handle)
        self._client = client
        self._lock = threading.Lock()
        self._callbacks = None          # (membership fn, metadata fn) of the subscription
        self._retired = []              # callbacks of ended subscriptions (kept alive)

    @property
    def client(self):
        return self._client

    def _live(self, what):
        if not self._handle:
            raise FlockException(ReturnCode.ERR_INVALID_ARGS, what)
        return self._handle

    def update(self):
        """Refreshes the cached view from the group (synchronous)."""
        check(lib.flock_group_update_view(self._live("flock_group_update_view"), None),
              "flock_group_update_view")

    @property
    def view(self):
        """A copy of the cached view (a new :class:`GroupView`)."""
        cview = _lib.FlockGroupView()
        try:
            check(lib.flock_group_get_view(self._live("flock_group_get_view"),
                                           ctypes.byref(cview)),
                  "flock_group_get_view")
            return _from_c(cview)
        finally:
            _clear_c(cview)

    @property
    def digest(self):
        """The digest of the cached view, as libmochi computed it."""
        return self.view._c_digest

    def metadata_set(self, key, value):
        """Sets a metadata entry for the whole group (every member and
        subscriber sees it); the cached view is refreshed."""
        check(lib.flock_group_metadata_set(self._live("flock_group_metadata_set"),
                                           _lib.c_text(key, "key"), _lib.c_text(value, "value")),
              "flock_group_metadata_set")

    def subscribe(self, on_membership=None, on_metadata=None):
        """Follows the group: ``on_membership(update: UpdateType, address: str,
        provider_id: int)`` and ``on_metadata(key: str, value: str)`` are
        called (from a libmochi thread) for every change; the cached view
        follows. A second subscription replaces the first. An exception
        raised by a callback is reported by ctypes and otherwise ignored."""
        fns = c_update_callbacks(on_membership, on_metadata)
        with self._lock:
            handle = self._live("flock_group_subscribe")
            check(lib.flock_group_subscribe(handle, fns[0], fns[1], None),
                  "flock_group_subscribe")
            if self._callbacks is not None:
                self._retired.append(self._callbacks)
            self._callbacks = fns

    def unsubscribe(self):
        """Ends the subscription (no-op if there is none)."""
        with self._lock:
            check(lib.flock_group_unsubscribe(self._live("flock_group_unsubscribe")),
                  "flock_group_unsubscribe")
            if self._callbacks is not None:
                # A notification may still be running on a libmochi thread:
                # keep the C trampolines alive as long as the handle.
                self._retired.append(self._callbacks)
                self._callbacks = None

    def release(self):
        """Releases the handle (also done when the object is collected)."""
        handle = self._take_handle()
        if handle:
            lib.flock_group_handle_release(handle)
        # The subscription ended with the handle: the trampolines can go.
        self._callbacks = None
        self._retired = []



class Client(EngineClient):
    """A Flock client on an engine: ``Client(engine)`` (a
    :class:`mochi.margo.Engine`, not owned) or ``Client("na+sm")`` (a
    protocol: a client-mode engine is created and owned)."""

    def __init__(self, arg):
        def init(engine, out):
            check(lib.flock_client_init(engine._live_mid("flock_client_init"), None,
                                        ctypes.byref(out)),
                  "flock_client_init")
        super().__init__(arg, init, lib.flock_client_finalize)

    def _live(self, what):
        if not self._client:
            raise FlockException(ReturnCode.ERR_INVALID_ARGS, what)
        return self._client

    def make_group_handle(self, address, provider_id=0, mode=0):
        """A handle on the group of the provider (address, provider_id);
        ``address`` is a str or a :class:`mochi.margo.Address`."""
        if isinstance(address, margo.Address):
            addr = address
        else:
            addr = self._engine.lookup(address)
        out = ctypes.c_void_p()
        check(lib.flock_group_handle_create(self._live("flock_group_handle_create"),
                                            addr.hg_addr, provider_id, mode, ctypes.byref(out)),
              "flock_group_handle_create")
        return GroupHandle(out.value, self)

    def make_group_handle_from_file(self, filename, mode=0):
        """A handle from a group file; its first member is contacted."""
        out = ctypes.c_void_p()
        check(lib.flock_group_handle_create_from_file(
            self._live("flock_group_handle_create_from_file"),
            _lib.c_text(str(filename), "filename"), mode, ctypes.byref(out)),
            "flock_group_handle_create_from_file")
        return GroupHandle(out.value, self)

    def make_group_handle_from_serialized(self, serialized, mode=0):
        """A handle from a serialized view (str, bytes or GroupView)."""
        if isinstance(serialized, GroupView):
            serialized = str(serialized)
        data = serialized.encode("utf-8") if isinstance(serialized, str) else bytes(serialized)
        out = ctypes.c_void_p()
        check(lib.flock_group_handle_create_from_serialized(
            self._live("flock_group_handle_create_from_serialized"),
            data, len(data), mode, ctypes.byref(out)),
            "flock_group_handle_create_from_serialized")
        return GroupHandle(out.value, self)

    def close(self):
        """Finalizes the client (and its engine if it owns it). Group
        handles made from it keep working until their engine goes."""
        super().close()
