"""The ``tensorpack`` logger, and the logger directory where a run keeps its files.

A standard :mod:`logging` logger named ``tensorpack``, with upstream's helpers
(``logger.info``, ``logger.warn``, ...) and its logger-directory API:
:func:`set_logger_dir`, :func:`auto_set_dir`, :func:`get_logger_dir`.
Everything a run writes (checkpoints, metagraph, ``log.log``, ``stats.json``,
TensorBoard events) goes into that directory.
"""
import errno
import logging
import os
import os.path
import shutil
import sys
from datetime import datetime

from termcolor import colored

__all__ = ["set_logger_dir", "auto_set_dir", "get_logger_dir"]

LOG_FILE_NAME = "log.log"
LOG_DIR = None
_FILE_HANDLER = None

_ACTIONS = {
    "k": "keep: reuse the directory, keep its files",
    "d": "delete: remove the directory first",
    "b": "backup: rename the directory to a timestamped name, then start fresh",
    "n": "new: use a new timestamped directory next to it",
    "q": "quit",
}


class _Formatter(logging.Formatter):
    """Upstream's look: a green timestamp and location, a coloured level tag."""

    def __init__(self, color):
        super().__init__(datefmt="%m%d %H:%M:%S")
        self._color = color

    def format(self, record):
        date = "[%(asctime)s @%(filename)s:%(lineno)d]"
        if self._color:
            date = colored(date, "green")
        tags = {logging.WARNING: ("WRN", "red"), logging.ERROR: ("ERR", "red"),
                logging.CRITICAL: ("ERR", "red"), logging.DEBUG: ("DBG", "yellow")}
        if record.levelno in tags:
            tag, color = tags[record.levelno]
            if self._color:
                tag = colored(tag, color, attrs=["blink", "underline"]
                              if record.levelno >= logging.ERROR else None)
            fmt = date + " " + tag + " %(message)s"
        else:
            fmt = date + " %(message)s"
        self._style._fmt = fmt
        return super().format(record)


def _make_logger():
    log = logging.getLogger("tensorpack")
    log.propagate = False
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_Formatter(color=sys.stdout.isatty()))
        log.addHandler(handler)
    return log


_logger = _make_logger()
_logger.warn = _logger.warning  # upstream code calls logger.warn

# Upstream exposes the logging methods as module functions.
for _name in ["info", "warning", "error", "critical", "exception", "debug", "setLevel",
              "addFilter", "log"]:
    globals()[_name] = getattr(_logger, _name)
    __all__.append(_name)
warn = _logger.warning
__all__.append("warn")


def get_time_str():
    """Returns the current time as a string usable in file names."""
    return datetime.now().strftime("%m%d-%H%M%S")


def _set_file(path):
    global _FILE_HANDLER
    if os.path.isfile(path):
        backup = path + "." + get_time_str()
        shutil.move(path, backup)
        _logger.info("Existing log file '%s' backed up to '%s'.", path, backup)
    handler = logging.FileHandler(path, encoding="utf-8", mode="w")
    handler.setFormatter(_Formatter(color=False))
    if _FILE_HANDLER is not None:
        _logger.removeHandler(_FILE_HANDLER)
        _FILE_HANDLER.close()
    _FILE_HANDLER = handler
    _logger.addHandler(handler)
    _logger.info("Argv: %s", " ".join(sys.argv))


def _no_answer_error(dirname, why):
    return RuntimeError(
        "Log directory '{}' already exists and no action was given, and {}. Pass action= to "
        "set_logger_dir / auto_set_dir, or pipe the answer (e.g. `echo k | python train.py`), "
        "one of: {}.".format(dirname, why,
                             "; ".join("'{}' ({})".format(k, v) for k, v in _ACTIONS.items())))


def _read_piped_answer():
    """The first valid action among the lines of a non-terminal stdin; None at its end or if
    it cannot be read (closed, /dev/null, or captured)."""
    try:
        for line in sys.stdin:
            answer = line.strip().lower()
            if answer in _ACTIONS:
                return answer
            _logger.warning("Ignoring %r read from stdin: not one of %s.", line.strip(),
                            sorted(_ACTIONS))
    except (OSError, ValueError):  # closed or unreadable stdin
        return None
    return None


