"""``pymargo.core``: py-mochi-margo's module of the engine classes, here the
objects of :mod:`mochi.margo` (see :mod:`pymargo`).

``Engine(addr, mode=server, use_progress_thread=False, num_rpc_threads=0,
config=None)``; ``engine.address`` (str here, an Address upstream: both
print and compare as the address text), ``engine.addr()`` (Address),
``engine.lookup(str)``, ``engine.mid``, ``engine.finalize()``,
``Engine.from_margo_instance_id(mid)``.
"""

from mochi.margo import DEFAULT_PROVIDER_ID, Address, Engine, MargoException, client, server

__all__ = ["Engine", "Address", "MargoException", "client", "server", "DEFAULT_PROVIDER_ID"]
