"""An in-process Bedrock server (bedrock/server.h).

    server = Server("na+sm", config={"providers": [...]})
    print(server.config["margo"]["mercury"]["address"])
    server.finalize()

The config may also be a :class:`~mochi.bedrock.spec.ProcSpec`
(``Server.from_spec(spec)`` takes the address from it); ``server.spec``
reads the effective config back as one. ``server.margo`` and
``server.providers`` (see :mod:`mochi.bedrock.managers`) list and change
pools, xstreams and providers. Jx9 configs are not supported.
"""

import ctypes
import enum
import json
import threading

from .. import _lib
from .._closing import Closing
from .._lib import lib
from .common import BedrockException
from .managers import (MargoManager, NamedDependency, Pool, PoolList, Provider,  # noqa: F401
                       ProviderDependency, ProviderManager, Xstream, XstreamList)
from .spec import ProcSpec

__all__ = ["Server", "ConfigType", "BedrockException", "MargoManager", "ProviderManager",
           "PoolList", "XstreamList", "NamedDependency", "Pool", "Xstream",
           "ProviderDependency", "Provider"]

_BEDROCK_CONFIG_JSON = 0
_BEDROCK_CONFIG_TOML = 1


class ConfigType(enum.Enum):
    JSON = "json"
    TOML = "toml"
    JX9 = "jx9"


def _config_text(config):
    if isinstance(config, (dict, list)):
        return json.dumps(config)
    if isinstance(config, (str, bytes)):
        return config
    if isinstance(config, ProcSpec):
        return config.to_json()
    raise TypeError(f"config must be a str, a dict or a ProcSpec, not {type(config).__name__}")


def _last_error():
    message = lib.bedrock_last_error()
    return message.decode("utf-8", "replace") if message else ""


class Server(Closing):
    """``Server(address, config="{}", config_type=ConfigType.JSON,
    jx9_params=None)``: starts a Bedrock server in this process on
    ``address`` (a protocol such as "na+sm" or a full address). ``config``
    is a JSON (or, with ConfigType.TOML, TOML) text, a dict, or a ProcSpec.
    Failures raise :class:`BedrockException` with the library's message."""

    _close_method = "finalize"
    _exit_rank = 0      # before the engines of the program

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
        self._close_at_exit()

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

    # -- spec and managers ---------------------------------------------------
    @staticmethod
    def from_spec(spec):
        """A Server from a ProcSpec, on its first engine's mercury address."""
        if not isinstance(spec, ProcSpec):
            raise TypeError(f"spec must be a ProcSpec, not {type(spec).__name__}")
        first = spec.margo[0] if isinstance(spec.margo, list) else spec.margo
        return Server(first.mercury.address, spec.to_json(), ConfigType.JSON)

    @property
    def spec(self):
        """The effective configuration as a ProcSpec."""
        return ProcSpec.from_dict(self.config)

    @property
    def margo(self):
        """The :class:`MargoManager` (engines, pools, xstreams)."""
        return MargoManager(self)

    @property
    def providers(self):
        """The :class:`ProviderManager`."""
        return ProviderManager(self)

    def load_module(self, path):
        """Loads a module library (by path or file name), as an entry of
        the config's ``libraries`` would."""
        self._call("bedrock_server_load_module", _lib.c_text(path, "path"))

    def _call(self, name, *args):
        """Calls bedrock_server_<...>(server, *args); BedrockException with
        the library's message on failure, NotImplementedError if libmochi
        lacks the function."""
        fn = _lib.require(name)
        with self._cond:            # the handle stays valid during the call
            if not self._server:
                raise BedrockException("the server is finalized")
            rc = fn(self._server, *args)
            if rc != 0:
                raise BedrockException(_last_error() or f"{name} returned {rc}", rc)

    def _margo_instance(self, index):
        fn = _lib.require("bedrock_server_get_margo_instance")
        with self._cond:
            if not self._server:
                raise BedrockException("the server is finalized")
            return fn(self._server, index)
