"""Fixtures for the layer tests: a fresh default graph, and a session on it."""
import pytest


@pytest.fixture
def graph():
    from tensorpack.compat import tfv1
    g = tfv1.Graph()
    with g.as_default():
        yield g
