"""Server-side views of a running :class:`~mochi.bedrock.server.Server`:
``server.margo`` (:class:`MargoManager`: engines, pools, xstreams) and
``server.providers`` (:class:`ProviderManager`).

Listings and look-ups read the server's effective config
(bedrock_server_get_config), so they always reflect the server's state.
Changes go through the bedrock_server_* management functions; with a
libmochi that lacks one, the operation raises NotImplementedError naming
it (reading still works).
"""

import ctypes
import json
import re

from .. import _lib
from .common import BedrockException, NotFound, config_text
from .spec import PoolSpec, ProcSpec, ProviderSpec, XstreamSpec

__all__ = ["NamedDependency", "Pool", "Xstream", "ProviderDependency", "Provider",
           "PoolList", "XstreamList", "MargoManager", "ProviderManager"]


def _engines(config):
    """The list of per-engine margo configs of a server config."""
    margo = config["margo"]
    return margo if isinstance(margo, list) else [margo]


def _check_key(key):
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TypeError(f"key must be a name (str) or an index (int), not {type(key).__name__}")


class NamedDependency:
    """Something a provider can depend on: ``name`` and ``type`` ("pool",
    "xstream", or a provider's module type)."""

    def __init__(self, name, type):
        self._name = name
        self._type = type

    @property
    def name(self):
        return self._name

    @property
    def type(self):
        return self._type

    def __eq__(self, other):
        if not isinstance(other, NamedDependency):
            return NotImplemented
        return (self.name, self.type) == (other.name, other.type)

    def __hash__(self):
        return hash((self._name, self._type))

    def __repr__(self):
        return f"{type(self).__name__}(name={self._name!r}, type={self._type!r})"


Pool = NamedDependency
Xstream = NamedDependency


class ProviderDependency(NamedDependency):
    """A provider of the server: ``name``, ``type`` (its module type) and
    ``provider_id``."""

    def __init__(self, name, type, provider_id):
        super().__init__(name, type)
        self._provider_id = provider_id

    @property
    def provider_id(self):
        return self._provider_id

    def change_pool(self, pool):
        raise NotImplementedError(
            "Provider.change_pool is not available: bedrock/server.h has no function "
            "for it; use ServiceHandle.change_provider_pool")

    def __eq__(self, other):
        if not isinstance(other, ProviderDependency):
            return NotImplemented
        return (self.name, self.type, self.provider_id) == \
            (other.name, other.type, other.provider_id)

    __hash__ = NamedDependency.__hash__

    def __repr__(self):
        return (f"Provider(name={self.name!r}, type={self.type!r}, "
                f"provider_id={self._provider_id})")


Provider = ProviderDependency


class _ArgobotsList:
    """Pools or xstreams of the server (engine 0's Argobots environment,
    shared by all engines)."""

    _kind = _section = _add = _remove = _spec_type = None

    def __init__(self, server):
        self._server = server

    def _names(self):
        argobots = _engines(self._server.config)[0]["argobots"]
        return [entry["name"] for entry in argobots[self._section]]

    def _resolve(self, key, names=None):
        _check_key(key)
        names = self._names() if names is None else names
        if isinstance(key, int):
            if not 0 <= key < len(names):
                raise NotFound(f"Could not find {self._kind} at index {key} "
                                       f"(the server has {len(names)})")
            return names[key]
        if key not in names:
            raise NotFound(f'Could not find {self._kind} with name "{key}"')
        return key

    def __len__(self):
        return len(self._names())

    def __iter__(self):
        return iter([NamedDependency(n, self._kind) for n in self._names()])

    def __getitem__(self, key):
        """By name or index; NotFound (a BedrockException) if there is none."""
        return NamedDependency(self._resolve(key), self._kind)

    def __contains__(self, key):
        if isinstance(key, (PoolSpec, XstreamSpec, NamedDependency)):
            key = key.name
        _check_key(key)
        try:
            self._resolve(key)
            return True
        except BedrockException:
            return False

    def __delitem__(self, key):
        """Removes it from the server (refused while in use)."""
        self._server._call(self._remove, _lib.c_text(self._resolve(key), "name"))

    def create(self, config):
        """Adds one from its description (str, dict or spec); returns it."""
        text = config_text(config, self._spec_type, f"{self._kind} config")
        try:
            name = json.loads(text).get("name")
        except (ValueError, AttributeError):
            name = None                    # the server reports what is wrong
        before = None if name else self._names()
        self._server._call(self._add, _lib.c_text(text, f"{self._kind} config"))
        if not name:
            # No name given: the server made one up; it is the new entry.
            added = [n for n in self._names() if n not in before]
            name = added[-1] if added else self._names()[-1]
        return NamedDependency(name, self._kind)

    def __repr__(self):
        return f"{type(self).__name__}({self._names()!r})"


class PoolList(_ArgobotsList):
    _kind, _section = "pool", "pools"
    _add, _remove = "bedrock_server_add_pool", "bedrock_server_remove_pool"
    _spec_type = PoolSpec


class XstreamList(_ArgobotsList):
    _kind, _section = "xstream", "xstreams"
    _add, _remove = "bedrock_server_add_xstream", "bedrock_server_remove_xstream"
    _spec_type = XstreamSpec


