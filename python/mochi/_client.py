"""What the Flock and Bedrock clients share: the engine they run on (given,
or created from a protocol string and then owned) and the lifetime of
their C client handle."""

import ctypes

from . import margo
from ._closing import Closing


class EngineClient(Closing):
    """Base of ``mochi.flock.client.Client`` and ``mochi.bedrock.client.Client``.

    ``arg`` is a :class:`mochi.margo.Engine` (not owned) or a protocol string
    (a client-mode engine is created and owned). ``init(mid, out)`` makes
    the C client into the ``c_void_p`` ``out`` and raises on failure;
    ``finalize(handle)`` releases it.
    """

    def __init__(self, arg, init, finalize):
        if isinstance(arg, margo.Engine):
            self._engine = arg
            self._owns_engine = False
        elif isinstance(arg, str):
            self._engine = margo.Engine(arg, margo.CLIENT)
            self._owns_engine = True
        else:
            raise TypeError(f"Invalid argument type {type(arg)}")
        self._finalize = finalize
        out = ctypes.c_void_p()
        try:
            init(self._engine, out)
        except BaseException:
            if self._owns_engine:
                self._engine.finalize()
            raise
        self._client = out

    @property
    def mid(self):
        return self._engine.mid

    @property
    def engine(self):
        return self._engine

    def close(self):
        """Finalizes the client (and its engine if it owns it)."""
        client, self._client = getattr(self, "_client", None), ctypes.c_void_p()
        if client:
            self._finalize(client)
        if getattr(self, "_owns_engine", False):
            self._owns_engine = False
            self._engine.finalize()

    def finalize(self):
        """Same as :meth:`close` (the name the Flock-integration tutorial's
        Python example uses)."""
        self.close()
