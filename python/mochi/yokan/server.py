"""Yokan server: :class:`Provider` (``yokan/server.h``), upstream's
``mochi.yokan.server.Provider``.

    engine = mochi.margo.Engine("na+sm")
    provider = Provider(engine, 42, '{"database": {"type": "map"}}')
    ...
    provider.destroy()        # or: with Provider(...) as provider: ...

``Provider(engine, provider_id, config)`` with ``engine`` a
:class:`mochi.margo.Engine` (or anything with a ``mid``, such as
``server.margo.engine``, or a margo_instance_id) and ``config`` a JSON
string or dict, as under Bedrock. The provider serves until
:meth:`destroy`, the end of a ``with`` block, its collection, or its
engine's finalization. Errors raise :class:`mochi.yokan.exception.Exception`
(``YOKAN_ERR_INVALID_PROVIDER`` for a provider id that is taken,
``YOKAN_ERR_INVALID_CONFIG``, ``YOKAN_ERR_INVALID_BACKEND``).
"""

import ctypes
import json
import threading

from .. import _lib
from .._lib import lib
from . import exception as _exc
from .client import _engine_of

__all__ = ["Provider"]


class Provider:
    """A Yokan provider this program registers (see the module docstring)."""

    def __init__(self, engine, provider_id, config="{}"):
        if isinstance(config, dict):
            config = json.dumps(config)
        if not isinstance(config, (str, bytes)):
            raise TypeError(f"config must be a JSON str or a dict, not {type(config).__name__}")
        if isinstance(provider_id, bool) or not isinstance(provider_id, int) or not 0 <= provider_id < 0xFFFF:
            raise ValueError(f"invalid provider id {provider_id!r}")
        self._engine = _engine_of(engine)
        if isinstance(self._engine, str):
            raise TypeError("a provider needs a server engine, not a protocol string")
        mid = self._engine._live_mid("yk_provider_register")
        out = ctypes.c_void_p()
        rc = lib.yk_provider_register(mid, provider_id, _lib.c_text(config, "config"), None, ctypes.byref(out))
        if rc != 0:
            raise _exc.from_code(rc)
        self._handle = out
        self._provider_id = provider_id
        self._lock = threading.Lock()

    @property
    def provider_id(self):
        return self._provider_id

    @property
    def config(self):
        """The effective config, as a dict."""
        with self._lock:
            if self._handle is None:
                raise _exc.from_code(_exc.YOKAN_ERR_INVALID_PROVIDER)
            text = _lib.take_string(lib.yk_provider_get_config(self._handle))
        return json.loads(text) if text else {}

    def destroy(self):
        """Stops serving (the provider id is free again); later calls do nothing."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            lib.yk_provider_destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def __del__(self):
        try:
            self.destroy()
        except Exception:
            pass
