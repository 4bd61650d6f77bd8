"""Typed descriptions of a Bedrock deployment, turned into (and read back
from) the JSON configuration a Bedrock daemon takes and reports.

    proc = ProcSpec(margo="na+sm")
    proc.providers.add(name="group", type="flock", provider_id=1,
                       config={"bootstrap": "self", "group": {"type": "static"}})
    server = Server.from_spec(proc)
    assert ProcSpec.from_dict(server.config).providers["group"].provider_id == 1

Every class has ``to_dict``/``from_dict``/``to_json``/``from_json`` and
``validate()``. Attributes are checked whenever they are set (TypeError for
a wrong type, ValueError for a wrong value); ``validate()`` re-checks them
and the relations between objects (e.g. a scheduler's pools belong to its
ArgobotsSpec). Pools, xstreams and the Bedrock pool refer to PoolSpec
*objects*; in the dict form they are names (ints are accepted as indices
when reading). ``from_dict`` rejects keys it does not know rather than
dropping them.

ConfigSpace support (``space()``/``from_config()``) is not provided.
"""

import copy
import json
import re

__all__ = ["SpecListDecorator", "MercurySpec", "PlumberSpec", "PoolSpec",
           "SchedulerSpec", "XstreamSpec", "ArgobotsSpec", "MargoSpec",
           "ProviderSpec", "BedrockSpec", "ProcSpec", "ServiceSpec"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_AUTO_PROVIDER_ID = 65535       # "let Bedrock pick the provider id"


# --------------------------------------------------------------------------
# Attribute checks: each is check(owner_class_name, attribute, value) and
# returns the value to store (possibly converted).

def _type_names(types):
    return " or ".join(t.__name__ for t in types)


def _of(*types):
    def check(owner, attr, value):
        # bool is a subclass of int: an int attribute must not take True.
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise TypeError(f"{owner}.{attr} must be {_type_names(types)}, "
                            f"not {type(value).__name__}")
        return value
    return check


def _optional(check):
    def optional(owner, attr, value):
        return None if value is None else check(owner, attr, value)
    return optional


def _choice(*choices):
    def check(owner, attr, value):
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{owner}.{attr} must be one of {', '.join(choices)}, "
                             f"not {value!r}")
        return value
    return check


def _int_range(low, high=None):
    as_int = _of(int)

    def check(owner, attr, value):
        as_int(owner, attr, value)
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{owner}.{attr} must be {bound}, not {value}")
        return value
    return check


_uint = _int_range(0)


def _identifier(owner, attr, value):
    _of(str)(owner, attr, value)
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{owner}.{attr} {value!r} is not a valid identifier "
                         "(letters, digits, _; not starting with a digit)")
    return value


def _list_of(*types, nonempty=False):
    as_list = _of(list)

    def check(owner, attr, value):
        as_list(owner, attr, value)
        if nonempty and not value:
            raise ValueError(f"{owner}.{attr} must not be empty")
        for i, item in enumerate(value):
            _of(*types)(owner, f"{attr}[{i}]", item)
        return list(value)      # our own copy: later edits of the caller's list do not leak in
    return check


def _dependencies(owner, attr, value):
    """{name: spec | [spec, ...]}, a spec being a str or an int (§1.5)."""
    _of(dict)(owner, attr, value)
    for key, dep in value.items():
        _of(str)(owner, f"{attr} key", key)
        items = dep if isinstance(dep, list) else [dep]
        for item in items:
            _of(str, int)(owner, f"{attr}[{key!r}]", item)
    return value


def _unique_names(owner, attr, items):
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{owner}.{attr}: duplicate name(s) {', '.join(duplicates)}")


# --------------------------------------------------------------------------
# Base class

