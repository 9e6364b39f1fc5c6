"""Shared test set-up: quiet TensorFlow, and a logger that does not write into the repo."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import logging  # noqa: E402

import pytest  # noqa: E402


class _Records(logging.Handler):
    """Keeps the messages of every record it sees."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def logs():
    """The messages the ``tensorpack`` logger emits during the test, as a list of str
    (a test module may define its own ``logs`` fixture instead)."""
    log = logging.getLogger("tensorpack")
    handler = _Records()
    log.addHandler(handler)
    yield handler.messages
    log.removeHandler(handler)
