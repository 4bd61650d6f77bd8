"""Bedrock bindings: :mod:`mochi.bedrock.server` (an in-process Bedrock
server) and :mod:`mochi.bedrock.client` (service handles)."""

from .common import BedrockException, ClientException  # noqa: F401
