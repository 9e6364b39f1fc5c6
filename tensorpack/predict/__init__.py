"""Prediction: PredictConfig and predictors."""
from tensorpack.predict.base import OfflinePredictor, OnlinePredictor, PredictorBase
from tensorpack.predict.config import PredictConfig
from tensorpack.predict.dataset import DatasetPredictorBase, SimpleDatasetPredictor
from tensorpack.predict.multigpu import DataParallelOfflinePredictor, MultiTowerOfflinePredictor

__all__ = ["PredictorBase", "OnlinePredictor", "OfflinePredictor", "PredictConfig",
           "DatasetPredictorBase", "SimpleDatasetPredictor", "MultiTowerOfflinePredictor",
           "DataParallelOfflinePredictor"]
