"""Fixtures for the trainer / dataflow / predictor tests: a fresh graph and a logger dir."""
import pytest


@pytest.fixture
def fresh_graph():
    from tensorpack.compat import tfv1
    tfv1.reset_default_graph()
    yield
    tfv1.reset_default_graph()


@pytest.fixture
def logdir(tmp_path, fresh_graph):
    """A logger directory in tmp_path, detached again after the test."""
    from tensorpack.utils import logger
    d = tmp_path / "log"
    logger.set_logger_dir(str(d), action="d")
    yield str(d)
    handler = logger._FILE_HANDLER
    if handler is not None:
        logger._logger.removeHandler(handler)
        handler.close()
        logger._FILE_HANDLER = None
    logger.LOG_DIR = None
