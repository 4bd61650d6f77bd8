"""Exceptions and return codes shared by the Bedrock modules."""

import enum

__all__ = ["BedrockException", "ClientException", "ReturnCode"]


class ReturnCode(enum.IntEnum):
    """bedrock_return_t (bedrock/client.h)."""
    SUCCESS = 0
    ERR_INVALID_ARGS = 1
    ERR_REMOTE = 2
    ERR_NOT_SUPPORTED = 3
    ERR_ALLOCATION = 4
    ERR_OTHER = 5


class BedrockException(RuntimeError):
    """A server-side (in-process Server) failure: bad config, ...
    ``code`` is the bedrock_return_t (or None)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class ClientException(RuntimeError):
    """A client-side failure (the daemon's error text, or an invalid
    request); ``code`` is the bedrock_return_t (or None)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code
