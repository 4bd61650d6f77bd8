"""Bedrock client (bedrock/client.h): :class:`Client`,
:class:`ServiceHandle`, :class:`ServiceGroupHandle`."""

import ctypes
import json
import threading

from .. import _lib
from .. import margo
from .._client import EngineClient
from .._closing import Closing
from .._lib import lib
from .common import ClientException, InvalidIndex, config_text
from .spec import PoolSpec, ProcSpec, ProviderSpec, XstreamSpec

__all__ = ["Client", "ServiceHandle", "ServiceGroupHandle", "ClientException"]


def _last_error():
    msg = lib.bedrock_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def _check(rc, function):
    if rc != 0:
        raise ClientException(_last_error() or f"{function} returned {rc}", rc)


def _take_json(ptr, function):
    text = _lib.take_string(ptr)
    if text is None:
        raise ClientException(f"{function} returned no text")
    return text


class ServiceHandle(Closing):
    """A handle on one Bedrock daemon (address, Bedrock provider id)."""

    _close_method = "release"

    def __init__(self, handle, client, address, provider_id):
        self._handle = ctypes.c_void_p(handle)
        self._client = client
        self._address = address
        self._provider_id = provider_id
        self._lock = threading.Lock()

    @property
    def client(self):
        return self._client

    @property
    def address(self):
        return self._address

    @property
    def provider_id(self):
        return self._provider_id

    def _live(self):
        if not self._handle:
            raise ClientException("Invalid bedrock::ServiceHandle object")
        return self._handle

    @property
    def config(self):
        """The daemon's effective config (dict)."""
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_get_config(self._live(), ctypes.byref(out)),
               "bedrock_service_get_config")
        return json.loads(_take_json(out.value, "bedrock_service_get_config"))

    @property
    def spec(self):
        """The daemon's effective config as a ProcSpec."""
        return ProcSpec.from_dict(self.config)

    def query(self, script):
        """Runs a Jx9 query on the daemon's config. libmochi does not run
        Jx9: this raises ClientException with the library's message."""
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_query_config(self._live(), _lib.c_text(script, "script"),
                                                ctypes.byref(out)),
               "bedrock_service_query_config")
        text = _lib.take_string(out.value)
        return json.loads(text) if text else None

    def _string_call(self, name, arg, what):
        fn = _lib.require(name)
        _check(fn(self._live(), _lib.c_text(arg, what)), name)

    def load_module(self, path):
        """Loads a module library into the daemon (by path or file name)."""
        self._string_call("bedrock_service_load_module", path, "path")

    def add_pool(self, config):
        """Adds an Argobots pool (JSON str, dict, or PoolSpec)."""
        self._string_call("bedrock_service_add_pool",
                          config_text(config, PoolSpec, "pool config"), "pool config")

    def remove_pool(self, name):
        self._string_call("bedrock_service_remove_pool", name, "pool name")

    def add_xstream(self, config):
        """Adds an execution stream (JSON str, dict, or XstreamSpec)."""
        self._string_call("bedrock_service_add_xstream",
                          config_text(config, XstreamSpec, "xstream config"),
                          "xstream config")

    def remove_xstream(self, name):
        self._string_call("bedrock_service_remove_xstream", name, "xstream name")

    def add_provider(self, description):
        """Starts a provider from its description (JSON str, dict, or
        ProviderSpec); returns the provider id it got."""
        text = config_text(description, ProviderSpec, "provider description")
        pid = ctypes.c_uint16()
        _check(lib.bedrock_service_add_provider(
            self._live(), _lib.c_text(text, "description"),
            ctypes.byref(pid)),
            "bedrock_service_add_provider")
        return pid.value

    def change_provider_pool(self, provider_name, pool_name):
        _check(lib.bedrock_service_change_provider_pool(
            self._live(), _lib.c_text(provider_name, "provider name"),
            _lib.c_text(pool_name, "pool name")),
            "bedrock_service_change_provider_pool")

    def shutdown(self):
        """Shuts the daemon down (remote shutdown)."""
        _check(lib.bedrock_service_shutdown(self._live()), "bedrock_service_shutdown")

    def release(self):
        handle = self._take_handle()
        if handle:
            lib.bedrock_service_handle_release(handle)

    def __repr__(self):
        return f"ServiceHandle(address={self._address!r}, provider_id={self._provider_id})"



