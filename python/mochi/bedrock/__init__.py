"""Bedrock bindings: :mod:`mochi.bedrock.server` (an in-process Bedrock
server, with :mod:`mochi.bedrock.managers` for its pools, xstreams and
providers), :mod:`mochi.bedrock.client` (service handles),
:mod:`mochi.bedrock.spec` (typed configurations) and
:mod:`mochi.bedrock.local` (running the `bedrock` program).

``Server`` and ``Client`` are also reachable here (``from mochi.bedrock
import Server, Client``, as the Flock-integration tutorial writes it); they
are imported on first use, so ``mochi.bedrock.spec`` alone does not load
libmochi.
"""

from .common import BedrockException, ClientException  # noqa: F401

_LAZY = {"Server": "server", "Client": "client"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
