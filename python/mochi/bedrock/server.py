"""An in-process Bedrock server (bedrock/server.h).

    server = Server("na+sm", config={"providers": [...]})
    print(server.config["margo"]["mercury"]["address"])
    server.finalize()

What bedrock/server.h offers is: start from a JSON or TOML config, read the
effective config, wait for a (remote) shutdown, finalize. Upstream's
``Server.margo`` (MargoManager), ``Server.providers`` (ProviderManager),
``Server.spec``/``from_spec`` and Jx9 configs need functions libmochi does
not export; they raise with the name of what is missing.
"""

import atexit
import ctypes
import enum
import json
import threading
import weakref

from .. import _lib
from .._lib import lib
from .common import BedrockException

__all__ = ["Server", "ConfigType", "BedrockException"]

_BEDROCK_CONFIG_JSON = 0
_BEDROCK_CONFIG_TOML = 1


class ConfigType(enum.Enum):
    JSON = "json"
    TOML = "toml"
    JX9 = "jx9"


_live_servers = weakref.WeakSet()


def _config_text(config):
    if isinstance(config, (dict, list)):
        return json.dumps(config)
    if isinstance(config, (str, bytes)):
        return config
    if hasattr(config, "to_json"):        # a spec object (duck-typed)
        return config.to_json()
    if hasattr(config, "to_dict"):
        return json.dumps(config.to_dict())
    raise TypeError(f"config must be a str or a dict, not {type(config).__name__}")


class Server:
    """``Server(address, config="{}", config_type=ConfigType.JSON,
    jx9_params=None)``: starts a Bedrock server in this process on
    ``address`` (a protocol such as "na+sm" or a full address). ``config``
    is a JSON (or, with ConfigType.TOML, TOML) text, or a dict. Failures
    raise :class:`BedrockException` with the library's message."""

    def __init__(self, address, config="{}", config_type=ConfigType.JSON, jx9_params=None):
        if config_type == ConfigType.JX9 or jx9_params:
            raise BedrockException(
                "Jx9 configurations are not supported: bedrock_server_init accepts "
                "only BEDROCK_CONFIG_JSON and BEDROCK_CONFIG_TOML")
        if config_type == ConfigType.JSON:
            fmt = _BEDROCK_CONFIG_JSON
        elif config_type == ConfigType.TOML:
            fmt = _BEDROCK_CONFIG_TOML
        else:
            raise ValueError(f"invalid config_type {config_type!r}")
        text = _config_text(config)
        self._cond = threading.Condition()
        self._waiters = 0
        self._server = ctypes.c_void_p()
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = lib.bedrock_server_init(_lib.c_text(address, "address"),
                                     _lib.c_text(text, "config"), fmt,
                                     ctypes.byref(out), ctypes.byref(err))
        message = _lib.take_string(err.value)
        if rc != 0:
            raise BedrockException(message or f"bedrock_server_init returned {rc}", rc)
        self._server = out
        _live_servers.add(self)

    @property
    def config(self):
        """The effective configuration (dict)."""
        with self._cond:
            if not self._server:
                raise BedrockException("the server is finalized")
            text = _lib.take_string(lib.bedrock_server_get_config(self._server))
        if text is None:
            raise BedrockException("bedrock_server_get_config failed")
        return json.loads(text)

    @property
    def address(self):
        """The address of the server's (first) engine."""
        margo_cfg = self.config["margo"]
        if isinstance(margo_cfg, list):
            margo_cfg = margo_cfg[0]
        return margo_cfg["mercury"]["address"]

    @property
    def addresses(self):
        """The addresses of every engine of the server."""
        margo_cfg = self.config["margo"]
        if not isinstance(margo_cfg, list):
            margo_cfg = [margo_cfg]
        return [m["mercury"]["address"] for m in margo_cfg]

    @property
    def finalized(self):
        return not self._server

    def wait_for_finalize(self):
        """Blocks (without the GIL) until the server is shut down, remotely
        (e.g. ``ServiceHandle.shutdown()``) or by :meth:`finalize` from
        another thread; then releases it."""
        with self._cond:
            if not self._server:
                return
            self._waiters += 1
            server = self._server
        try:
            lib.bedrock_server_wait_for_finalize(server)
        finally:
            with self._cond:
                self._waiters -= 1
                self._cond.notify_all()
        self._release()

    def finalize(self):
        """Stops the server and frees it (idempotent)."""
        with self._cond:
            if not self._server:
                return
            waiting = self._waiters > 0
        if waiting:
            # Another thread blocks in bedrock_server_wait_for_finalize on
            # this handle; freeing it under that thread is not allowed, so
            # stop the server the way a remote client would, then let the
            # waiter return before freeing.
            self._remote_shutdown()
            with self._cond:
                self._cond.wait_for(lambda: self._waiters == 0, timeout=30)
        self._release()

    def _remote_shutdown(self):
        from .. import margo
        address = self.address
        protocol = address.split("://", 1)[0]
        engine = margo.Engine(protocol, margo.CLIENT)
        try:
            engine.lookup(address).shutdown()
        finally:
            engine.finalize()

    def _release(self):
        with self._cond:
            if self._waiters > 0:
                return
            server, self._server = self._server, ctypes.c_void_p()
        if server:
            lib.bedrock_server_finalize(server)

    # -- upstream features bedrock/server.h cannot provide ------------------
    @property
    def margo(self):
        raise NotImplementedError(
            "Server.margo (MargoManager) is not available: bedrock/server.h exports no "
            "accessor for the server's margo instance, pools or xstreams "
            "(no bedrock_server_get_margo_instance / pool functions). "
            "Use a ServiceHandle (add_pool, remove_pool, add_xstream, ...) instead.")

    @property
    def providers(self):
        raise NotImplementedError(
            "Server.providers (ProviderManager) is not available: bedrock/server.h "
            "exports no provider manager functions. Use ServiceHandle.add_provider "
            "and Server.config['providers'] instead.")

    @property
    def spec(self):
        raise NotImplementedError(
            "Server.spec is not available: mochi.bedrock.spec (ProcSpec, ...) is not "
            "part of these bindings; use Server.config (dict).")

    @staticmethod
    def from_spec(spec):
        raise NotImplementedError(
            "Server.from_spec is not available: mochi.bedrock.spec is not part of "
            "these bindings; pass the config as a dict (Server(address, config)).")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finalize()
        return False

    def __del__(self):
        try:
            self.finalize()
        except Exception:
            pass


@atexit.register
def _finalize_remaining_servers():
    for server in list(_live_servers):
        try:
            server.finalize()
        except Exception:
            pass
