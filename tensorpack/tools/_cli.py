"""What the command-line tools share: argument parsing, error reporting, small helpers.

Every tool runs its body through :func:`run`, so that all of them fail the same way: a bad
input gives exactly one line on stderr, ``<tool>: error: <file>: <problem>``, and a non-zero
exit status, never a traceback. Ctrl-C exits with status 130. Set the environment variable
``TENSORPACK_DEBUG=1`` to get the full traceback of an unexpected error.
"""
import argparse
import contextlib
import fnmatch
import logging
import os
import re
import sys

__all__ = ["ToolError", "ArgumentParser", "run", "about", "open_input", "add_source_arguments",
           "name_filter", "add_filter_arguments", "INPUT_HELP", "output_format", "normalize_output",
           "check_not_input", "write_tensors", "human_bytes", "format_shape"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ToolError(Exception):
    """A problem with the user's input, reported as ``<tool>: error: <file>: <problem>``.

    Args:
        path (str or None): the file or directory concerned.
        problem (str): what is wrong and, if possible, what to do.
    """

    def __init__(self, path, problem):
        super().__init__(path, problem)
        self.path = None if path is None else os.fspath(path)
        self.problem = problem

    def __str__(self):
        return "{}: {}".format(self.path, self.problem) if self.path else self.problem


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``--help`` still has the usage)."""

    def error(self, message):
        self.exit(EXIT_USAGE, "{}: error: {} (see {} --help)\n".format(
            self.prog, message, self.prog))


def _one_line(text):
    return " ".join(str(text).split())


def _problem(exc):
    """The text describing an exception, on one line."""
    if isinstance(exc, ToolError):
        return _one_line(exc.problem)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return _one_line(exc.args[0])   # str(KeyError) would add quotes
    if isinstance(exc, (ValueError, OSError, KeyError, ImportError, NotImplementedError,
                        RuntimeError, TypeError, EOFError)):
        return _one_line(str(exc) or type(exc).__name__)
    # A bug, or a corrupt file that slipped past the checks: still one line.
    return _one_line("{}: {} (unexpected; rerun with TENSORPACK_DEBUG=1 for the traceback)"
                     .format(type(exc).__name__, exc))


def _strip_path(problem, path):
    """The library's messages usually name the file already; do not say it twice."""
    for form in ("'{}' ".format(path), "'{}': ".format(path), "{}: ".format(path),
                 "{} ".format(path)):
        if problem.startswith(form):
            return problem[len(form):]
    return problem


def _message(exc):
    """``<file>: <problem>`` for an exception (just ``<problem>`` if no file is known)."""
    if isinstance(exc, ToolError):
        path = exc.path
    elif isinstance(exc, OSError) and exc.strerror:
        path = exc.filename
    else:
        path = None
    problem = _problem(exc)
    if path:
        return "{}: {}".format(path, _strip_path(problem, os.fspath(path)))
    return problem