class ServiceGroupHandle(Closing):
    """Handles on several daemons: from an address list, or one per
    distinct process of a Flock group file."""

    _close_method = "release"

    def __init__(self, handle, client, addresses, provider_id, from_flock):
        self._handle = ctypes.c_void_p(handle)
        self._client = client
        self._addresses = list(addresses)
        self._provider_id = provider_id
        self._from_flock = from_flock
        self._lock = threading.Lock()

    @property
    def client(self):
        return self._client

    @property
    def provider_id(self):
        return self._provider_id

    @property
    def addresses(self):
        return list(self._addresses)

    def _live(self):
        if not self._handle:
            raise ClientException("Invalid bedrock::ServiceGroupHandle object")
        return self._handle

    def refresh(self):
        """Rebuilds the member list from the group's cached view. A group
        made from a Flock file keeps the file's view (no update is fetched,
        as upstream), so this changes nothing; a group made from an address
        list raises, as upstream."""
        if not self._from_flock:
            raise ClientException("ServiceGroupHandle not associated with an SSG or Flock group")

    @property
    def size(self):
        return int(lib.bedrock_service_group_size(self._live()))

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, not {type(index).__name__}")
        n = len(self._addresses)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise InvalidIndex(f"Invalid index {index}")
        return self._client.make_service_handle(self._addresses[index], self._provider_id)

    def __iter__(self):
        for i in range(len(self._addresses)):
            yield self[i]

    @property
    def config(self):
        """``{address: config dict}`` over the group."""
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_group_get_config(self._live(), ctypes.byref(out)),
               "bedrock_service_group_get_config")
        return json.loads(_take_json(out.value, "bedrock_service_group_get_config"))

    @property
    def spec(self):
        """``{address: ProcSpec}`` over the group."""
        return {address: ProcSpec.from_dict(config)
                for address, config in self.config.items()}

    def query(self, script):
        """``{address: result}`` of a Jx9 query on every member. libmochi
        has no group query and does not run Jx9: each member is queried
        through bedrock_service_query_config, whose error is raised."""
        return {h.address: h.query(script) for h in self}

    def shutdown(self):
        """Shuts every daemon of the group down."""
        _check(lib.bedrock_service_group_shutdown(self._live()),
               "bedrock_service_group_shutdown")

    def release(self):
        handle = self._take_handle()
        if handle:
            lib.bedrock_service_group_release(handle)

    def __repr__(self):
        return f"ServiceGroupHandle({self._addresses!r}, provider_id={self._provider_id})"



class Client(EngineClient):
    """A Bedrock client: ``Client(engine)`` (a :class:`mochi.margo.Engine`,
    not owned) or ``Client("na+sm")`` (a protocol: a client-mode engine is
    created and owned)."""

    def __init__(self, arg):
        def init(engine, out):
            _check(lib.bedrock_client_init(engine._live_mid("bedrock_client_init"),
                                           ctypes.byref(out)),
                   "bedrock_client_init")
        super().__init__(arg, init, lib.bedrock_client_finalize)

    def _live(self):
        if not self._client:
            raise ClientException("the client is closed")
        return self._client

    def make_service_handle(self, address, provider_id=0):
        """A handle on the daemon at ``address`` (str or
        :class:`mochi.margo.Address`) whose Bedrock provider id is
        ``provider_id``. No RPC is sent."""
        address = str(address)
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_handle_create(self._live(), _lib.c_text(address, "address"),
                                                 provider_id, ctypes.byref(out)),
               "bedrock_service_handle_create")
        return ServiceHandle(out.value, self, address, provider_id)

    def make_service_group_handle(self, addresses, provider_id=0):
        """Handles on the daemons at ``addresses`` (a list of str, or one str)."""
        if isinstance(addresses, (str, margo.Address)):
            addresses = [addresses]
        addresses = [str(a) for a in addresses]
        array = (ctypes.c_char_p * len(addresses))(
            *[_lib.c_text(a, "address") for a in addresses])
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_group_create(self._live(), array, len(addresses),
                                                provider_id, ctypes.byref(out)),
               "bedrock_service_group_create")
        return ServiceGroupHandle(out.value, self, addresses, provider_id, from_flock=False)

    def make_service_group_handle_from_flock(self, groupfile, provider_id=0):
        """Handles on every distinct process of a Flock group file (member
        addresses in view order, consecutive duplicates skipped), all with
        Bedrock provider id ``provider_id``."""
        from ..flock.view import GroupView
        from ..flock.common import FlockException
        groupfile = str(groupfile)
        try:
            view = GroupView.from_file(groupfile)
        except FlockException as e:
            raise ClientException(
                f"Could not create flock group handle: {e.code} ({e})", e.code) from None
        addresses = []
        for m in view.members:
            if not addresses or addresses[-1] != m.address:
                addresses.append(m.address)
        out = ctypes.c_void_p()
        _check(lib.bedrock_service_group_create_from_file(
            self._live(), _lib.c_text(groupfile, "groupfile"), provider_id, ctypes.byref(out)),
            "bedrock_service_group_create_from_file")
        group = ServiceGroupHandle(out.value, self, addresses, provider_id, from_flock=True)
        if group.size != len(addresses):
            group.release()
            raise ClientException(
                f"{groupfile} changed while the group handle was being made; try again")
        return group

