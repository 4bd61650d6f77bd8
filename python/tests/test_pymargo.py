"""pymargo (py-mochi-margo's names over mochi.margo) and the engine of a
Bedrock server (server.margo.engine)."""

import pytest

import pymargo
import pymargo.core
from mochi import margo
from mochi.bedrock.server import Server


def test_names_are_mochi_margo_objects():
    assert pymargo.core.Engine is margo.Engine is pymargo.Engine is pymargo.MargoInstance
    assert pymargo.core.Address is margo.Address is pymargo.Address is pymargo.MargoAddress
    assert pymargo.core.MargoException is margo.MargoException is pymargo.MargoException
    assert (pymargo.server, pymargo.client) == (margo.SERVER, margo.CLIENT) == (1, 0)
    assert (pymargo.core.server, pymargo.core.client) == (pymargo.server, pymargo.client)
    assert pymargo.core.DEFAULT_PROVIDER_ID == 65535


def test_flock_documentation_calls():
    # As the Flock documentation's Python examples write it.
    engine = pymargo.core.Engine("na+sm", pymargo.core.server)
    assert str(engine.address).startswith("na+sm://")
    address = engine.lookup(str(engine.address))
    assert isinstance(address, pymargo.core.Address)
    assert address == engine.address and str(engine.addr()) == str(engine.address)
    assert address.get_internal_hg_addr() is address.hg_addr
    engine.finalize()
    assert engine.finalized


def test_engine_modes_and_config_keyword():
    with pymargo.core.Engine("na+sm", mode=pymargo.client) as e:
        assert e.mode == pymargo.client and not e.listening
    config = {"argobots": {"pools": [{"name": "extra_pool"}]}}
    with pymargo.core.Engine("na+sm", pymargo.server, config=config) as e:
        assert "extra_pool" in [p["name"] for p in e.config["argobots"]["pools"]]
    with pytest.raises(TypeError):
        margo.Engine("na+sm", options=config, config=config)


def test_server_margo_engine():
    server = Server("na+sm")
    engine = server.margo.engine
    assert isinstance(engine, margo.Engine) and not engine.owns_mid
    assert engine.address == server.address == server.margo.address
    assert engine.mode == margo.SERVER and engine.listening
    assert engine.mid.value == server.margo.mid.value
    with server.margo.engine as e:      # a borrowed engine: `with` does not finalize it
        assert e.address == server.address
    del engine
    import gc
    gc.collect()
    assert server.margo.engine.address == server.address
    # An explicit finalize stops the server's engine, as a remote shutdown would.
    server.margo.engine.finalize()
    server.wait_for_finalize()
    assert server.finalized
    server.finalize()
    with pytest.raises(TypeError):
        margo.Engine.from_margo_instance_id(None)


class _Recorder(pymargo.logging.Logger):
    """Keeps the last message of each level."""

    def __init__(self):
        self.seen = {}

    def trace(self, msg):
        self.seen["trace"] = msg

    def debug(self, msg):
        self.seen["debug"] = msg

    def info(self, msg):
        self.seen["info"] = msg

    def warning(self, msg):
        self.seen["warning"] = msg

    def error(self, msg):
        self.seen["error"] = msg

    def critical(self, msg):
        self.seen["critical"] = msg


def test_logging_levels_and_loggers():
    import pymargo.logging as log
    assert [int(l) for l in (log.level.trace, log.level.info, log.level.critical)] == [1, 3, 6]
    rec = _Recorder()
    with pymargo.core.Engine("na+sm", pymargo.core.server) as engine:
        engine.logger.set_logger(rec)
        try:
            engine.logger.set_log_level(log.level.trace)
            for name in ("trace", "debug", "info", "warning", "error", "critical"):
                getattr(engine.logger, name)(f"{name} message")
            assert rec.seen == {n: f"{n} message" for n in rec.seen} and len(rec.seen) == 6
            engine.logger.set_log_level(log.level.error)
            engine.logger.info("dropped")
            assert rec.seen["info"] == "info message"
            log.critical("through the module", engine)
            assert rec.seen["critical"] == "through the module"
        finally:
            engine.logger.set_logger(None)
            log.set_global_log_level(log.level.warning)
    with pytest.raises(TypeError):
        log.set_global_logger(object())


def test_a_logger_that_raises_does_not_break_margo(capsys):
    import pymargo.logging as log

    class Broken(_Recorder):
        def warning(self, msg):
            raise ValueError("broken logger")

    log.set_global_logger(Broken())
    try:
        log.warning("to a broken logger")
    finally:
        log.set_global_logger(None)
    assert "broken logger" in capsys.readouterr().err