@contextlib.contextmanager
def about(path):
    """Report any error raised inside this block as being about ``path``.

    The exception becomes a :class:`ToolError` (chained to the original, so
    ``TENSORPACK_DEBUG=1`` still shows where it came from). An error that already names
    another file (e.g. a missing data shard of a checkpoint) keeps that file.
    """
    try:
        yield
    except (ToolError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: B902 -- every failure becomes one line
        if isinstance(e, OSError) and e.strerror and e.filename:
            raise ToolError(e.filename, e.strerror) from e
        raise ToolError(path, _strip_path(_problem(e), os.fspath(path))) from e


def _logs_to_stderr():
    """Send the library's log lines to stderr, so stdout carries only the tool's output
    (a table, JSON) and can be piped."""
    for handler in logging.getLogger("tensorpack").handlers:
        if isinstance(handler, logging.StreamHandler) and \
                getattr(handler, "stream", None) is sys.stdout:
            handler.setStream(sys.stderr)


def run(prog, body, argv=None):
    """Run a tool's body with the shared error handling.

    Args:
        prog (str): the tool's name, used as the prefix of error lines.
        body (callable): ``body(argv)``; returns an exit status or None (0).
        argv (list[str] or None): the arguments; None means ``sys.argv[1:]``.

    Returns:
        int: the exit status.
    """
    _logs_to_stderr()
    try:
        status = body(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()
        return 0 if status is None else int(status)
    except KeyboardInterrupt:
        sys.stderr.write("{}: interrupted\n".format(prog))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except SystemExit:
        raise
    except Exception as e:  # noqa: B902 -- every failure becomes one line
        if os.environ.get("TENSORPACK_DEBUG"):
            raise
        sys.stderr.write("{}: error: {}\n".format(prog, _message(e)))
        return EXIT_ERROR


# ----------------------------------------------------------------------------- helpers
def human_bytes(n):
    """``1536`` -> ``"1.5 KiB"``; None (unknown) -> ``"?"``."""
    if n is None:
        return "?"
    if n < 1024:
        return "{} B".format(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024.0
        if n < 1024 or unit == "TiB":
            return "{:.1f} {}".format(n, unit)



def format_shape(shape):
    """``(3, 4)`` -> ``"[3, 4]"``; a scalar is ``"[]"``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def name_filter(globs=(), regexes=()):
    """A predicate on tensor names; a name passes if it matches any pattern given.

    Args:
        globs (list[str]): shell-style patterns matched against the whole name,
            case-sensitively; ``*`` also matches ``/`` (``conv*/W`` matches ``conv1/W``).
        regexes (list[str]): Python regular expressions searched anywhere in the name.

    Returns:
        callable or None: None when no pattern is given (everything passes).

    Raises:
        ToolError: for an invalid regular expression.
    """
    if not globs and not regexes:
        return None
    # fnmatch.translate anchors the pattern at both ends; a regex is searched anywhere.
    tests = [re.compile(fnmatch.translate(g)).match for g in globs]
    for r in regexes:
        try:
            tests.append(re.compile(r).search)
        except re.error as e:
            raise ToolError(None, "invalid regular expression {!r}: {}".format(r, e)) from None
    return lambda name: any(t(name) is not None for t in tests)


def check_not_input(out, fmt, arg, source):
    """Refuse to write ``out`` if that would overwrite any file the input is read from
    (the library's rule: :func:`tensorpack.checkpoint.formats.check_not_input`).

    Raises:
        ToolError: naming the output and the input file it would clobber.
    """
    from tensorpack.checkpoint.formats import check_not_input as check
    with about(out):
        check(out, fmt, source, given=arg)


def output_format(out):
    """'npz', 'safetensors' or 'tf' (a checkpoint prefix) for an output name.

    Raises:
        ToolError: for ``.npy`` (the legacy dict format is read-only) or a directory.
    """
    from tensorpack.checkpoint.formats import output_format as library_format
    with about(out):
        fmt = library_format(out)
    if fmt == "tf" and os.path.isdir(out):
        raise ToolError(out, "is a directory; give a checkpoint prefix such as {}"
                        .format(os.path.join(out, "model")))
    return fmt


def normalize_output(out):
    """Accept ``prefix.index`` / ``prefix.data-*`` for a TF checkpoint output: use the prefix."""
    from tensorpack.checkpoint.paths import split_checkpoint_file
    split = split_checkpoint_file(out)
    return split[0] if split is not None and split[1] in ("index", "data") else out


INPUT_HELP = ("a TF checkpoint (prefix, .index, .data-*, 'checkpoint' file or a directory), "
              "or a .npz / .npy / .safetensors file")


def add_filter_arguments(parser):
    """``--filter GLOB`` / ``--regex REGEX``, read back by :func:`name_filter`."""
    parser.add_argument("--filter", dest="globs", metavar="GLOB", action="append", default=[],
                        help="only names matching this shell pattern, matched against the "
                             "whole name ('*' also matches '/'); repeat for several")
    parser.add_argument("--regex", dest="regexes", metavar="REGEX", action="append",
                        default=[],
                        help="only names in which this Python regular expression is found; "
                             "repeat for several (a name passes if any --filter/--regex "
                             "matches)")


def add_source_arguments(parser, verify=True):
    """The input options every tool takes."""
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow reading a legacy .npy dict, which needs pickle "
                             "(pickle can run code from the file: only for files you trust)")
    if verify:
        parser.add_argument("--no-verify", dest="verify", action="store_false",
                            help="skip the checksums of a TF checkpoint's data (faster, "
                                 "but a corrupt file is not detected)")


def open_input(path, allow_pickle=False, verify=True):
    """Open a tensor source for a tool, turning every failure into a ToolError on ``path``."""
    if path == "":
        raise ToolError(None, "the input path is empty")
    with about(path):
        from tensorpack.checkpoint.formats import open_source
        return open_source(path, allow_pickle=allow_pickle, verify=verify)


def write_tensors(source, out, names=None, arg=None, rename=None):
    """Stream tensors of ``source`` into ``out`` with a progress bar.

    Args:
        source (CheckpointSource): the input.
        out (str): ``.npz``, ``.safetensors`` or a TF checkpoint prefix.
        names (list[str] or None): which tensors (default: all), in this order.
        arg (str): the input as the user gave it, for the overwrite check.
        rename (callable or None): maps a source name to the name written.

    Returns:
        str: the path written (a prefix for a TF checkpoint).

    Raises:
        ToolError: if ``out`` would overwrite the input, or is not a valid output name.
    """
    from tensorpack.checkpoint.formats import save_tensors
    from tensorpack.utils import logger
    from tqdm import tqdm

    given, out = out, normalize_output(out)
    fmt = output_format(out)
    check_not_input(out, fmt, arg or source.path, source)
    if out != given:
        logger.info("Writing the checkpoint with prefix {} (from {}).".format(out, given))
    names = source.keys() if names is None else list(names)
    infos = source.infos()
    total = sum(infos[n].nbytes or 0 for n in names)
    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="writing",
               file=sys.stderr, disable=None, leave=False)

    def stream():
        for name in names:
            with about(arg or source.path):   # a read error is about the input
                array = source.read(name)
            yield (rename(name) if rename else name), array
            bar.update(infos[name].nbytes or 0)

    # The stored shapes/dtypes let .safetensors stream and keep dtypes such as bfloat16.
    out_infos = {}
    for n in names:
        new_name = rename(n) if rename else n
        out_infos[new_name] = infos[n]._replace(name=new_name)
    with bar, about(out):
        written = save_tensors(out, stream(), fmt=fmt, infos=out_infos)
    logger.info("Wrote {} tensors ({}) to {}.".format(
        len(names), human_bytes(total), written))
    return written
