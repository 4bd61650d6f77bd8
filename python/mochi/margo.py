"""A small Margo engine wrapper (the part of py-mochi-margo that the Flock,
Bedrock and Yokan bindings need), over libmochi's ``margo_*`` functions.

    with Engine("na+sm", mode=SERVER) as engine:
        print(engine.address)
        addr = engine.lookup(engine.address)

The same objects are importable under py-mochi-margo's names from the
:mod:`pymargo` package (``pymargo.core.Engine``, ``pymargo.server``, ...).
"""

import ctypes
import enum
import json
import sys
import threading
import traceback

from . import _lib
from ._closing import Closing
from ._lib import lib

__all__ = ["Engine", "Address", "MargoException", "client", "server",
           "CLIENT", "SERVER", "CLIENT_MODE", "SERVER_MODE",
           "DEFAULT_PROVIDER_ID", "LogLevel", "EngineLogger",
           "set_global_logger", "set_global_log_level", "log_message"]

CLIENT_MODE = CLIENT = client = 0
SERVER_MODE = SERVER = server = 1
DEFAULT_PROVIDER_ID = 0xFFFF

# hg_return_t names (margo.h, mercury >= 2.4 numbering)
_HG_NAMES = [
    "HG_SUCCESS", "HG_PERMISSION", "HG_NOENTRY", "HG_INTERRUPT", "HG_AGAIN",
    "HG_NOMEM", "HG_ACCESS", "HG_FAULT", "HG_BUSY", "HG_EXIST", "HG_NODEV",
    "HG_INVALID_ARG", "HG_PROTOCOL_ERROR", "HG_OVERFLOW", "HG_MSGSIZE",
    "HG_PROTONOSUPPORT", "HG_OPNOTSUPPORTED", "HG_ADDRINUSE",
    "HG_ADDRNOTAVAIL", "HG_HOSTUNREACH", "HG_TIMEOUT", "HG_CANCELED",
    "HG_IO_ERROR", "HG_CHECKSUM_ERROR", "HG_NA_ERROR", "HG_OTHER_ERROR",
]


class MargoException(RuntimeError):
    """A margo call failed; ``code`` is its hg_return_t (or None)."""

    def __init__(self, message, code=None):
        if code is not None:
            name = _HG_NAMES[code] if 0 <= code < len(_HG_NAMES) else str(code)
            message = f"{message} ({name})"
        super().__init__(message)
        self.code = code


def _check(rc, what):
    if rc != 0:
        raise MargoException(what, rc)


class Address:
    """An address (hg_addr_t) resolved by an :class:`Engine`; freed when
    the object is collected. ``str(address)`` is its text."""

    def __init__(self, engine, hg_addr):
        self._engine = engine
        self._hg_addr = ctypes.c_void_p(hg_addr)

    @property
    def engine(self):
        return self._engine

    @property
    def hg_addr(self):
        """The raw hg_addr_t (a ctypes.c_void_p); valid while this object lives."""
        return self._hg_addr

    def get_internal_hg_addr(self):
        """The raw hg_addr_t (py-mochi-margo's name for :attr:`hg_addr`)."""
        return self._hg_addr

    def __str__(self):
        mid = self._engine._live_mid("Address.__str__")
        size = ctypes.c_uint64(0)
        _check(lib.margo_addr_to_string(mid, None, ctypes.byref(size), self._hg_addr),
               "margo_addr_to_string failed")
        buf = ctypes.create_string_buffer(size.value)
        _check(lib.margo_addr_to_string(mid, buf, ctypes.byref(size), self._hg_addr),
               "margo_addr_to_string failed")
        return buf.value.decode("utf-8")

    def __repr__(self):
        try:
            return f"Address({str(self)!r})"
        except Exception:  # finalized engine
            return "Address(<unavailable>)"

    def __eq__(self, other):
        if isinstance(other, Address):
            return str(self) == str(other)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self):
        return hash(str(self))

    def copy(self):
        out = ctypes.c_void_p()
        _check(lib.margo_addr_dup(self._engine._live_mid("margo_addr_dup"),
                                  self._hg_addr, ctypes.byref(out)),
               "margo_addr_dup failed")
        return Address(self._engine, out.value)

    def shutdown(self):
        """Asks the remote engine to finalize (it must have called
        ``enable_remote_shutdown``)."""
        _check(lib.margo_shutdown_remote_instance(
            self._engine._live_mid("margo_shutdown_remote_instance"), self._hg_addr),
            "margo_shutdown_remote_instance failed")

    def __del__(self):
        addr, self._hg_addr = getattr(self, "_hg_addr", None), None
        if addr and addr.value and lib is not None:
            try:
                # Freeing is allowed after the engine was finalized.
                lib.margo_addr_free(self._engine._mid, addr)
            except Exception:
                pass


