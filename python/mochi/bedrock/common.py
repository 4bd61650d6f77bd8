"""Exceptions and return codes shared by the Bedrock modules."""

import enum
import json

__all__ = ["BedrockException", "ClientException", "NotFound", "InvalidIndex", "ReturnCode", "config_text"]


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


class NotFound(BedrockException, ClientException):
    """A pool, xstream or provider that is not there. Upstream's bindings
    raise it as BedrockException or ClientException depending on which of
    their modules was imported last; catching either works here."""


class InvalidIndex(ClientException, IndexError):
    """An index past a service group's members (a ClientException, as
    upstream's, and an IndexError, as a sequence's)."""


def config_text(config, spec_type, what):
    """A config given as JSON text, a dict or a ``spec_type`` object, as
    JSON text; anything else (another kind of spec included) is refused."""
    if isinstance(config, str):
        return config
    if isinstance(config, dict):
        return json.dumps(config)
    if isinstance(config, spec_type):
        return config.to_json()
    raise TypeError(f"{what} must be a str, a dict or a {spec_type.__name__}, "
                    f"not {type(config).__name__}")
