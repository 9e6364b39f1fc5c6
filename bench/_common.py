"""Helpers shared by the benchmark scripts: run a command or a Python snippet in its own
process (any interpreter / virtualenv) and measure its wall time and peak memory.

Peak memory is the child's maximum resident set size as the kernel reports it when the
child is reaped (``os.wait4``), i.e. exactly what ``/usr/bin/time -v`` prints as "Maximum
resident set size", for that one process.
"""
import json
import os
import subprocess
import sys
import threading
import time
from typing import NamedTuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(REPO, "bench", "_work")      # gitignored; benches may reuse data here
# Upstream tensorpack 0.11 imports as ``tensorpack`` too, so it lives in a virtualenv of its
# own, made by the first bench that needs it (or point TENSORPACK_UPSTREAM_PYTHON at one).
UPSTREAM_VENV = os.path.join(WORK, "upstream-venv")
UPSTREAM_PYTHON = os.environ.get("TENSORPACK_UPSTREAM_PYTHON",
                                 os.path.join(UPSTREAM_VENV, "bin", "python"))

__all__ = ["REPO", "WORK", "UPSTREAM_PYTHON", "ensure_upstream", "ProcResult", "run_process", "run_python",
           "best", "median", "ratio", "human_bytes", "work_dir", "quiet_env"]


class ProcResult(NamedTuple):
    """What one process did: ``wall`` seconds, ``peak_rss`` bytes, and its output."""
    wall: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        """The last stdout line that starts with ``RESULT `` parsed as JSON (see run_python)."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
        raise RuntimeError("no RESULT line in the output:\n" + self.stdout[-2000:]
                           + self.stderr[-2000:])


def quiet_env(extra=None, ours=True):
    """An environment for a child: TensorFlow quiet; with ``ours`` the repository is importable
    (``PYTHONPATH``), without it any PYTHONPATH is removed (for another virtualenv)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    if ours:
        env["PYTHONPATH"] = REPO
    env.update(extra or {})
    return env


def run_process(argv, env=None, cwd=None, check=True, stdout=None):
    """Run a command to completion; measure its wall time and peak RSS.

    Args:
        argv (list[str]): the command.
        env (dict): its environment (default: :func:`quiet_env`).
        cwd (str): its working directory (default: the repository root).
        check (bool): raise ``RuntimeError`` (with its stderr) on a non-zero exit.
        stdout: where its stdout goes; default captured (use ``subprocess.DEVNULL`` for big
            outputs you do not need).

    Returns:
        ProcResult
    """
    capture = stdout is None
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=quiet_env() if env is None else env, cwd=cwd or REPO,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture else stdout,
                            stderr=subprocess.PIPE, text=True)
    # Read both pipes while the child runs (a full pipe would block it), then reap it with
    # wait4 to get its own rusage.
    chunks = {"out": [], "err": []}

    def drain(pipe, key):
        for data in iter(lambda: pipe.read(65536), ""):
            chunks[key].append(data)

    threads = [threading.Thread(target=drain, args=(proc.stderr, "err"))]
    if capture:
        threads.append(threading.Thread(target=drain, args=(proc.stdout, "out")))
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    res = ProcResult(wall, peak, proc.returncode, "".join(chunks["out"]), "".join(chunks["err"]))
    if check and res.returncode != 0:
        raise RuntimeError("command failed ({}): {}\n{}".format(
            res.returncode, " ".join(map(str, argv)), res.stderr[-3000:]))
    return res


def run_python(code, args=(), python=None, ours=True, env=None, **kwargs):
    """Run a Python snippet in a fresh interpreter (by default this one).

    The snippet can report numbers by printing ``RESULT <json>``; read them with
    ``.json()`` on the result.

    Args:
        code (str): the program text.
        args (list): its ``sys.argv[1:]``.
        python (str): the interpreter, e.g. :data:`UPSTREAM_PYTHON` for upstream's venv.
        ours (bool): put this repository on ``PYTHONPATH`` (False for another venv).
        env (dict): extra environment variables.

    Returns:
        ProcResult
    """
    if python == UPSTREAM_PYTHON:
        ensure_upstream()
    return run_process([python or sys.executable, "-c", code, *map(str, args)],
                       env=quiet_env(env, ours=ours), **kwargs)


def ensure_upstream():
    """Create the upstream virtualenv (tensorpack 0.11 + this TensorFlow's version) if missing.

    Returns:
        str: its Python interpreter.
    """
    if os.path.exists(UPSTREAM_PYTHON):
        return UPSTREAM_PYTHON
    if UPSTREAM_PYTHON != os.path.join(UPSTREAM_VENV, "bin", "python"):
        raise FileNotFoundError("TENSORPACK_UPSTREAM_PYTHON={} does not exist.".format(
            UPSTREAM_PYTHON))
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            tf_req = "tensorflow-cpu=={}".format(version("tensorflow-cpu"))
        except PackageNotFoundError:
            tf_req = "tensorflow=={}".format(version("tensorflow"))
    except Exception:  # no TensorFlow here: let pip pick one
        tf_req = "tensorflow-cpu"
    print("Creating upstream's virtualenv in {} (tensorpack==0.11, {}) ...".format(
        UPSTREAM_VENV, tf_req), file=sys.stderr, flush=True)
    os.makedirs(WORK, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", UPSTREAM_VENV], check=True)
    subprocess.run([UPSTREAM_PYTHON, "-m", "pip", "install", "-q", "tensorpack==0.11", tf_req],
                   check=True)
    return UPSTREAM_PYTHON


def best(values):
    return min(values)


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def ratio(ours, theirs):
    """``ours / theirs`` formatted as ``0.12x``."""
    return "{:.2f}x".format(ours / theirs) if theirs else "n/a"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024.0


def work_dir(name):
    """``bench/_work/<name>``, created if needed."""
    path = os.path.join(WORK, name)
    os.makedirs(path, exist_ok=True)
    return path