class Engine(Closing):
    """A margo instance.

    ``Engine(address_or_protocol, mode=SERVER, use_progress_thread=False,
    num_rpc_threads=0, options=None, config=None)``; ``options`` (or
    ``config``, py-mochi-margo's name for it) is a Margo JSON config (str or
    dict), used with ``margo_init_ext``.
    The engine is finalized by :meth:`finalize`, at the end of a ``with``
    block, when the object is collected, or at interpreter exit.

    :meth:`from_margo_instance_id` wraps an instance that something else
    owns (e.g. a Bedrock server's, ``server.margo.engine``): that wrapper is
    not finalized by ``with``, collection or interpreter exit, only by an
    explicit :meth:`finalize` (which stops the owner's engine, as a remote
    shutdown would).
    """

    _close_method = "finalize"

    def __init__(self, addr="na+sm", mode=SERVER, use_progress_thread=False,
                 num_rpc_threads=0, options=None, config=None):
        if mode not in (CLIENT, SERVER):
            raise ValueError(f"invalid mode {mode!r} (use mochi.margo.SERVER or CLIENT)")
        if config is not None and config != "":
            if options is not None:
                raise TypeError("give the Margo config as options or as config, not both")
            options = config
        text = _lib.c_text(addr, "address")
        self._lock = threading.Lock()
        self._finalized = False
        self._owns_mid = True
        self._owner = None
        self._mid = None
        if options is not None:
            if isinstance(options, dict):
                options = json.dumps(options)
            info = _lib.MargoInitInfo()
            info.json_config = _lib.c_text(options, "options")
            mid = lib.margo_init_ext(text, mode, ctypes.byref(info))
        else:
            mid = lib.margo_init(text, mode, 1 if use_progress_thread else 0,
                                 int(num_rpc_threads))
        if not mid:
            raise MargoException(f"margo_init failed for {addr!r} (see the log above)")
        self._mid = ctypes.c_void_p(mid)
        self._mode = mode
        self._close_at_exit()

    @classmethod
    def from_margo_instance_id(cls, mid, owner=None):
        """An Engine over an existing margo_instance_id (a ctypes.c_void_p
        or an int) that this object does not own; ``owner`` (e.g. the
        Bedrock server the instance belongs to) is kept alive with it."""
        if isinstance(mid, ctypes.c_void_p):
            mid = mid.value
        if isinstance(mid, bool) or not isinstance(mid, int) or not mid:
            raise TypeError("mid must be a non-NULL margo_instance_id (ctypes.c_void_p or int)")
        engine = cls.__new__(cls)
        engine._lock = threading.Lock()
        engine._finalized = False
        engine._owns_mid = False
        engine._owner = owner
        engine._mid = ctypes.c_void_p(mid)
        engine._mode = SERVER if lib.margo_is_listening(engine._mid) else CLIENT
        return engine

    # -- identity ---------------------------------------------------------
    @property
    def mid(self):
        """The margo_instance_id (a ctypes.c_void_p)."""
        return self._mid

    def get_internal_mid(self):
        return self._mid

    @property
    def mode(self):
        return self._mode

    @property
    def owns_mid(self):
        """False for an Engine made by :meth:`from_margo_instance_id`."""
        return self._owns_mid

    @property
    def finalized(self):
        return self._finalized

    def _live_mid(self, what):
        if self._finalized:
            raise MargoException(f"{what}: the engine is finalized")
        return self._mid

    @property
    def listening(self):
        return bool(lib.margo_is_listening(self._live_mid("margo_is_listening")))

    def addr_self(self):
        out = ctypes.c_void_p()
        _check(lib.margo_addr_self(self._live_mid("margo_addr_self"), ctypes.byref(out)),
               "margo_addr_self failed")
        return Address(self, out.value)

    def addr(self):
        """This engine's own :class:`Address` (py-mochi-margo's name for
        :meth:`addr_self`)."""
        return self.addr_self()

    @property
    def address(self):
        """This engine's own address, as a string (py-mochi-margo gives an
        Address; ``str()`` of either is the address text, and an Address
        compares equal to its text)."""
        return str(self.addr_self())

    def lookup(self, address):
        """Resolves an address string into an :class:`Address`."""
        if isinstance(address, Address):
            return address.copy()
        out = ctypes.c_void_p()
        _check(lib.margo_addr_lookup(self._live_mid("margo_addr_lookup"),
                                     _lib.c_text(address, "address"), ctypes.byref(out)),
               f"margo_addr_lookup({address!r}) failed")
        return Address(self, out.value)

    @property
    def config(self):
        """The effective Margo config (dict)."""
        text = _lib.take_string(lib.margo_get_config(self._live_mid("margo_get_config")))
        if text is None:
            raise MargoException("margo_get_config failed")
        return json.loads(text)

    # -- lifecycle ----------------------------------------------------------
    def enable_remote_shutdown(self):
        lib.margo_enable_remote_shutdown(self._live_mid("margo_enable_remote_shutdown"))

    def sleep(self, seconds):
        lib.margo_thread_sleep(self._live_mid("margo_thread_sleep"), float(seconds) * 1000.0)

    def wait_for_finalize(self):
        """Blocks (without holding the GIL) until the engine is finalized,
        locally or by a remote shutdown."""
        if self._mid is not None:
            lib.margo_wait_for_finalize(self._mid)
        self._finalized = True

    def finalize(self):
        """Finalizes the instance (idempotent). On an Engine that does not
        own its instance this stops the owner's engine too."""
        with self._lock:
            if self._finalized or self._mid is None:
                return
            self._finalized = True
        lib.margo_finalize(self._mid)

    def _close_now(self):
        # `with`, garbage collection: only an owned instance is finalized.
        if getattr(self, "_owns_mid", True):
            self.finalize()


    @property
    def logger(self):
        """This engine's logging (:class:`EngineLogger`)."""
        return EngineLogger(self)

    def __repr__(self):
        state = "finalized" if self._finalized else self.address
        return f"Engine({state})"


