"""The part every dataset reader shares: visiting its datapoints, shuffled or in order."""
import numpy as np

from tensorpack.dataflow.base import RNGDataFlow


class IndexedDataset(RNGDataFlow):
    """A dataset of ``len(self)`` datapoints addressed by index, with a ``shuffle`` flag."""

    shuffle = False

    def _order(self):
        """Indices for one pass: shuffled with ``self.rng`` when ``self.shuffle`` is set."""
        idxs = np.arange(len(self))
        if self.shuffle:
            self.rng.shuffle(idxs)
        return idxs
