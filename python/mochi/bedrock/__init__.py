"""Bedrock bindings: :mod:`mochi.bedrock.server` (an in-process Bedrock
server, with :mod:`mochi.bedrock.managers` for its pools, xstreams and
providers), :mod:`mochi.bedrock.client` (service handles),
:mod:`mochi.bedrock.spec` (typed configurations) and
:mod:`mochi.bedrock.local` (running the `bedrock` program)."""

from .common import BedrockException, ClientException  # noqa: F401
