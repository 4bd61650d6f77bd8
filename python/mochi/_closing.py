"""The one closing protocol of the bindings' handle classes."""


class Closing:
    """For objects that own a library handle and free it with one method
    (``close``, ``release``, ``destroy`` or ``finalize``, named by
    ``_close_method``): ``with obj:`` frees it on exit, and garbage
    collection frees it too. Errors while collecting are swallowed (the
    interpreter may be shutting down, or ``__init__`` may have failed
    half-way); the closing method itself must be safe to call twice."""

    _close_method = "close"

    def _close_now(self):
        getattr(self, self._close_method)()

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
