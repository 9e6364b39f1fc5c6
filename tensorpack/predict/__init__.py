"""Prediction: PredictConfig and predictors."""
from tensorpack.predict.base import OfflinePredictor, OnlinePredictor, PredictorBase
from tensorpack.predict.config import PredictConfig

__all__ = ["PredictorBase", "OnlinePredictor", "OfflinePredictor", "PredictConfig"]
