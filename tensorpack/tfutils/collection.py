"""Save and restore graph collections, e.g. to keep a tower from changing them."""
import contextlib
import copy

from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = ["backup_collection", "restore_collection", "freeze_collection", "CollectionGuard"]


def backup_collection(keys=None):
    """Copy the contents of collections of the default graph.

    Args:
        keys (list[str]): the collections; all of the graph's when None.

    Returns:
        dict: key -> list of items, to pass to :func:`restore_collection`.

    Raises:
        TypeError: if ``keys`` is not a list, tuple or set.
    """
    if keys is None:
        keys = tfv1.get_default_graph().get_all_collection_keys()
    if not isinstance(keys, (list, tuple, set)):
        raise TypeError("backup_collection: keys must be a list of collection names, "
                        "got {!r}.".format(keys))
    return {k: copy.copy(tfv1.get_collection(k)) for k in keys}


def restore_collection(backup):
    """Set collections of the default graph back to a backup.

    Args:
        backup (dict): from :func:`backup_collection`.
    """
    for key, items in backup.items():
        ref = tfv1.get_collection_ref(key)
        ref[:] = items


@contextlib.contextmanager
def freeze_collection(keys):
    """A context at whose end the given collections are restored to what they held at its start.

    Args:
        keys (list[str]): the collections to restore.
    """
    backup = backup_collection(keys)
    yield
    restore_collection(backup)


def _graphkey_names():
    """``{collection key: 'tf.GraphKeys.NAME'}`` for readable logs."""
    names = {}
    for attr in dir(tfv1.GraphKeys):
        if attr.startswith("_") or attr == "VARIABLES":  # VARIABLES warns when read
            continue
        value = getattr(tfv1.GraphKeys, attr)
        if isinstance(value, str):
            names[value] = "tf.GraphKeys." + attr
    return names


class CollectionGuard:
    """A context around building one tower: logs which collections it changed and
    restores the frozen ones at exit."""

    original = None

    def __init__(self, name, check_diff, freeze_keys=(), diff_whitelist=None):
        """
        Args:
            name (str): the tower's name, for logs.
            check_diff (bool): log the collections created or resized inside the context.
            freeze_keys (list[str]): collections restored at exit.
            diff_whitelist (list[str]): collections not reported by ``check_diff``; by
                default the variable collections, queue runners, losses and control-flow
                contexts, which towers normally change.
        """
        self._name = name
        self._check_diff = check_diff
        self._freeze_keys = freeze_keys
        self._whitelist = set(self._default_diff_whitelist() if diff_whitelist is None
                              else diff_whitelist)
        self._key_names = _graphkey_names()
        self._freeze_backup = None

    @staticmethod
    def _default_diff_whitelist():
        keys = [tfv1.GraphKeys.TRAINABLE_VARIABLES, tfv1.GraphKeys.GLOBAL_VARIABLES,
                tfv1.GraphKeys.QUEUE_RUNNERS, tfv1.GraphKeys.LOCAL_VARIABLES]
        for extra in ("COND_CONTEXT", "WHILE_CONTEXT", "LOSSES"):
            if hasattr(tfv1.GraphKeys, extra):
                keys.append(getattr(tfv1.GraphKeys, extra))
        return keys

    def _readable(self, key):
        return self._key_names.get(key, key)

    def __enter__(self):
        self.original = backup_collection()
        self._freeze_backup = backup_collection(self._freeze_keys)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is not None:
            return False
        now = backup_collection()
        if self._check_diff:
            self._log_diff(now)
        self._restore_frozen(now)
        return False

    def _log_diff(self, now):
        created, resized = [], []
        for key, items in now.items():
            if key in self._whitelist or key in self._freeze_keys:
                continue
            if key not in self.original:
                created.append("{} of size {}".format(self._readable(key), len(items)))
            elif len(self.original[key]) != len(items):
                resized.append("({}: {}->{})".format(self._readable(key),
                                                     len(self.original[key]), len(items)))
        if created:
            logger.info("New collections created in tower {}: {}".format(
                self._name, ", ".join(created)))
        if resized:
            logger.info("Size of these collections were changed in {}: {}".format(
                self._name, ", ".join(resized)))

    def _restore_frozen(self, now):
        changed = ["({}: {}->{})".format(self._readable(k), len(v), len(now.get(k, [])))
                   for k, v in self._freeze_backup.items() if len(v) != len(now.get(k, []))]
        if changed:
            logger.info("These collections were modified but restored in {}: {}".format(
                self._name, ", ".join(changed)))
        restore_collection(self._freeze_backup)

    def get_collection_in_tower(self, key):
        """The items of a collection added inside this context, in order.

        Args:
            key (str): the collection.

        Returns:
            list
        """
        before = set(self.original.get(key, []))
        return [x for x in tfv1.get_collection(key) if x not in before]
