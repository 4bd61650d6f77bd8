"""Flock (group membership) bindings: :mod:`mochi.flock.view`,
:mod:`mochi.flock.client`, :mod:`mochi.flock.server`; errors are
:class:`mochi.flock.common.FlockException`."""

from .common import FlockException, UpdateType, ReturnCode  # noqa: F401
