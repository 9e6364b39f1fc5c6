"""Small helpers upstream scripts import from ``tensorpack.utils`` (no TensorFlow)."""
import contextlib
import inspect
import os
import sys
import time

import numpy as np

__all__ = ["change_env", "humanize_time_delta", "fix_rng_seed", "get_rng", "execute_only_once",
           "get_tqdm_kwargs", "get_tqdm"]

_RNG_SEED = None


def humanize_time_delta(sec):
    """A duration in words: ``humanize_time_delta(3725)`` is ``"1 hour 2 minutes 5 seconds"``.

    Args:
        sec (float): seconds.

    Returns:
        str
    """
    if sec < 0:
        return "-" + humanize_time_delta(-sec)
    if sec < 60:
        return "{:.3g} second{}".format(sec, "" if sec == 1 else "s")
    parts = []
    rest = int(round(sec))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, rest = divmod(rest, size)
        if n:
            parts.append("{} {}{}".format(n, unit, "" if n == 1 else "s"))
    return " ".join(parts)


@contextlib.contextmanager
def change_env(name, val):
    """Set an environment variable inside a ``with`` block (None unsets it), then restore it."""
    old = os.environ.get(name)
    if val is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = val
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def fix_rng_seed(seed):
    """Make every later :func:`get_rng` deterministic (it does not seed TensorFlow).

    Args:
        seed (int): the seed.
    """
    global _RNG_SEED
    _RNG_SEED = int(seed)


def get_rng(obj=None):
    """A NumPy RandomState seeded from the object, the process id and the clock.

    Different processes (e.g. forked workers) get different streams, unless
    :func:`fix_rng_seed` was called, in which case the seed is fixed.

    Args:
        obj: any object; its id is mixed into the seed.

    Returns:
        np.random.RandomState
    """
    if _RNG_SEED is not None:
        return np.random.RandomState(_RNG_SEED)
    seed = (id(obj) + os.getpid() + time.time_ns() // 1000) % 4294967295
    return np.random.RandomState(seed)


_EXECUTED = set()


def execute_only_once():
    """True the first time the calling line runs, False afterwards.

    Example::

        if execute_only_once():
            logger.warn("printed once")
    """
    frame = inspect.currentframe().f_back
    key = (frame.f_code.co_filename, frame.f_lineno)
    if key in _EXECUTED:
        return False
    _EXECUTED.add(key)
    return True


def get_tqdm_kwargs(**kwargs):
    """tqdm options giving every tensorpack bar the same look.

    ``TENSORPACK_PROGRESS_REFRESH`` (seconds) overrides the refresh interval; without a
    terminal the bar refreshes rarely, and appears only once a loop has run that long, so
    that log files stay readable.

    Args:
        kwargs: extra tqdm options, taking precedence.

    Returns:
        dict
    """
    opts = dict(smoothing=0.5, dynamic_ncols=True, ascii=True,
                bar_format="{l_bar}{bar}|{n_fmt}/{total_fmt}[{elapsed}<{remaining},"
                           "{rate_noinv_fmt}]")
    env = os.environ.get("TENSORPACK_PROGRESS_REFRESH")
    if env is not None:
        opts["mininterval"] = float(env)
    else:
        out = kwargs.get("file", sys.stderr)
        interactive = getattr(out, "isatty", lambda: False)()
        if not interactive and "ipykernel" in sys.modules:  # a notebook is interactive too
            interactive = type(out).__module__.startswith("ipykernel")
        opts["mininterval"] = 0.5 if interactive else 180
        if not interactive:
            # A log file gets no bar for short loops (the trainer logs one line per epoch
            # anyway) and a progress line every few minutes in long ones.
            opts["delay"] = opts["mininterval"]
    opts.update(kwargs)
    return opts


def get_tqdm(*args, **kwargs):
    """A ``tqdm`` progress bar with :func:`get_tqdm_kwargs`'s look."""
    import tqdm
    return tqdm.tqdm(*args, **get_tqdm_kwargs(**kwargs))
