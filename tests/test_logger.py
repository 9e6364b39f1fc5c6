"""The logger directory: upstream's actions, and never a prompt without a terminal."""
import io
import os

import pytest

from tensorpack.utils import logger


@pytest.fixture
def restore_logger():
    old = logger.LOG_DIR
    yield
    if logger._FILE_HANDLER is not None:
        logger._logger.removeHandler(logger._FILE_HANDLER)
        logger._FILE_HANDLER.close()
        logger._FILE_HANDLER = None
    logger.LOG_DIR = old


def _nonempty_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "model-1.index").write_text("keep me")
    return str(d)


def test_new_dir_gets_log_file(tmp_path, restore_logger):
    d = str(tmp_path / "a" / "b")
    logger.set_logger_dir(d)
    logger.info("hello from the test")
    assert logger.get_logger_dir() == os.path.normpath(d)
    logger._FILE_HANDLER.flush()
    assert "hello from the test" in open(os.path.join(d, "log.log")).read()


def test_existing_dir_without_terminal_raises(tmp_path, restore_logger, monkeypatch):
    d = _nonempty_dir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(RuntimeError, match="already exists.*action="):
        logger.set_logger_dir(d)
    assert os.path.exists(os.path.join(d, "model-1.index"))


def test_keep_backs_up_old_log(tmp_path, restore_logger):
    d = _nonempty_dir(tmp_path)
    with open(os.path.join(d, "log.log"), "w") as f:
        f.write("old run")
    logger.set_logger_dir(d, action="k")
    names = os.listdir(d)
    assert "model-1.index" in names
    backups = [n for n in names if n.startswith("log.log.")]
    assert len(backups) == 1 and open(os.path.join(d, backups[0])).read() == "old run"


def test_delete_backup_new_actions(tmp_path, restore_logger):
    d = _nonempty_dir(tmp_path)
    logger.set_logger_dir(d, action="b")
    siblings = [n for n in os.listdir(tmp_path) if n.startswith("run") and n != "run"]
    assert len(siblings) == 1  # the backup holds the old files
    assert os.path.exists(tmp_path / siblings[0] / "model-1.index")
    assert os.listdir(d) == ["log.log"]

    (tmp_path / "x").mkdir()
    d2 = _nonempty_dir(tmp_path / "x")
    logger.set_logger_dir(d2, action="n")
    assert logger.get_logger_dir() != d2 and logger.get_logger_dir().startswith(d2)
    assert os.path.exists(os.path.join(d2, "model-1.index"))

    logger.set_logger_dir(d2, action="d")
    assert os.listdir(d2) == ["log.log"]


def test_unknown_action_is_a_clear_error(tmp_path, restore_logger):
    with pytest.raises(ValueError, match="Unknown action 'z'"):
        logger.set_logger_dir(str(tmp_path / "r"), action="z")


_PROMPT_SCRIPT = """
import os, sys
from tensorpack.utils import logger
logger.set_logger_dir(sys.argv[1])
print('DIR=' + logger.get_logger_dir())
print('KEPT=' + str(os.path.exists(os.path.join(sys.argv[1], 'model-1.index'))))
"""


def _run_prompt(d, stdin):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", _PROMPT_SCRIPT, d], stdin=stdin,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=root))


@pytest.mark.parametrize("answer,kept", [(b"k\n", True), (b"junk\nd\n", False)])
def test_answer_piped_to_stdin(tmp_path, answer, kept):
    import subprocess
    d = _nonempty_dir(tmp_path)
    proc_in = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        proc_in.stdin.write(answer)
        proc_in.stdin.close()
        res = _run_prompt(d, proc_in.stdout)   # stdin is a pipe, as `echo k | python ...`
    finally:
        proc_in.wait(10)
    assert res.returncode == 0, res.stderr
    assert "KEPT={}".format(kept) in res.stdout


@pytest.mark.parametrize("stdin", ["devnull", "closed", "empty_pipe"])
def test_no_answer_on_stdin_is_the_clear_error(tmp_path, stdin):
    import subprocess
    d = _nonempty_dir(tmp_path)
    if stdin == "devnull":
        res = _run_prompt(d, subprocess.DEVNULL)
    elif stdin == "empty_pipe":
        res = _run_prompt(d, subprocess.PIPE)  # closed at once by subprocess.run (no input)
    else:
        import sys
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        res = subprocess.run(["/bin/sh", "-c", '"$0" -c "$1" "$2" <&-', sys.executable,
                              _PROMPT_SCRIPT, d], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH=root))
    assert res.returncode != 0
    assert "already exists" in res.stderr and "action=" in res.stderr, res.stderr
    assert os.path.exists(os.path.join(d, "model-1.index"))