def _ask_action(dirname):
    if sys.stdin is None:
        raise _no_answer_error(dirname, "there is no stdin to read an answer from")
    try:
        interactive = sys.stdin.isatty()
    except (OSError, ValueError):  # a closed stdin
        raise _no_answer_error(dirname, "stdin is closed") from None
    _logger.warning("Log directory %s exists! Use 'd' to delete it.", dirname)
    _logger.warning("If you're resuming from a previous run, you can choose to keep it.\n"
                    "Press any other key to exit.")
    if not interactive:  # as upstream, an answer piped to stdin works: echo k | python train.py
        answer = _read_piped_answer()
        if answer is None:
            raise _no_answer_error(dirname, "no answer could be read from stdin (not a "
                                            "terminal)")
        _logger.info("Read the action '%s' from stdin.", answer)
        return answer
    while True:
        try:
            answer = input("Select Action: k (keep) / d (delete) / b (backup) / n (new) / "
                           "q (quit):")
        except EOFError:
            raise _no_answer_error(dirname, "stdin was closed before an answer") from None
        answer = answer.lower().strip()
        if answer in _ACTIONS:
            return answer


def set_logger_dir(dirname, action=None):
    """Set the directory where a run keeps its log file, checkpoints and other outputs.

    Args:
        dirname (str): the directory; created if needed.
        action (str): what to do if ``dirname`` already exists and is not empty:
            ``"k"`` keep it, ``"d"`` delete it, ``"b"`` back it up under a timestamped name,
            ``"n"`` use a new timestamped directory instead, ``"q"`` quit.
            When None, ask on the terminal, or read the answer from stdin when it is a pipe
            or file (``echo k | python train.py``); with no answer to read, raise.

    Raises:
        ValueError: for an unknown action.
        RuntimeError: if the directory exists, no action is given and no answer can be read
            from stdin (none, closed, empty or ``/dev/null``).
        OSError: if the directory cannot be created.
    """
    global LOG_DIR
    dirname = os.path.normpath(dirname)
    if action is not None and action not in _ACTIONS:
        raise ValueError("Unknown action {!r} for set_logger_dir('{}'); use one of {}.".format(
            action, dirname, sorted(_ACTIONS)))
    if _FILE_HANDLER is not None:
        _logger.removeHandler(_FILE_HANDLER)
    if os.path.isdir(dirname) and os.listdir(dirname):
        if action is None:
            action = _ask_action(dirname)
        if action == "b":
            backup = dirname + get_time_str()
            shutil.move(dirname, backup)
            _logger.info("Directory '%s' backed up to '%s'", dirname, backup)
        elif action == "d":
            shutil.rmtree(dirname, ignore_errors=True)
            if os.path.isdir(dirname):
                shutil.rmtree(dirname)  # let the error say why
        elif action == "n":
            dirname = dirname + get_time_str()
            _logger.info("Use a new log directory %s", dirname)
        elif action == "k":
            pass
        else:
            raise OSError("Directory {} exists! Choose another directory or action.".format(
                dirname))
    LOG_DIR = dirname
    try:
        os.makedirs(dirname)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise
    _set_file(os.path.join(dirname, LOG_FILE_NAME))


def auto_set_dir(action=None, name=None):
    """Use ``train_log/<script name>[:name]`` as the logger directory.

    Args:
        action (str): see :func:`set_logger_dir`.
        name (str): an optional suffix for the directory name.
    """
    main = sys.modules["__main__"]
    basename = os.path.basename(getattr(main, "__file__", "interactive") or "interactive")
    auto_dirname = os.path.join("train_log", basename[:basename.rfind(".")]
                                if "." in basename else basename)
    if name:
        auto_dirname += "_%s" % name if os.name == "nt" else ":%s" % name
    set_logger_dir(auto_dirname, action=action)


def get_logger_dir():
    """Returns:
        str or None: the logger directory set by :func:`set_logger_dir`, or None if unset.
    """
    return LOG_DIR
