"""The Yokan exception and return codes (``yk_return_t``, ``yokan/common.h``).

Every failing :mod:`mochi.yokan.client` call raises :class:`Exception`,
whose ``str()`` is the message of its code (as C++ ``yokan::Exception::what()``)
and whose ``code`` is the ``yk_return_t`` value; the codes are the module's
``YOKAN_*`` ints.
"""

import builtins

_CODE_NAMES = (
    "YOKAN_SUCCESS", "YOKAN_ERR_ALLOCATION", "YOKAN_ERR_INVALID_MID", "YOKAN_ERR_INVALID_ARGS",
    "YOKAN_ERR_INVALID_PROVIDER", "YOKAN_ERR_INVALID_DATABASE", "YOKAN_ERR_INVALID_BACKEND",
    "YOKAN_ERR_INVALID_CONFIG", "YOKAN_ERR_INVALID_ID", "YOKAN_ERR_INVALID_FILTER",
    "YOKAN_ERR_FROM_MERCURY", "YOKAN_ERR_FROM_ARGOBOTS", "YOKAN_ERR_FROM_REMI",
    "YOKAN_ERR_OP_UNSUPPORTED", "YOKAN_ERR_OP_FORBIDDEN", "YOKAN_ERR_KEY_NOT_FOUND",
    "YOKAN_ERR_BUFFER_SIZE", "YOKAN_ERR_KEY_EXISTS", "YOKAN_ERR_CORRUPTION", "YOKAN_ERR_IO",
    "YOKAN_ERR_INCOMPLETE", "YOKAN_ERR_TIMEOUT", "YOKAN_ERR_ABORTED", "YOKAN_ERR_BUSY",
    "YOKAN_ERR_EXPIRED", "YOKAN_ERR_TRY_AGAIN", "YOKAN_ERR_SYSTEM", "YOKAN_ERR_CANCELED",
    "YOKAN_ERR_PERMISSION", "YOKAN_ERR_MODE", "YOKAN_ERR_NONCONTIG", "YOKAN_ERR_READONLY",
    "YOKAN_ERR_MIGRATED", "YOKAN_ERR_MID_NOT_LISTENING", "YOKAN_STOP_ITERATION",
    "YOKAN_ERR_OTHER",
)

# The enum numbers its values from 0 in this order.
globals().update({name: value for value, name in enumerate(_CODE_NAMES)})


class Exception(builtins.RuntimeError):
    """A Yokan error: ``Exception(message, code)``; ``code`` is the
    ``yk_return_t`` (an int, one of this module's ``YOKAN_*``)."""

    def __init__(self, message, code):
        super().__init__(message)
        self._code = code

    @property
    def code(self):
        return self._code


def code_name(code):
    """The C name of a return code ("YOKAN_ERR_KEY_NOT_FOUND"), or its
    number as a string if it is not one."""
    if isinstance(code, int) and 0 <= code < len(_CODE_NAMES):
        return _CODE_NAMES[code]
    return str(code)


def message(code):
    """The message of a return code, as libmochi's ``yk_return_message``
    gives it (upstream's texts); "" for an unknown code."""
    from .. import _lib
    if not isinstance(code, int) or not 0 <= code < 2 ** 31 or not _lib.has("yk_return_message"):
        return ""
    text = _lib.lib.yk_return_message(code)
    return text.decode("utf-8", "replace") if text else ""


def from_code(code):
    """The :class:`Exception` of a (non-zero) return code."""
    return Exception(message(code) or f"Yokan error {code}", code)


__all__ = ["Exception"] + list(_CODE_NAMES)
