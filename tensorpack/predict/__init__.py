"""Prediction: PredictConfig and predictors."""
from tensorpack.predict.base import OfflinePredictor, OnlinePredictor, PredictorBase
from tensorpack.predict.concurrency import AsyncPredictorBase, MultiThreadAsyncPredictor
from tensorpack.predict.config import PredictConfig
from tensorpack.predict.dataset import DatasetPredictorBase, SimpleDatasetPredictor
from tensorpack.predict.feedfree import FeedfreePredictor
from tensorpack.predict.multigpu import DataParallelOfflinePredictor, MultiTowerOfflinePredictor
from tensorpack.predict.multiprocess import MultiProcessDatasetPredictor

__all__ = ["PredictorBase", "OnlinePredictor", "OfflinePredictor", "PredictConfig",
           "DatasetPredictorBase", "SimpleDatasetPredictor",
           "AsyncPredictorBase", "MultiThreadAsyncPredictor", "FeedfreePredictor",
           "MultiProcessDatasetPredictor", "MultiTowerOfflinePredictor",
           "DataParallelOfflinePredictor"]
