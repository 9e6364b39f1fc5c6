"""Session creators: how trainers and predictors get their ``tf.compat.v1.Session``."""
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_default_sess_config
from tensorpack.utils import logger

__all__ = ["NewSessionCreator", "ReuseSessionCreator", "SessionCreatorAdapter"]


class NewSessionCreator(tfv1.train.SessionCreator):
    """Create a new session and run the global, local and table initializers.

    The graph is not finalized here; the trainer does that after the session init.
    """

    def __init__(self, target="", config=None):
        """
        Args:
            target (str): the session target, as for ``tf.compat.v1.Session``.
            config (tf.compat.v1.ConfigProto): defaults to
                :func:`tensorpack.tfutils.common.get_default_sess_config`.
        """
        self.target = target
        self.user_provided_config = config is not None
        if config is None:
            config = get_default_sess_config()
        else:
            logger.info("Using a user-provided session config; GPU options only take effect if "
                        "no session was created earlier in this process.")
        self.config = config

    def create_session(self):
        """Returns: tf.compat.v1.Session: a new session with all variables initialized."""
        sess = tfv1.Session(target=self.target, config=self.config)
        sess.run([tfv1.global_variables_initializer(), tfv1.local_variables_initializer(),
                  tfv1.tables_initializer()])
        return sess


class ReuseSessionCreator(tfv1.train.SessionCreator):
    """Return an existing session as it is."""

    def __init__(self, sess):
        """
        Args:
            sess (tf.compat.v1.Session): the session to hand out.
        """
        self.sess = sess

    def create_session(self):
        return self.sess


class SessionCreatorAdapter(tfv1.train.SessionCreator):
    """Apply a function to the session another creator makes (e.g. to wrap it for debugging)."""

    def __init__(self, session_creator, func):
        """
        Args:
            session_creator (tf.compat.v1.train.SessionCreator): the inner creator.
            func (callable): session -> session.
        """
        self._creator = session_creator
        self._func = func

    def create_session(self):
        return self._func(self._creator.create_session())
