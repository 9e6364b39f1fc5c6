"""Run a predictor over every datapoint of a DataFlow."""
import tqdm

from tensorpack.dataflow.base import DataFlow
from tensorpack.predict.base import OfflinePredictor
from tensorpack.predict.config import PredictConfig

__all__ = ["DatasetPredictorBase", "SimpleDatasetPredictor"]


class DatasetPredictorBase:
    """Base class: predictions for a whole DataFlow."""

    def __init__(self, config, dataset):
        """
        Args:
            config (PredictConfig):
            dataset (DataFlow): each datapoint holds the inputs, in ``input_names`` order.

        Raises:
            ValueError: for arguments of the wrong type.
        """
        if not isinstance(config, PredictConfig):
            raise ValueError("{} takes a PredictConfig, got {}.".format(
                type(self).__name__, type(config).__name__))
        if not isinstance(dataset, DataFlow):
            raise ValueError("{} takes a DataFlow, got {}.".format(
                type(self).__name__, type(dataset).__name__))
        self.config = config
        self.dataset = dataset

    def get_result(self):
        """Yields: the outputs for each datapoint."""
        raise NotImplementedError()

    def get_all_result(self):
        """Returns: list: the outputs for all datapoints."""
        return list(self.get_result())


class SimpleDatasetPredictor(DatasetPredictorBase):
    """Feed each datapoint of a DataFlow to an :class:`OfflinePredictor`, with a progress bar."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.predictor = OfflinePredictor(config)

    def get_result(self):
        self.dataset.reset_state()
        try:
            total = len(self.dataset)
        except NotImplementedError:
            total = None
        with tqdm.tqdm(total=total, disable=not total, ascii=True, dynamic_ncols=True) as bar:
            for dp in self.dataset:
                yield self.predictor(*dp)
                bar.update()


def __getattr__(name):
    # upstream defined it in this module; it lives in multiprocess.py (which imports this one)
    if name == "MultiProcessDatasetPredictor":
        from tensorpack.predict.multiprocess import MultiProcessDatasetPredictor
        return MultiProcessDatasetPredictor
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