class _Spec:
    """Attributes listed in ``_checks`` are checked on every assignment;
    those in ``_frozen`` cannot be reassigned once set (they identify the
    object, e.g. a pool's name)."""

    _checks = {}
    _frozen = ()

    def __setattr__(self, name, value):
        check = type(self)._checks.get(name)
        if check is None:
            if name.startswith("_"):          # internal state
                object.__setattr__(self, name, value)
                return
            if hasattr(type(self), name):     # a property such as ArgobotsSpec.pools
                raise AttributeError(f"{type(self).__name__}.{name} is read-only "
                                     "(edit the list it returns instead)")
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        if name in self._frozen and name in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.{name} cannot be changed")
        object.__setattr__(self, name, check(type(self).__name__, name, value))

    def _recheck(self):
        """Runs the attribute checks again (lists may have been edited in place)."""
        for name, check in self._checks.items():
            check(type(self).__name__, name, getattr(self, name))

    def validate(self):
        self._recheck()

    def to_json(self, *args, **kwargs):
        """``json.dumps(self.to_dict(), *args, **kwargs)``."""
        return json.dumps(self.to_dict(), *args, **kwargs)

    @classmethod
    def from_json(cls, text, *args):
        """``from_dict(json.loads(text), *args)``."""
        return cls.from_dict(json.loads(text), *args)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({self.to_dict()!r})"


