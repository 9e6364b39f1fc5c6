"""Sessions of a between-graph replicated cluster (``tf.compat.v1.train.Server``)."""
from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = ["get_distributed_session_creator"]


def get_distributed_session_creator(server, config=None, timeout=None):
    """A session creator for one task of a cluster: the chief (worker 0) initializes the
    variables; other workers wait until it did, then initialize only their local variables.

    Args:
        server (tf.compat.v1.train.Server): this process's server.
        config (tf.compat.v1.ConfigProto): the session config (e.g. with
            ``operation_timeout_in_ms`` and ``device_filters``).
        timeout (float): how long, in seconds, a non-chief worker waits for the chief's
            initialization before raising; None waits forever.

    Returns:
        tf.compat.v1.train.SessionCreator
    """
    server_def = server.server_def
    is_chief = server_def.job_name == "worker" and server_def.task_index == 0
    init_op = tfv1.global_variables_initializer()
    local_init_op = tfv1.group(tfv1.local_variables_initializer(), tfv1.tables_initializer())
    manager = tfv1.train.SessionManager(
        local_init_op=local_init_op,
        ready_op=tfv1.report_uninitialized_variables(),
        ready_for_local_init_op=tfv1.report_uninitialized_variables(tfv1.global_variables()),
        graph=tfv1.get_default_graph(), recovery_wait_secs=1)

    class _DistributedSessionCreator(tfv1.train.SessionCreator):
        def create_session(self):
            if is_chief:
                return manager.prepare_session(master=server.target, init_op=init_op,
                                               config=config)
            logger.info("Waiting for the chief to initialize the variables ...")
            return manager.wait_for_session(master=server.target, config=config,
                                            max_wait_secs=timeout if timeout else float("inf"))

    return _DistributedSessionCreator()
