"""py-mochi-margo's package name over :mod:`mochi.margo`: programs written
for upstream's Python Margo bindings (``import pymargo``,
``pymargo.core.Engine("na+sm", pymargo.core.server)``,
``Engine(addr, mode=pymargo.client)``) get the same objects as
:mod:`mochi.margo`.

Names: ``Engine`` (also ``MargoInstance``), ``Address`` (also
``MargoAddress``), ``MargoException``, the modes ``server`` and ``client``,
and :mod:`pymargo.core`. Not provided (libmochi's bindings register no
Python RPCs and expose no bulk handles): ``Handle``/``MargoHandle``,
``remote``, ``provider``, ``on_finalize``, ``on_prefinalize``,
``pymargo.bulk``. :mod:`pymargo.logging` has the log levels and loggers.
"""

from . import core, logging
from .core import Address, Engine, MargoException, client, server

MargoInstance = Engine
MargoAddress = Address

__all__ = ["core", "logging", "Engine", "Address", "MargoException", "MargoInstance", "MargoAddress",
           "client", "server"]
