"""Upstream's module path ``tensorpack.input_source.input_source``: its names, re-exported."""
from tensorpack.input_source.batch_queue import BatchQueueInput
from tensorpack.input_source.sources import FeedfreeInput, FeedInput, PlaceholderInput, QueueInput
from tensorpack.input_source.tensor_sources import (DummyConstantInput, StagingInput, TensorInput,
                                                    TFDatasetInput)
from tensorpack.input_source.zmq_input import ZMQInput

__all__ = ["PlaceholderInput", "FeedInput", "FeedfreeInput", "QueueInput", "BatchQueueInput",
           "DummyConstantInput", "TensorInput", "ZMQInput", "TFDatasetInput", "StagingInput"]
