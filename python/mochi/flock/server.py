"""Flock server side: :class:`Provider` (flock-server.h)."""

import ctypes
import json
import threading

from .. import _lib
from .. import margo
from .._closing import Closing
from .._lib import lib
from .common import FlockException, ReturnCode, c_update_callbacks, check
from .view import GroupView, _CView

__all__ = ["Provider"]


class Provider(Closing):
    """A Flock provider.

    ``Provider(engine, provider_id, config, initial_view)``: ``config`` is
    the provider's JSON config (str or dict), e.g.
    ``{"group": {"type": "static", "config": {}}, "file": "g.flock"}``;
    the content of ``initial_view`` is consumed (the view is left empty, as
    upstream's provider moves it). The engine must be in server mode.
    The provider lives until :meth:`destroy`, the object's collection, or
    its engine's finalization.
    """

    _close_method = "destroy"

    def __init__(self, engine, provider_id, config, initial_view):
        if not isinstance(engine, margo.Engine):
            raise TypeError(f"engine must be a mochi.margo.Engine, not {type(engine).__name__}")
        if not isinstance(initial_view, GroupView):
            raise TypeError("initial_view must be a mochi.flock.view.GroupView")
        if isinstance(config, dict):
            config = json.dumps(config)
        self._engine = engine
        self._provider_id = provider_id
        self._lock = threading.Lock()
        self._callbacks = {}       # token -> (membership fn, metadata fn)
        self._next_token = 1
        out = ctypes.c_void_p()
        with _CView(initial_view) as cview:
            args = _lib.FlockProviderArgs()
            args.initial_view = ctypes.pointer(cview)
            check(lib.flock_provider_register(engine._live_mid("flock_provider_register"),
                                              provider_id, _lib.c_text(config, "config"),
                                              ctypes.byref(args), ctypes.byref(out)),
                  "flock_provider_register")
        initial_view.clear()
        self._provider = out

    @property
    def engine(self):
        return self._engine

    @property
    def provider_id(self):
        return self._provider_id

    def _live(self, what):
        if not self._provider:
            raise FlockException(ReturnCode.ERR_INVALID_ARGS, what)
        return self._provider

    @property
    def config(self):
        """The provider's effective config (a JSON string, as the C++
        ``flock::Provider::config()``)."""
        text = _lib.take_string(lib.flock_provider_get_config(
            self._live("flock_provider_get_config")))
        if text is None:
            raise FlockException(ReturnCode.ERR_OTHER, "flock_provider_get_config")
        return text

    def add_update_callbacks(self, on_membership=None, on_metadata=None):
        """Calls ``on_membership(update, address, provider_id)`` and
        ``on_metadata(key, value)`` on every change the backend signals.
        Returns a token for :meth:`remove_update_callbacks`."""

        fns = c_update_callbacks(on_membership, on_metadata)
        with self._lock:
            token = self._next_token
            self._next_token += 1
            check(lib.flock_provider_add_update_callbacks(
                self._live("flock_provider_add_update_callbacks"), fns[0], fns[1],
                ctypes.c_void_p(token)),
                "flock_provider_add_update_callbacks")
            self._callbacks[token] = fns
        return token

    def remove_update_callbacks(self, token):
        with self._lock:
            check(lib.flock_provider_remove_update_callbacks(
                self._live("flock_provider_remove_update_callbacks"), ctypes.c_void_p(token)),
                "flock_provider_remove_update_callbacks")
            # kept (not dropped) in case a call is still running elsewhere
            self._callbacks[-token] = self._callbacks.pop(token)

    def destroy(self):
        """Destroys the provider (idempotent)."""
        provider = self._take_handle("_provider")
        if provider:
            check(lib.flock_provider_destroy(provider), "flock_provider_destroy")
        self._callbacks = {}