# ---------------------------------------------------------------------------
# Logging (margo.h's margo_logger; pymargo.logging names these)
# ---------------------------------------------------------------------------

class LogLevel(enum.IntEnum):
    """margo's log levels (MARGO_LOG_*)."""
    external = 0
    trace = 1
    debug = 2
    info = 3
    warning = 4
    error = 5
    critical = 6


_LEVEL_METHODS = ("trace", "debug", "info", "warning", "error", "critical")

# The installed logger's C structure and callbacks: libmochi keeps the
# pointers, so they must live as long as the installation.
_installed = {"logger": None, "struct": None}
_install_lock = threading.Lock()


def _callback(method):
    def call(_uargs, message):
        logger = _installed["logger"]
        if logger is None:
            return
        try:
            getattr(logger, method)(message.decode("utf-8", "replace") if message else "")
        except Exception:  # must not unwind into C
            traceback.print_exc(file=sys.stderr)
    return _lib.LOG_FN(call)


_CALLBACKS = [_callback(m) for m in _LEVEL_METHODS]


def _install(logger, setter):
    with _install_lock:
        if logger is None:
            rc = setter(None)
            _installed.update(logger=None, struct=None)
        else:
            missing = [m for m in _LEVEL_METHODS if not callable(getattr(logger, m, None))]
            if missing:
                raise TypeError(f"a logger needs the methods {', '.join(missing)}")
            struct = _lib.MargoLogger(None, *_CALLBACKS)
            _installed.update(logger=logger)
            rc = setter(ctypes.byref(struct))
            _installed["struct"] = struct
        if rc != 0:
            raise MargoException("could not install the logger", rc)


def set_global_logger(logger):
    """Installs ``logger`` (methods ``trace`` ... ``critical``, each taking the
    message) for every engine; ``None`` goes back to stderr."""
    _install(logger, lib.margo_set_global_logger)


def set_global_log_level(level):
    """Messages below ``level`` (:class:`LogLevel`) are dropped, for every engine."""
    rc = lib.margo_set_global_log_level(int(level))
    if rc != 0:
        raise MargoException(f"invalid log level {level!r}", rc)


def log_message(engine, level, message):
    """Logs ``message`` at ``level`` through ``engine`` (None: any engine)."""
    mid = engine.mid if engine is not None else None
    lib.margo_log_message(mid, int(level), _lib.c_text(str(message), "message"))


class EngineLogger:
    """``engine.logger``: set the logger and level, log through the engine.
    Loggers are process-wide here (``set_logger`` installs one for every
    engine, as :func:`set_global_logger` does)."""

    def __init__(self, engine):
        self._engine = engine

    def set_logger(self, logger):
        mid = self._engine._live_mid("set a logger")
        _install(logger, lambda ptr: lib.margo_set_logger(mid, ptr))

    def set_log_level(self, level):
        rc = lib.margo_set_log_level(self._engine._live_mid("set a log level"), int(level))
        if rc != 0:
            raise MargoException(f"invalid log level {level!r}", rc)

    def trace(self, msg):
        log_message(self._engine, LogLevel.trace, msg)

    def debug(self, msg):
        log_message(self._engine, LogLevel.debug, msg)

    def info(self, msg):
        log_message(self._engine, LogLevel.info, msg)

    def warning(self, msg):
        log_message(self._engine, LogLevel.warning, msg)

    def error(self, msg):
        log_message(self._engine, LogLevel.error, msg)

    def critical(self, msg):
        log_message(self._engine, LogLevel.critical, msg)
