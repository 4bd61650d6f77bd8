"""The one closing protocol of the bindings' handle classes."""

import atexit
import ctypes
import weakref


class Closing:
    """For objects that own a library handle and free it with one method
    (``close``, ``release``, ``destroy`` or ``finalize``, named by
    ``_close_method``): ``with obj:`` frees it on exit, and garbage
    collection frees it too. Errors while collecting are swallowed (the
    interpreter may be shutting down, or ``__init__`` may have failed
    half-way); the closing method itself must be safe to call twice.

    Helpers for the closing methods: :meth:`_take_handle` (take the handle
    once, under the object's lock) and :meth:`_close_at_exit` (close what
    is still open when the interpreter exits)."""

    _close_method = "close"
    #: Objects closed at exit go in ascending rank (servers before the
    #: engines a program made beside them).
    _exit_rank = 1

    def _close_now(self):
        getattr(self, self._close_method)()

    def _take_handle(self, attr="_handle", lock="_lock"):
        """Replaces the handle in ``attr`` by a null one under the lock in
        ``lock`` and returns it: the caller frees it if it is not null.
        Taking it twice gives a null handle the second time, which makes
        the closing method idempotent and safe from two threads."""
        with getattr(self, lock):
            handle = getattr(self, attr, None)
            setattr(self, attr, ctypes.c_void_p())
        return handle

    def _close_at_exit(self):
        """Closes this object at interpreter exit if it is still open then
        (it is not kept alive for that)."""
        _open_at_exit.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close_now()
        return False

    def __del__(self):
        try:
            self._close_now()
        except Exception:
            pass


_open_at_exit = weakref.WeakSet()


@atexit.register
def _close_remaining():
    for obj in sorted(list(_open_at_exit), key=lambda o: o._exit_rank):
        try:
            getattr(obj, obj._close_method)()
        except Exception:
            pass