def _read(cls, data, known, required=()):
    """Checks the keys of a dict given to ``cls.from_dict``; returns a copy."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}.from_dict expects a dict, not {type(data).__name__}")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TypeError(f"{cls.__name__}.from_dict: unknown key(s) {', '.join(unknown)} "
                        f"(known: {', '.join(known)})")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{cls.__name__}.from_dict: missing key(s) {', '.join(missing)}")
    return dict(data)


def _pool_ref(abt_spec, ref, where):
    """The PoolSpec a dict refers to by name or index."""
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise TypeError(f"{where}: a pool reference must be a name or an index, "
                        f"not {type(ref).__name__}")
    try:
        return abt_spec.pools[ref]
    except (KeyError, IndexError):
        raise ValueError(f"{where}: no pool {ref!r} in the ArgobotsSpec") from None


# --------------------------------------------------------------------------
# List proxy

class SpecListDecorator:
    """A list of specs of one type, as stored in its owner (changes go to
    the owner's list). Elements can be found by index or, for named specs
    (pools, xstreams, providers), by name; names stay unique."""

    def __init__(self, list, type):
        self._list = list
        self._type = type
        self._named = getattr(type, "_named", False)

    def _check_new(self, spec, ignore=None):
        if not isinstance(spec, self._type):
            raise TypeError(f"expected a {self._type.__name__}, not {type(spec).__name__}")
        if self._named:
            for other in self._list:
                if other is not ignore and other.name == spec.name:
                    raise ValueError(f"the list already holds a {self._type.__name__} "
                                     f"named {spec.name!r}")
        elif any(other is spec for other in self._list if other is not ignore):
            raise ValueError("the list already holds this object")

    def _find(self, name):
        if not self._named:
            raise TypeError(f"{self._type.__name__} objects have no name to look up")
        for i, item in enumerate(self._list):
            if item.name == name:
                return i
        return None

    def _position(self, key):
        if isinstance(key, str):
            i = self._find(key)
            if i is None:
                raise KeyError(f"no {self._type.__name__} named {key!r}")
            return i
        if isinstance(key, (int, slice)) and not isinstance(key, bool):
            return key
        raise TypeError(f"invalid key type {type(key).__name__} (expected int or str)")

    def __len__(self):
        return len(self._list)

    def __iter__(self):
        return iter(self._list)

    def __getitem__(self, key):
        return self._list[self._position(key)]

    def __setitem__(self, key, spec):
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError("only an int index can be assigned")
        current = self._list[key]        # IndexError if out of range
        self._check_new(spec, ignore=current)
        self._list[key] = spec

    def __delitem__(self, key):
        del self._list[self._position(key)]

    def __contains__(self, item):
        if isinstance(item, str):
            return self._named and self._find(item) is not None
        return any(x is item for x in self._list)

    def count(self, item):
        return 1 if item in self else 0

    def index(self, item):
        if isinstance(item, str):
            return self._position(item)
        for i, x in enumerate(self._list):
            if x is item:
                return i
        raise ValueError(f"{item!r} is not in the list")

    def append(self, spec):
        self._check_new(spec)
        self._list.append(spec)

    def add(self, *args, **kwargs):
        """Builds ``type(*args, **kwargs)``, appends it and returns it."""
        spec = self._type(*args, **kwargs)
        self.append(spec)
        return spec

    def insert(self, index, spec):
        self._check_new(spec)
        self._list.insert(index, spec)

    def extend(self, specs):
        """Appends all of ``specs`` or, if one is refused, none."""
        specs = list(specs)
        trial = SpecListDecorator(list(self._list), self._type)
        for spec in specs:
            trial.append(spec)
        self._list.extend(specs)

    def pop(self, index=-1):
        return self._list.pop(index)

    def remove(self, item):
        del self._list[self.index(item)]

    def clear(self):
        self._list.clear()

    def copy(self):
        return list(self._list)

    def __repr__(self):
        return f"SpecListDecorator({self._list!r})"


# --------------------------------------------------------------------------
# Mercury, plumber

class MercurySpec(_Spec):
    """Mercury options of a margo instance (``margo.mercury``). ``address``
    is a protocol ("na+sm") or a full address."""

    _defaults = {
        "listening": True, "ip_subnet": "", "auth_key": "", "auto_sm": False,
        "max_contexts": 1, "na_no_block": False, "na_no_retry": False,
        "no_bulk_eager": False, "no_loopback": False, "request_post_incr": 256,
        "request_post_init": 256, "stats": False, "version": "unknown",
        "checksum_level": "none", "input_eager_size": 4080,
        "output_eager_size": 4080, "na_addr_format": "unspec",
        "na_max_expected_size": 0, "na_max_unexpected_size": 0,
        "na_request_mem_device": False, "log_level": "warning",
        "log_subsys": "hg,na",
        # Not in upstream's spec, but a daemon reports it when given: None
        # leaves it out of the dict.
        "sm_info_string": None,
    }
    _checks = {
        "address": _of(str),
        "listening": _of(bool), "ip_subnet": _of(str), "auth_key": _of(str),
        "auto_sm": _of(bool), "max_contexts": _uint, "na_no_block": _of(bool),
        "na_no_retry": _of(bool), "no_bulk_eager": _of(bool),
        "no_loopback": _of(bool), "request_post_incr": _uint,
        "request_post_init": _uint, "stats": _of(bool), "version": _of(str),
        "checksum_level": _choice("none", "rpc_headers", "rpc_payload"),
        "input_eager_size": _uint, "output_eager_size": _uint,
        "na_addr_format": _choice("unspec", "ipv4", "ipv6", "native"),
        "na_max_expected_size": _uint, "na_max_unexpected_size": _uint,
        "na_request_mem_device": _of(bool), "log_level": _of(str),
        "log_subsys": _of(str), "sm_info_string": _optional(_of(str)),
    }

    def __init__(self, *, address, **options):
        unknown = sorted(set(options) - set(self._defaults))
        if unknown:
            raise TypeError(f"MercurySpec: unknown option(s) {', '.join(unknown)}")
        self.address = address
        for key, default in self._defaults.items():
            setattr(self, key, options.get(key, default))

    @property
    def protocol(self):
        """The part of the address before the first ':' (e.g. "na+sm")."""
        return self.address.split(":")[0]

    def to_dict(self):
        data = {"address": self.address}
        for key in self._defaults:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data):
        data = _read(cls, data, list(cls._checks), required=("address",))
        return cls(**data)


class PlumberSpec(_Spec):
    """Margo's NIC selection policies (``margo.plumber``)."""

    _checks = {"bucket_policy": _of(str), "nic_policy": _of(str)}

    def __init__(self, *, bucket_policy="package", nic_policy="roundrobin"):
        self.bucket_policy = bucket_policy
        self.nic_policy = nic_policy

    def to_dict(self):
        return {"bucket_policy": self.bucket_policy, "nic_policy": self.nic_policy}

    @classmethod
    def from_dict(cls, data):
        return cls(**_read(cls, data, list(cls._checks)))


# --------------------------------------------------------------------------
# Argobots: pools, schedulers, xstreams

class PoolSpec(_Spec):
    """An Argobots pool. Schedulers and MargoSpec refer to pool *objects*,
    so a pool compares equal only to itself."""

    _named = True
    _frozen = ("name",)
    _checks = {
        "name": _identifier,
        "kind": _choice("fifo", "fifo_wait", "prio_wait", "earliest_first"),
        "access": _choice("private", "spsc", "mpsc", "spmc", "mpmc"),
    }

    def __init__(self, *, name, kind="fifo_wait", access="mpmc"):
        self.name = name
        self.kind = kind
        self.access = access

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def to_dict(self):
        return {"name": self.name, "kind": self.kind, "access": self.access}

    @classmethod
    def from_dict(cls, data):
        return cls(**_read(cls, data, list(cls._checks), required=("name",)))


class SchedulerSpec(_Spec):
    """An xstream's scheduler: its type and the (non-empty) list of
    PoolSpec objects it pulls work from."""

    _checks = {
        "type": _choice("default", "basic", "prio", "randws", "basic_wait"),
        "pools": _list_of(PoolSpec, nonempty=True),
    }

    def __init__(self, *, pools, type="basic_wait"):
        self.type = type
        self.pools = pools

    def to_dict(self):
        return {"type": self.type, "pools": [p.name for p in self.pools]}

    @classmethod
    def from_dict(cls, data, abt_spec):
        """``pools`` holds names (or indices) of ``abt_spec``'s pools."""
        data = _read(cls, data, ["type", "pools"], required=("pools",))
        _of(list)(cls.__name__, "pools", data["pools"])
        data["pools"] = [_pool_ref(abt_spec, ref, "SchedulerSpec.pools")
                         for ref in data["pools"]]
        return cls(**data)


class XstreamSpec(_Spec):
    """An execution stream (compares equal only to itself, like PoolSpec).
    ``cpubind`` -1 means any CPU."""

    _named = True
    _frozen = ("name",)
    _checks = {
        "name": _identifier,
        "scheduler": _of(SchedulerSpec),
        "cpubind": _int_range(-1),
        "affinity": _list_of(int),
    }

    def __init__(self, *, name, scheduler, cpubind=-1, affinity=None):
        self.name = name
        self.scheduler = scheduler
        self.cpubind = cpubind
        self.affinity = [] if affinity is None else affinity

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def validate(self):
        super().validate()
        self.scheduler.validate()

    def to_dict(self):
        return {"name": self.name, "scheduler": self.scheduler.to_dict(),
                "cpubind": self.cpubind, "affinity": list(self.affinity)}

    @classmethod
    def from_dict(cls, data, abt_spec):
        """The scheduler's pools are looked up in ``abt_spec``."""
        data = _read(cls, data, list(cls._checks), required=("name", "scheduler"))
        data["scheduler"] = SchedulerSpec.from_dict(data["scheduler"], abt_spec)
        return cls(**data)


def _primary_xstreams(pools):
    """Default xstreams: one "__primary__" on the pool named "__primary__"
    (or the first pool)."""
    if not pools:
        raise ValueError("ArgobotsSpec: a default __primary__ xstream needs at least one pool")
    pool = next((p for p in pools if p.name == "__primary__"), pools[0])
    return [XstreamSpec(name="__primary__", scheduler=SchedulerSpec(pools=[pool]))]


class ArgobotsSpec(_Spec):
    """The Argobots environment (``margo.argobots``): pools and xstreams,
    reached as list proxies ``pools`` and ``xstreams`` (index or name).
    By default one "__primary__" pool and one "__primary__" xstream."""

    _checks = {
        "abt_mem_max_num_stacks": _uint,
        "abt_thread_stacksize": _int_range(1),
        "version": _of(str),
        "lazy_stack_alloc": _of(bool),
        "profiling_dir": _of(str),
        "_pools": _list_of(PoolSpec),
        "_xstreams": _list_of(XstreamSpec),
    }

    def __init__(self, *, abt_mem_max_num_stacks=8, abt_thread_stacksize=2097152,
                 version="unknown", pools=None, xstreams=None,
                 lazy_stack_alloc=False, profiling_dir="."):
        self.abt_mem_max_num_stacks = abt_mem_max_num_stacks
        self.abt_thread_stacksize = abt_thread_stacksize
        self.version = version
        self._pools = [PoolSpec(name="__primary__")] if pools is None else pools
        _unique_names("ArgobotsSpec", "pools", self._pools)
        self._xstreams = _primary_xstreams(self._pools) if xstreams is None else xstreams
        _unique_names("ArgobotsSpec", "xstreams", self._xstreams)
        self.lazy_stack_alloc = lazy_stack_alloc
        self.profiling_dir = profiling_dir

    @property
    def pools(self):
        return SpecListDecorator(self._pools, PoolSpec)

    @property
    def xstreams(self):
        return SpecListDecorator(self._xstreams, XstreamSpec)

    def add(self, thing):
        """Appends a PoolSpec or an XstreamSpec."""
        if isinstance(thing, PoolSpec):
            self.pools.append(thing)
        elif isinstance(thing, XstreamSpec):
            self.xstreams.append(thing)
        else:
            raise TypeError(f"cannot add a {type(thing).__name__} to an ArgobotsSpec")

    def validate(self):
        super().validate()
        _unique_names("ArgobotsSpec", "pools", self._pools)
        _unique_names("ArgobotsSpec", "xstreams", self._xstreams)
        if not self._xstreams:
            raise ValueError("ArgobotsSpec has no xstream")
        for es in self._xstreams:
            es.validate()
            for pool in es.scheduler.pools:
                if not any(pool is p for p in self._pools):
                    raise ValueError(f'pool "{pool.name}" of xstream "{es.name}" is not '
                                     "one of this ArgobotsSpec's pools")

    def to_dict(self):
        return {"abt_mem_max_num_stacks": self.abt_mem_max_num_stacks,
                "abt_thread_stacksize": self.abt_thread_stacksize,
                "version": self.version,
                "pools": [p.to_dict() for p in self._pools],
                "xstreams": [x.to_dict() for x in self._xstreams],
                "lazy_stack_alloc": self.lazy_stack_alloc,
                "profiling_dir": self.profiling_dir}

    @classmethod
    def from_dict(cls, data):
        """Missing ``pools``/``xstreams`` get the defaults."""
        known = [k.lstrip("_") for k in cls._checks]
        data = _read(cls, data, known)
        pools = data.pop("pools", None)
        xstreams = data.pop("xstreams", None)
        if pools is not None:
            _of(list)(cls.__name__, "pools", pools)
            pools = [PoolSpec.from_dict(p) for p in pools]
        abt = cls(pools=pools, xstreams=[], **data)
        if xstreams is None:
            abt._xstreams = _primary_xstreams(abt._pools)
        else:
            _of(list)(cls.__name__, "xstreams", xstreams)
            for x in xstreams:
                abt.xstreams.append(XstreamSpec.from_dict(x, abt))
        return abt


# --------------------------------------------------------------------------
# Margo

def _mercury_from(value):
    if isinstance(value, MercurySpec):
        return value
    if isinstance(value, str):
        return MercurySpec(address=value)
    if isinstance(value, dict):
        return MercurySpec.from_dict(value)
    raise TypeError(f"MargoSpec.mercury must be a MercurySpec, a str (address) or a dict, "
                    f"not {type(value).__name__}")


class MargoSpec(_Spec):
    """A margo instance. ``mercury`` may be given as an address string or a
    dict; ``progress_pool``/``rpc_pool`` are PoolSpec objects of
    ``argobots`` (default: its first pool)."""

    _checks = {
        "mercury": lambda owner, attr, value: _mercury_from(value),
        "argobots": _of(ArgobotsSpec),
        "progress_timeout_ub_msec": _uint,
        "progress_spindown_msec": _uint,
        "enable_abt_profiling": _of(bool),
        "handle_cache_size": _uint,
        "progress_pool": _of(PoolSpec),
        "rpc_pool": _of(PoolSpec),
        "plumber": _of(PlumberSpec),
        "version": _of(str),
        # Not in upstream's spec; a daemon reports it when configured.
        "monitoring": _optional(_of(dict)),
    }

    def __init__(self, *, mercury, argobots=None, progress_timeout_ub_msec=100,
                 progress_spindown_msec=10, enable_abt_profiling=False,
                 handle_cache_size=32, progress_pool=None, rpc_pool=None,
                 plumber=None, version="unknown", monitoring=None):
        self.mercury = mercury
        self.argobots = ArgobotsSpec() if argobots is None else argobots
        self.progress_timeout_ub_msec = progress_timeout_ub_msec
        self.progress_spindown_msec = progress_spindown_msec
        self.enable_abt_profiling = enable_abt_profiling
        self.handle_cache_size = handle_cache_size
        if progress_pool is None or rpc_pool is None:
            if not self.argobots.pools:
                raise ValueError("MargoSpec: the ArgobotsSpec has no pool to use as "
                                 "progress_pool/rpc_pool")
        self.progress_pool = self.argobots.pools[0] if progress_pool is None else progress_pool
        self.rpc_pool = self.argobots.pools[0] if rpc_pool is None else rpc_pool
        self.plumber = PlumberSpec() if plumber is None else plumber
        self.version = version
        self.monitoring = monitoring

    def validate(self):
        super().validate()
        self.mercury.validate()
        self.argobots.validate()
        self.plumber.validate()
        for attr in ("progress_pool", "rpc_pool"):
            pool = getattr(self, attr)
            if pool not in self.argobots.pools:
                raise ValueError(f'MargoSpec.{attr} "{pool.name}" is not one of the '
                                 "ArgobotsSpec's pools")

    def to_dict(self):
        data = {"mercury": self.mercury.to_dict(),
                "argobots": self.argobots.to_dict(),
                "progress_timeout_ub_msec": self.progress_timeout_ub_msec,
                "progress_spindown_msec": self.progress_spindown_msec,
                "enable_abt_profiling": self.enable_abt_profiling,
                "handle_cache_size": self.handle_cache_size,
                "progress_pool": self.progress_pool.name,
                "rpc_pool": self.rpc_pool.name,
                "plumber": self.plumber.to_dict(),
                "version": self.version}
        if self.monitoring is not None:
            data["monitoring"] = copy.deepcopy(self.monitoring)
        return data

    @classmethod
    def from_dict(cls, data, argobots=None):
        """``mercury`` is required (dict or address string). ``argobots``
        (an ArgobotsSpec) is for an engine sharing another one's Argobots
        environment: it is used instead of the dict's ``argobots``."""
        data = _read(cls, data, list(cls._checks), required=("mercury",))
        if argobots is None:
            argobots = ArgobotsSpec.from_dict(data.get("argobots", {}))
        data["argobots"] = argobots
        if "plumber" in data:
            data["plumber"] = PlumberSpec.from_dict(data["plumber"])
        for attr in ("progress_pool", "rpc_pool"):
            if attr in data:
                data[attr] = _pool_ref(argobots, data[attr], f"MargoSpec.{attr}")
        return cls(**data)


# --------------------------------------------------------------------------
# Providers, Bedrock, processes, services

class ProviderSpec(_Spec):
    """A provider to start (an entry of ``providers``). ``provider_id``
    65535 lets Bedrock choose; ``engine`` is the margo instance index."""

    _named = True
    _frozen = ("name", "type")
    _checks = {
        "name": _identifier,
        "type": _of(str),
        "provider_id": _int_range(0, 65535),
        "config": _of(dict),
        "dependencies": _dependencies,
        "tags": _list_of(str),
        "engine": _uint,
    }

    def __init__(self, *, name, type, provider_id=0, config=None, dependencies=None,
                 tags=None, engine=0):
        self.name = name
        self.type = type
        self.provider_id = provider_id
        self.config = {} if config is None else config
        self.dependencies = {} if dependencies is None else dependencies
        self.tags = [] if tags is None else tags
        self.engine = engine

    def to_dict(self):
        return {"name": self.name, "type": self.type, "provider_id": self.provider_id,
                "dependencies": copy.deepcopy(self.dependencies),
                "config": copy.deepcopy(self.config), "tags": list(self.tags),
                "engine": self.engine}

    @classmethod
    def from_dict(cls, data):
        return cls(**_read(cls, data, list(cls._checks), required=("name", "type")))


class BedrockSpec(_Spec):
    """The ``bedrock`` section: the pool of Bedrock's own RPCs (a PoolSpec;
    its name in the dict) and Bedrock's provider id.
    ``dependency_resolution_timeout`` (seconds) is left out when None."""

    _checks = {
        "pool": _of(PoolSpec),
        "provider_id": _int_range(0, 65535),
        "dependency_resolution_timeout": _optional(_of(int, float)),
    }

    def __init__(self, *, pool, provider_id=0, dependency_resolution_timeout=None):
        self.pool = pool
        self.provider_id = provider_id
        self.dependency_resolution_timeout = dependency_resolution_timeout

    def to_dict(self):
        data = {"pool": self.pool.name, "provider_id": self.provider_id}
        if self.dependency_resolution_timeout is not None:
            data["dependency_resolution_timeout"] = self.dependency_resolution_timeout
        return data

    @classmethod
    def from_dict(cls, data, abt_spec):
        """``pool`` is a name (or index) of ``abt_spec``'s pools."""
        data = _read(cls, data, list(cls._checks), required=("pool",))
        data["pool"] = _pool_ref(abt_spec, data["pool"], "BedrockSpec.pool")
        return cls(**data)


def _margo_from(value):
    """ProcSpec.margo: a MargoSpec, or an address str, or a dict in the
    JSON layout; or a non-empty list of those (one per engine)."""
    if isinstance(value, list):
        if not value:
            raise ValueError("ProcSpec.margo: the list of engines must not be empty")
        return [_margo_from(v) for v in value]
    if isinstance(value, MargoSpec):
        return value
    if isinstance(value, str):
        return MargoSpec(mercury=value)
    if isinstance(value, dict):
        return MargoSpec.from_dict(value)
    raise TypeError(f"ProcSpec.margo must be a MargoSpec, str, dict or a list of them, "
                    f"not {type(value).__name__}")


class ProcSpec(_Spec):
    """One Bedrock process: its margo instance(s), module libraries,
    providers (list proxy ``providers``) and Bedrock section (default: the
    first engine's rpc_pool).

    With several engines (``margo`` a list), the engines after the first
    share the first one's Argobots environment, as the daemon does: their
    dicts carry no ``argobots`` and their pools are the first engine's.
    """

    _checks = {
        "margo": lambda owner, attr, value: _margo_from(value),
        "libraries": _list_of(str),
        "_providers": _list_of(ProviderSpec),
        "bedrock": _of(BedrockSpec),
    }

    def __init__(self, *, margo, libraries=None, providers=None, bedrock=None):
        self.margo = margo
        self.libraries = [] if libraries is None else libraries
        self._providers = [] if providers is None else providers
        _unique_names("ProcSpec", "providers", self._providers)
        self.bedrock = (BedrockSpec(pool=self._engines[0].rpc_pool)
                        if bedrock is None else bedrock)

    @property
    def _engines(self):
        return self.margo if isinstance(self.margo, list) else [self.margo]

    @property
    def providers(self):
        return SpecListDecorator(self._providers, ProviderSpec)

    def validate(self):
        super().validate()
        engines = self._engines
        first_pools = engines[0].argobots.pools
        engines[0].validate()
        for i, m in enumerate(engines[1:], start=1):
            # Only the names travel: the daemon resolves them in engine 0's pools.
            m.mercury.validate()
            m.plumber.validate()
            for attr in ("progress_pool", "rpc_pool"):
                name = getattr(m, attr).name
                if name not in first_pools:
                    raise ValueError(f'margo[{i}].{attr} "{name}" is not a pool of the '
                                     "first engine (engines share its Argobots environment)")
        self.bedrock.validate()
        if self.bedrock.pool.name not in first_pools:
            raise ValueError(f'BedrockSpec.pool "{self.bedrock.pool.name}" is not a pool '
                             "of the first engine")
        _unique_names("ProcSpec", "providers", self._providers)
        used = {self.bedrock.provider_id: "Bedrock itself"}
        for p in self._providers:
            p.validate()
            if p.engine >= len(engines):
                raise ValueError(f'provider "{p.name}": engine {p.engine} out of range '
                                 f"({len(engines)} engine(s))")
            if p.provider_id == _AUTO_PROVIDER_ID:
                continue
            if p.provider_id in used:
                raise ValueError(f'provider "{p.name}": provider id {p.provider_id} '
                                 f"already used by {used[p.provider_id]}")
            used[p.provider_id] = f'provider "{p.name}"'

    def to_dict(self):
        if isinstance(self.margo, list):
            margo = [m.to_dict() for m in self.margo]
            for child in margo[1:]:
                del child["argobots"]      # refused by the daemon: shared with engine 0
        else:
            margo = self.margo.to_dict()
        return {"margo": margo,
                "libraries": list(self.libraries),
                "providers": [p.to_dict() for p in self._providers],
                "bedrock": self.bedrock.to_dict()}

    @classmethod
    def from_dict(cls, data):
        """Reads a config in the daemon's layout (e.g. ``Server.config``).
        An engine after the first may report ``argobots``: it must be the
        first engine's (which it shares)."""
        data = _read(cls, data, ["margo", "libraries", "providers", "bedrock"],
                     required=("margo",))
        margo_data = data["margo"]
        if isinstance(margo_data, list):
            if not margo_data:
                raise ValueError("ProcSpec.from_dict: the margo list must not be empty")
            first = MargoSpec.from_dict(margo_data[0])
            margo = [first]
            for i, m in enumerate(margo_data[1:], start=1):
                if isinstance(m, dict) and "argobots" in m:
                    m = dict(m)
                    reported = ArgobotsSpec.from_dict(m.pop("argobots"))
                    if reported.to_dict() != first.argobots.to_dict():
                        raise ValueError(f"ProcSpec.from_dict: margo[{i}].argobots differs "
                                         "from the first engine's, which it shares")
                margo.append(MargoSpec.from_dict(m, argobots=first.argobots))
        else:
            first = margo = MargoSpec.from_dict(margo_data)
        providers = data.get("providers", [])
        _of(list)(cls.__name__, "providers", providers)
        bedrock = data.get("bedrock")
        if bedrock is not None:
            bedrock = dict(_read(BedrockSpec, bedrock, list(BedrockSpec._checks)))
            bedrock.setdefault("pool", first.rpc_pool.name)
            bedrock = BedrockSpec.from_dict(bedrock, first.argobots)
        return cls(margo=margo, libraries=data.get("libraries", []),
                   providers=[ProviderSpec.from_dict(p) for p in providers],
                   bedrock=bedrock)


_RANK_LOCATOR = re.compile(r".*@(\d+)\Z")


class ServiceSpec(_Spec):
    """A service made of several processes (list proxy ``processes``,
    indexed by rank). Its JSON form is the list of process configs."""

    _checks = {"_processes": _list_of(ProcSpec)}

    def __init__(self, *, processes=None):
        self._processes = [] if processes is None else processes

    @property
    def processes(self):
        return SpecListDecorator(self._processes, ProcSpec)

    def validate(self):
        super().validate()
        for rank, proc in enumerate(self._processes):
            proc.validate()
            for provider in proc.providers:
                for deps in provider.dependencies.values():
                    for dep in deps if isinstance(deps, list) else [deps]:
                        m = _RANK_LOCATOR.match(dep) if isinstance(dep, str) else None
                        if m and int(m.group(1)) >= len(self._processes):
                            raise ValueError(
                                f'process {rank}, provider "{provider.name}": dependency '
                                f'"{dep}" refers to rank {m.group(1)}, but the service has '
                                f"{len(self._processes)} process(es)")

    def to_dict(self):
        return {"processes": [p.to_dict() for p in self._processes]}

    @classmethod
    def from_dict(cls, data):
        data = _read(cls, data, ["processes"])
        processes = data.get("processes", [])
        _of(list)(cls.__name__, "processes", processes)
        return cls(processes=[ProcSpec.from_dict(p) for p in processes])

    def to_json(self, *args, **kwargs):
        """The JSON list of the processes' configs."""
        return json.dumps(self.to_dict()["processes"], *args, **kwargs)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        if not isinstance(data, list):
            raise TypeError("ServiceSpec.from_json expects a JSON list of process configs")
        return cls.from_dict({"processes": data})
