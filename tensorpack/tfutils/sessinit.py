"""Session initializers: how a session gets its variable values (``session_init=``)."""

__all__ = ["SessionInit", "JustCurrentSession"]


class SessionInit:
    """Base class for utilities to load variables into a (newly created) session.

    A trainer or predictor calls :meth:`_setup_graph` while the graph is still being built
    (so that initializers can add the ops they need) and :meth:`_run_init` once the
    session exists. :meth:`init` does both, for use outside a trainer.
    """

    def init(self, sess):
        """Set up the graph and initialize ``sess`` in one call.

        Args:
            sess (tf.compat.v1.Session): the session to initialize.
        """
        self._setup_graph()
        self._run_init(sess)

    def _setup_graph(self):
        pass

    def _run_init(self, sess):
        pass


class JustCurrentSession(SessionInit):
    """A no-op initializer: the session keeps whatever values it has."""
