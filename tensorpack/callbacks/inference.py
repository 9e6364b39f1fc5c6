"""Inferencers: what an :class:`InferenceRunner` computes over a validation set."""
import numpy as np

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.utils import logger
from tensorpack.utils.stats import BinaryStatistics

from .base import Callback

__all__ = ["Inferencer", "ScalarStats", "ClassificationError", "BinaryClassificationStats"]


class Inferencer(Callback):
    """Base class of the statistics an :class:`InferenceRunner` computes.

    Per round of inference: ``_before_inference()``, then ``_on_fetches(values)`` for each
    batch with the values of ``_get_fetches()``, then ``_after_inference()`` returns a dict of
    scalars that goes to ``trainer.monitors``.
    """

    def _before_epoch(self):
        self._before_inference()

    def _before_inference(self):
        """Called before a round of inference."""

    def _trigger_epoch(self):
        ret = self._after_inference()
        if not ret:
            return
        for k, v in ret.items():
            try:
                v = float(v)
            except (TypeError, ValueError):
                logger.warn("{} returns a non-scalar statistic '{}'!".format(
                    type(self).__name__, k))
                continue
            self.trainer.monitors.put_scalar(k, v)

    def _after_inference(self):
        """Called after a round; returns a dict ``{name: scalar}`` for the monitors."""
        return None

    def get_fetches(self):
        """Returns: list[str]: the tensor names (``name:0``) this inferencer needs."""
        return [get_op_tensor_name(n)[1] for n in self._get_fetches()]

    def _get_fetches(self):
        raise NotImplementedError("{} must implement _get_fetches().".format(type(self).__name__))

    def on_fetches(self, results):
        """Receive the values of :meth:`get_fetches` for one batch."""
        self._on_fetches(results)

    def _on_fetches(self, results):
        raise NotImplementedError("{} must implement _on_fetches().".format(type(self).__name__))


class ScalarStats(Inferencer):
    """The mean over all batches of some scalar tensors, logged as ``<prefix>_<name>``.

    The mean of per-batch accuracies is not the accuracy of the whole set when batches
    differ in size; use :class:`ClassificationError` for that.
    """

    def __init__(self, names, prefix="validation"):
        """
        Args:
            names (str or list[str]): scalar tensor names.
            prefix (str): prefix of the logged names (none if empty).
        """
        self.names = names if isinstance(names, list) else [names]
        self.prefix = prefix

    def _before_inference(self):
        self.stats = []

    def _get_fetches(self):
        return self.names

    def _on_fetches(self, output):
        self.stats.append(output)

    def _after_inference(self):
        if not self.stats:
            return {}
        means = np.mean(np.asarray(self.stats, dtype=np.float64), axis=0)
        ret = {}
        for value, name in zip(means, self.names):
            opname = get_op_tensor_name(name)[0]
            ret["{}_{}".format(self.prefix, opname) if self.prefix else opname] = value
        return ret


class ClassificationError(Inferencer):
    """The true error rate over the whole set, from a per-sample 0/1 "wrong" vector.

    Counts wrong samples and samples, so batches of different sizes weigh correctly.
    Given a "correct" vector instead, it computes the accuracy.
    """

    def __init__(self, wrong_tensor_name="incorrect_vector", summary_name="validation_error"):
        """
        Args:
            wrong_tensor_name (str): a rank-1 tensor, 1 for each misclassified sample.
            summary_name (str): the name the error is logged with.
        """
        self.wrong_tensor_name = wrong_tensor_name
        self.summary_name = summary_name

    def _before_inference(self):
        self._wrong = 0
        self._total = 0

    def _get_fetches(self):
        return [self.wrong_tensor_name]

    def _on_fetches(self, outputs):
        vec = np.asarray(outputs[0])
        if vec.ndim != 1:
            raise ValueError("ClassificationError: '{}' must be a vector (one value per "
                             "sample), got shape {}.".format(self.wrong_tensor_name, vec.shape))
        self._wrong += float(np.sum(vec))
        self._total += len(vec)

    def _after_inference(self):
        ratio = self._wrong / self._total if self._total else 0.0
        return {self.summary_name: ratio}


class BinaryClassificationStats(Inferencer):
    """Precision and recall of 0/1 predictions against 0/1 labels."""

    def __init__(self, pred_tensor_name, label_tensor_name, prefix="val"):
        self.pred_tensor_name = pred_tensor_name
        self.label_tensor_name = label_tensor_name
        self.prefix = prefix

    def _before_inference(self):
        self.stat = BinaryStatistics()

    def _get_fetches(self):
        return [self.pred_tensor_name, self.label_tensor_name]

    def _on_fetches(self, outputs):
        pred, label = (np.asarray(x).astype(bool).astype(np.int8) for x in outputs)
        self.stat.feed(pred, label)

    def _after_inference(self):
        return {self.prefix + "_precision": float(self.stat.precision),
                self.prefix + "_recall": float(self.stat.recall)}
