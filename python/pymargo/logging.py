"""``pymargo.logging``: margo's log levels and loggers, as py-mochi-margo
names them.

``level`` (``external``, ``trace``, ``debug``, ``info``, ``warning``,
``error``, ``critical``); ``Logger``, the abstract class of a Python
logger (one method per level, each taking the message); module functions
``set_global_logger(logger)`` / ``set_global_log_level(level)`` for every
engine, and ``trace(msg, engine=None)`` … ``critical(msg, engine=None)`` to
log through margo. Per engine: ``engine.logger`` (see
:class:`mochi.margo.EngineLogger`).

libmochi's loggers are process-wide: ``engine.logger.set_logger`` installs
the logger for every engine, as ``set_global_logger`` does. A logger's
methods run on whichever thread logs (with the GIL taken); an exception
leaving one is printed and dropped.
"""

from abc import ABC, abstractmethod

from mochi.margo import LogLevel as level
from mochi.margo import log_message as _log_message
from mochi.margo import set_global_log_level, set_global_logger

__all__ = ["level", "Logger", "set_global_logger", "set_global_log_level",
           "trace", "debug", "info", "warning", "error", "critical"]


class Logger(ABC):
    """A logger margo calls back, one method per level."""

    @abstractmethod
    def trace(self, msg):
        pass

    @abstractmethod
    def debug(self, msg):
        pass

    @abstractmethod
    def info(self, msg):
        pass

    @abstractmethod
    def warning(self, msg):
        pass

    @abstractmethod
    def error(self, msg):
        pass

    @abstractmethod
    def critical(self, msg):
        pass


def trace(msg, engine=None):
    _log_message(engine, level.trace, msg)


def debug(msg, engine=None):
    _log_message(engine, level.debug, msg)


def info(msg, engine=None):
    _log_message(engine, level.info, msg)


def warning(msg, engine=None):
    _log_message(engine, level.warning, msg)


def error(msg, engine=None):
    _log_message(engine, level.error, msg)


def critical(msg, engine=None):
    _log_message(engine, level.critical, msg)
