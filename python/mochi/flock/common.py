"""Things shared by the Flock modules: the exception, the return codes
(flock-common.h, FLOCK_RETURN_VALUES) and the membership update kinds."""

import enum

__all__ = ["FlockException", "ReturnCode", "UpdateType", "check",
           "MODE_INIT_UPDATE", "MODE_SUBSCRIBE"]

MODE_INIT_UPDATE = 0x1
MODE_SUBSCRIBE = 0x2


class ReturnCode(enum.IntEnum):
    """flock_return_t."""
    SUCCESS = 0
    ERR_ALLOCATION = 1
    ERR_INVALID_ARGS = 2
    ERR_INVALID_PROVIDER = 3
    ERR_INVALID_GROUP = 4
    ERR_INVALID_BACKEND = 5
    ERR_INVALID_CONFIG = 6
    ERR_FROM_MERCURY = 7
    ERR_FROM_ARGOBOTS = 8
    ERR_FROM_MPI = 9
    ERR_OP_UNSUPPORTED = 10
    ERR_OP_FORBIDDEN = 11
    ERR_NO_MEMBER = 12
    ERR_NO_METADATA = 13
    ERR_NOT_A_MEMBER = 14
    ERR_OTHER = 15


# The messages of FLOCK_RETURN_VALUES, "Mercurt" included (it is part of
# the observable interface, as in the C++ flock::Exception::what()).
_MESSAGES = {
    0: "Success",
    1: "Allocation error",
    2: "Invalid argument",
    3: "Invalid provider id",
    4: "Invalid group id",
    5: "Invalid backend type",
    6: "Invalid configuration",
    7: "Mercurt error",
    8: "Argobots error",
    9: "MPI error",
    10: "Unsupported operation",
    11: "Forbidden operation",
    12: "No member at this index",
    13: "Invalid metadata key",
    14: "Process is not member",
    15: "Other error",
}


class UpdateType(enum.IntEnum):
    """flock_update_t: the kind of a membership change."""
    JOINED = 0
    LEFT = 1
    DIED = 2
    MOVED = 3


class FlockException(RuntimeError):
    """A Flock call failed. ``str(e)`` is the message of the code (as the
    C++ ``flock::Exception::what()``), ``e.code`` the flock_return_t value,
    ``e.function`` the C function that returned it (if known)."""

    def __init__(self, code, function=None):
        code = int(code)
        super().__init__(_MESSAGES.get(code, "Unknown error"))
        self.code = code
        self.function = function

    def __repr__(self):
        return f"FlockException(code={self.code}, {str(self)!r}, function={self.function!r})"


def check(rc, function):
    """Raises FlockException unless rc is FLOCK_SUCCESS."""
    if rc != 0:
        raise FlockException(rc, function)


def c_update_callbacks(on_membership, on_metadata):
    """The two ctypes callbacks (membership, metadata) that call
    ``on_membership(update, address, provider_id)`` and
    ``on_metadata(key, value)`` (either may be None) with Python values.
    The caller keeps them alive as long as C may call them."""
    from .. import _lib  # here, not at import time: _lib loads libmochi
    if on_membership is not None and not callable(on_membership):
        raise TypeError("on_membership must be callable or None")
    if on_metadata is not None and not callable(on_metadata):
        raise TypeError("on_metadata must be callable or None")

    def membership(_ctx, update, address, provider_id):
        if on_membership is not None:
            try:
                kind = UpdateType(update)
            except ValueError:
                kind = update
            on_membership(kind, address.decode("utf-8"), provider_id)

    def metadata(_ctx, key, value):
        if on_metadata is not None:
            on_metadata(key.decode("utf-8"), value.decode("utf-8"))

    return _lib.FLOCK_MEMBERSHIP_FN(membership), _lib.FLOCK_METADATA_FN(metadata)
