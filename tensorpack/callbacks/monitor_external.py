"""Monitors that send training data outside: to a shell command, or to comet.ml."""
import subprocess

from tensorpack.utils import logger

from .monitor import MonitorBase

__all__ = ["SendMonitorData", "CometMLMonitor"]


class SendMonitorData(MonitorBase):
    """Run a shell command with some scalars once all of them have been received (checked
    after every step and every trigger).

    Example, a phone notification through pushbullet::

        SendMonitorData('curl -u your_id: https://api.pushbullet.com/v2/pushes '
                        '-d type=note -d title="validation error" '
                        '-d body={validation_error} > /dev/null 2>&1',
                        'validation_error')
    """

    def __init__(self, command, names):
        """
        Args:
            command (str): a shell command, a ``str.format`` template with the scalar names
                as keys.
            names (str or list[str]): the scalars to wait for.
        """
        self.command = command
        self.names = names if isinstance(names, list) else [names]
        self.dic = {}

    def process_scalar(self, name, val):
        if name in self.names:
            self.dic[name] = val

    def _trigger_step(self):
        self._trigger()

    def _trigger(self):
        if any(n not in self.dic for n in self.names):
            return
        cmd = self.command.format(**{n: self.dic[n] for n in self.names})
        self.dic = {}
        ret = subprocess.call(cmd, shell=True)
        if ret != 0:
            logger.error("Command '{}' failed with ret={}!".format(cmd, ret))


class CometMLMonitor(MonitorBase):
    """Send scalars, images and the graph to https://www.comet.ml.

    Needs the ``comet_ml`` package, imported before TensorFlow (comet.ml's requirement).
    Its automatic output logging is off by default (it makes the progress bar look frozen).
    """

    def __init__(self, experiment=None, tags=None, **kwargs):
        """
        Args:
            experiment (comet_ml.Experiment): an existing experiment; then give no other
                argument.
            tags (list[str]): tags of a new experiment.
            kwargs: arguments of ``comet_ml.Experiment`` (project name, API key, ...).

        Raises:
            ImportError: if ``comet_ml`` is not installed.
            ValueError: if ``experiment`` is given together with other arguments.
        """
        if experiment is not None:
            if tags is not None or kwargs:
                raise ValueError("CometMLMonitor: with experiment=..., give no tags or "
                                 "Experiment arguments.")
            self._exp = experiment
        else:
            try:
                from comet_ml import Experiment
            except ImportError as e:
                raise ImportError("CometMLMonitor needs the comet_ml package: "
                                  "pip install comet_ml") from e
            kwargs.setdefault("log_code", True)
            kwargs.setdefault("auto_output_logging", None)
            self._exp = Experiment(**kwargs)
            if tags is not None:
                self._exp.add_tags(tags)
        from tensorpack.libinfo import __version__
        self._exp.log_dependency("tensorpack", __version__)

    @property
    def experiment(self):
        """comet_ml.Experiment: the experiment data is sent to."""
        return self._exp

    def _before_train(self):
        self._exp.set_model_graph(self.graph)

    def process_scalar(self, name, val):
        self._exp.log_metric(name, val, step=self.global_step)

    def process_image(self, name, val):
        self._exp.set_step(self.global_step)
        for idx, img in enumerate(val):
            suffix = "_{}".format(idx) if len(val) > 1 else ""
            self._exp.log_image(img, image_format="jpeg", image_minmax=(0, 255),
                                name="{}_step{}{}".format(name, self.global_step, suffix))

    def _after_epoch(self):
        self._exp.log_epoch_end(self.epoch_num)

    def _after_train(self):
        self._exp.end()
