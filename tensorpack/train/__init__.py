"""Training: ModelDesc, TrainConfig, trainers and launch_train_with_config."""
from tensorpack.train.base import StopTraining, Trainer
from tensorpack.train.config import (DEFAULT_CALLBACKS, DEFAULT_MONITORS, AutoResumeTrainConfig,
                                     TrainConfig)
from tensorpack.train.interface import apply_default_prefetch, launch_train_with_config
from tensorpack.train.model_desc import ModelDesc, ModelDescBase
from tensorpack.train.tower import SingleCostTrainer, TowerTrainer
from tensorpack.train.trainers import (AsyncMultiGPUTrainer, BytePSTrainer,
                                       DistributedTrainerParameterServer,
                                       DistributedTrainerReplicated, HorovodTrainer,
                                       NoOpTrainer, QueueInputTrainer,
                                       SimpleTrainer, SyncMultiGPUTrainer,
                                       SyncMultiGPUTrainerParameterServer,
                                       SyncMultiGPUTrainerReplicated)

__all__ = ["StopTraining", "Trainer", "TrainConfig", "AutoResumeTrainConfig",
           "DEFAULT_CALLBACKS", "DEFAULT_MONITORS", "launch_train_with_config",
           "apply_default_prefetch", "ModelDesc", "ModelDescBase", "TowerTrainer",
           "SingleCostTrainer", "SimpleTrainer", "NoOpTrainer", "QueueInputTrainer",
           "SyncMultiGPUTrainerParameterServer", "SyncMultiGPUTrainerReplicated",
           "AsyncMultiGPUTrainer", "SyncMultiGPUTrainer", "HorovodTrainer", "BytePSTrainer",
           "DistributedTrainerParameterServer", "DistributedTrainerReplicated"]
