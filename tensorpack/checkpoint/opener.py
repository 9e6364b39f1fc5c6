"""What to read values from, and who owns the open file: the first stage of a restore.

A :class:`SourceOpener` is made from whatever a user passes (a path in any form, a dict, a
:class:`~tensorpack.checkpoint.source.CheckpointSource`) and the reading options. Making it
checks everything that can be checked without a graph: the file exists, is of a known kind,
its index or header is readable, it holds no object arrays. So ``SmartInit('x.npz')`` fails
where it is written, naming the file, not later when a session starts.

Ownership is decided once, here: a file the opener opened is closed at the end of each
:meth:`SourceOpener.open` block (the handle opened by the check is kept for the first
block, so listing 10,000 tensors happens once); a dict or source the caller passed in is
borrowed, and never closed.
"""
import contextlib
import os
from collections.abc import Iterator, Mapping

from numpy.typing import ArrayLike

from tensorpack.checkpoint.source import CheckpointSource, TensorInfo

__all__ = ["SourceOpener"]


class SourceOpener:
    """What to open, with which options.

    Args:
        target: a path (str / PathLike, ``~`` expanded) to a TF checkpoint in any form, an
            ``.npz`` / ``.npy`` / ``.safetensors`` file; a dict of arrays; or an open
            :class:`CheckpointSource` (borrowed: never closed here).
        allow_pickle (bool): allow a legacy pickled ``.npy`` dict (trusted files only).

    Raises:
        FileNotFoundError: nothing at the path (the message says what was tried).
        ValueError: a file of an unsupported kind, a corrupt index or header, an object
            array, or a ``.npy`` dict without ``allow_pickle``.
        TypeError: ``target`` is none of the above.
    """

    def __init__(self, target: "str | os.PathLike | Mapping[str, ArrayLike] | CheckpointSource",
                 *, allow_pickle: bool = False):
        from tensorpack.checkpoint.formats import open_source
        if isinstance(target, (str, os.PathLike)):
            target = os.path.expanduser(os.fspath(target))
        elif not isinstance(target, (Mapping, CheckpointSource)):
            raise TypeError("Cannot read variable values from a {} ({!r}): pass a path, a "
                            "dict of arrays or a CheckpointSource.".format(
                                type(target).__name__, target))
        self.allow_pickle = allow_pickle
        source = open_source(target, allow_pickle=allow_pickle)
        self._owned = not isinstance(target, CheckpointSource)
        try:
            self._infos = source.infos()  # what can be known now fails now
        except BaseException:
            if self._owned:
                source.close()
            raise
        self._path = source.path
        self._kind = type(source).__name__
        # Object-based TF checkpoints list short names for longer stored keys.
        stored = getattr(source, "raw_key", None) if self.is_tf_checkpoint else None
        self._stored_keys = {} if stored is None else {
            n: k for n, k in ((n, stored(n)) for n in self._infos) if k != n}
        # A path is reopened from where it resolved to (a directory resolves to its latest
        # checkpoint once: later opens read the same files the plan was made from).
        self._reopen_from = source.path if isinstance(target, (str, os.PathLike)) else None
        self._pending = source  # the handle the check opened, for the first open()

    @property
    def path(self) -> str | None:
        """The resolved file (a TF checkpoint's prefix), or None for an in-memory dict."""
        return self._path

    @property
    def kind(self) -> str:
        """The source class that reads it, e.g. ``"TFCheckpointSource"``, ``"NpzSource"``."""
        return self._kind

    @property
    def is_tf_checkpoint(self) -> bool:
        """Whether the values come from a TF checkpoint (TensorFlow can read it itself)."""
        return self._kind == "TFCheckpointSource"

    @property
    def owned(self) -> bool:
        """Whether the opener opened the source itself (and so closes it)."""
        return self._owned

    def stored_key(self, name: str) -> str:
        """The key as stored in the file for a listed name (they differ only for the
        object-based checkpoints of ``tf.train.Checkpoint``)."""
        return self._stored_keys.get(name, name)

    def describe(self) -> str:
        """How to name the source in messages: its quoted path, or ``"a dict"``."""
        return "'{}'".format(self._path) if self._path else "a dict"

    def infos(self) -> dict[str, TensorInfo]:
        """The listing made when the opener was made: name -> TensorInfo, sorted."""
        return self._infos

    @contextlib.contextmanager
    def open(self) -> Iterator[CheckpointSource]:
        """Open the source for one restore; an owned source is closed when the block ends.

        Yields:
            CheckpointSource
        """
        source = self._take()
        try:
            yield source
        finally:
            if self._owned:
                source.close()

    def _take(self):
        if self._pending is not None:
            source, self._pending = self._pending, None
            if not self._owned or self._reopen_from is None:
                self._pending = source  # borrowed (or in memory): the same object every time
            return source
        from tensorpack.checkpoint.formats import open_source
        source = open_source(self._reopen_from, allow_pickle=self.allow_pickle)
        self._infos = source.infos()
        return source

    def close(self) -> None:
        """Close the handle kept from the check, if it was never used. Safe to repeat."""
        if self._pending is not None and self._owned and self._reopen_from is not None:
            self._pending.close()
            self._pending = None

    def __repr__(self):
        return "SourceOpener({})".format(self.describe())