class MargoManager:
    """The server's margo instances (engines) and Argobots environment."""

    def __init__(self, server):
        self._server = server

    @property
    def config(self):
        """The ``margo`` section: a dict, or a list with several engines."""
        return self._server.config["margo"]

    @property
    def spec(self):
        """A MargoSpec, or a list of them with several engines (sharing
        the first one's ArgobotsSpec)."""
        return ProcSpec.from_dict(self._server.config).margo

    @property
    def num_engines(self):
        return len(_engines(self._server.config))

    @property
    def pools(self):
        return PoolList(self._server)

    @property
    def xstreams(self):
        return XstreamList(self._server)

    @property
    def default_handler_pool(self):
        """The pool of the first engine's RPC handlers (its ``rpc_pool``)."""
        return NamedDependency(_engines(self._server.config)[0]["rpc_pool"], "pool")

    def get_mid(self, index=0):
        """The margo_instance_id (ctypes.c_void_p) of engine ``index``,
        owned by the server."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, not {type(index).__name__}")
        count = self.num_engines
        if not 0 <= index < count:
            raise BedrockException(f"Engine index {index} out of range (have {count} engines)")
        mid = self._server._margo_instance(index)
        if not mid:
            raise BedrockException(f"bedrock_server_get_margo_instance({index}) returned NULL")
        return ctypes.c_void_p(mid)

    @property
    def mid(self):
        """The first engine's margo_instance_id."""
        return self.get_mid(0)

    def get_engine(self, index=0):
        """A :class:`mochi.margo.Engine` over engine ``index`` of the server
        (not owned: the server finalizes it; the Engine keeps the server
        object alive)."""
        from .. import margo
        return margo.Engine.from_margo_instance_id(self.get_mid(index), owner=self._server)

    @property
    def engine(self):
        """The first engine, as a :class:`mochi.margo.Engine` (see
        :meth:`get_engine`): ``server.margo.engine.address``,
        ``Client(server.margo.engine)``."""
        return self.get_engine(0)

    @property
    def address(self):
        """The first engine's address (str), as ``Server.address``."""
        return self._server.address


_TYPE_ID = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(\d+)\Z")


class ProviderManager:
    """The server's providers, in creation order."""

    def __init__(self, server):
        self._server = server

    @property
    def config(self):
        """The ``providers`` section (list of dicts)."""
        return self._server.config["providers"]

    @property
    def spec(self):
        return [ProviderSpec.from_dict(p) for p in self.config]

    @staticmethod
    def _provider(entry):
        return Provider(entry["name"], entry["type"], entry["provider_id"])

    def _entry(self, key):
        _check_key(key)
        providers = self.config
        if isinstance(key, int):
            if not 0 <= key < len(providers):
                raise NotFound(f"Could not find provider at index {key} "
                                       f"(the server has {len(providers)})")
            return providers[key]
        for entry in providers:
            if entry["name"] == key:
                return entry
        raise NotFound(f'Could not find provider with name "{key}"')

    def __len__(self):
        return len(self.config)

    def __iter__(self):
        return iter([self._provider(p) for p in self.config])

    def __getitem__(self, key):
        """By index or name; BedrockException if there is none."""
        return self._provider(self._entry(key))

    def __contains__(self, key):
        try:
            self._entry(key)
            return True
        except BedrockException:
            return False

    def __delitem__(self, key):
        """Destroys the provider (by name, "type:id", or index)."""
        if isinstance(key, int) and not isinstance(key, bool):
            key = self._entry(key)["name"]
        if not isinstance(key, str):
            raise TypeError(f"key must be a name, a \"type:id\" or an index, "
                            f"not {type(key).__name__}")
        self._server._call("bedrock_server_remove_provider", _lib.c_text(key, "provider"))

    def lookup(self, spec):
        """The provider named ``spec``, or given as "type:id"."""
        if not isinstance(spec, str):
            raise TypeError(f"spec must be a str, not {type(spec).__name__}")
        match = _TYPE_ID.match(spec)
        for entry in self.config:
            if match:
                if entry["type"] == match.group(1) and entry["provider_id"] == int(match.group(2)):
                    return self._provider(entry)
            elif entry["name"] == spec:
                return self._provider(entry)
        raise BedrockException(f'Provider with spec "{spec}" not found')

    def create(self, name, type, provider_id=65535, config=None, dependencies=None,
               tags=None):
        """Starts a provider (65535: the server picks the id); returns it.
        ``config`` is a dict or a JSON object text."""
        if isinstance(config, str):
            config = json.loads(config)
        spec = ProviderSpec(name=name, type=type, provider_id=provider_id,
                            config={} if config is None else config,
                            dependencies={} if dependencies is None else dependencies,
                            tags=[] if tags is None else tags)
        pid = ctypes.c_uint16()
        self._server._call("bedrock_server_add_provider",
                           _lib.c_text(spec.to_json(), "provider description"),
                           ctypes.byref(pid))
        return Provider(name, type, pid.value)

    def _unavailable(self, what):
        raise NotImplementedError(
            f"ProviderManager.{what} is not available: bedrock/server.h has no "
            "provider migration/snapshot/restore function")

    def migrate(self, provider, dest_addr, dest_provider_id, migration_config="{}",
                remove_source=True):
        self._unavailable("migrate")

    def snapshot(self, provider, dest_path, snapshot_config="{}", remove_source=True):
        self._unavailable("snapshot")

    def restore(self, provider, src_path, restore_config="{}"):
        self._unavailable("restore")

    def __repr__(self):
        return f"ProviderManager({[p['name'] for p in self.config]!r})"
