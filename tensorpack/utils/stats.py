"""Small accumulators for statistics: values, ratios, accuracy, binary-classification counts,
running mean and variance."""
import numpy as np

__all__ = ["StatCounter", "BinaryStatistics", "RatioCounter", "Accuracy", "OnlineMoments"]


class StatCounter:
    """Keeps every fed value; gives their count, mean, sum, max and min."""

    def __init__(self):
        self.reset()

    def feed(self, v):
        """
        Args:
            v (float or np.ndarray): a value; arrays must keep one shape across calls.
        """
        self._values.append(v)

    def reset(self):
        self._values = []

    def _need_values(self):
        if not self._values:
            raise ValueError("StatCounter is empty: feed() values first.")
        return self._values

    @property
    def count(self):
        return len(self._values)

    @property
    def average(self):
        return np.mean(self._need_values())

    @property
    def sum(self):
        return np.sum(self._need_values())

    @property
    def max(self):
        return max(self._need_values())

    @property
    def min(self):
        return min(self._need_values())

    def samples(self):
        """Returns: list: every value fed so far."""
        return self._values


class RatioCounter:
    """Counts events of interest among all events: ``ratio = count / total``."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._tot = 0
        self._cnt = 0

    def feed(self, count, total=1):
        """
        Args:
            count (int): events of interest in this batch.
            total (int): all events in this batch.
        """
        self._tot += total
        self._cnt += count

    @property
    def ratio(self):
        """float: ``count / total``; 0 before any event."""
        return self._cnt * 1.0 / self._tot if self._tot else 0

    @property
    def total(self):
        """int: all events."""
        return self._tot

    @property
    def count(self):
        """int: events of interest."""
        return self._cnt


class Accuracy(RatioCounter):
    """A :class:`RatioCounter` of correct predictions."""

    @property
    def accuracy(self):
        return self.ratio


class BinaryStatistics:
    """Precision, recall and error rates of 0/1 predictions against 0/1 labels."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.nr_pos = 0       # positive labels
        self.nr_neg = 0       # negative labels
        self.nr_pred_pos = 0  # positive predictions
        self.nr_pred_neg = 0  # negative predictions
        self.corr_pos = 0     # correct positive predictions
        self.corr_neg = 0     # correct negative predictions

    def feed(self, pred, label):
        """
        Args:
            pred (np.ndarray): 0/1 predictions.
            label (np.ndarray): 0/1 labels, same shape.

        Raises:
            ValueError: if the shapes differ.
        """
        pred, label = np.asarray(pred), np.asarray(label)
        if pred.shape != label.shape:
            raise ValueError("BinaryStatistics.feed: prediction shape {} != label shape "
                             "{}.".format(pred.shape, label.shape))
        self.nr_pos += int((label == 1).sum())
        self.nr_neg += int((label == 0).sum())
        self.nr_pred_pos += int((pred == 1).sum())
        self.nr_pred_neg += int((pred == 0).sum())
        self.corr_pos += int(((pred == 1) & (label == 1)).sum())
        self.corr_neg += int(((pred == 0) & (label == 0)).sum())

    @property
    def precision(self):
        return self.corr_pos * 1. / self.nr_pred_pos if self.nr_pred_pos else 0

    @property
    def recall(self):
        return self.corr_pos * 1. / self.nr_pos if self.nr_pos else 0

    @property
    def false_positive(self):
        """float: the share of positive predictions that are wrong."""
        return 1 - self.precision if self.nr_pred_pos else 0

    @property
    def false_negative(self):
        """float: the share of positive labels predicted negative."""
        return 1 - self.recall if self.nr_pos else 0


class OnlineMoments:
    """Running mean and variance (Welford's algorithm), without keeping the values."""

    def __init__(self):
        self._mean = 0
        self._M2 = 0
        self._n = 0

    def feed(self, x):
        """
        Args:
            x (float or np.ndarray): a value; arrays must keep one shape across calls.
        """
        self._n += 1
        delta = x - self._mean
        self._mean = self._mean + delta / self._n
        self._M2 = self._M2 + delta * (x - self._mean)

    @property
    def mean(self):
        return self._mean

    @property
    def variance(self):
        """The unbiased sample variance (needs two values at least)."""
        return self._M2 / (self._n - 1)

    @property
    def std(self):
        return np.sqrt(self.variance)
