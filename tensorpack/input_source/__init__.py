"""Input sources: where the model's input tensors come from during training."""
from tensorpack.input_source.base import InputSource, build_or_reuse_placeholder
from tensorpack.input_source.batch_queue import BatchQueueInput
from tensorpack.input_source.remap import ProxyInputSource, remap_input_source
from tensorpack.input_source.sources import FeedfreeInput, FeedInput, PlaceholderInput, QueueInput
from tensorpack.input_source.tensor_sources import (DummyConstantInput, StagingInput,
                                                    TensorInput, TFDatasetInput)
from tensorpack.input_source.zmq_input import ZMQInput

__all__ = ["InputSource", "PlaceholderInput", "FeedInput", "FeedfreeInput", "QueueInput",
           "TensorInput", "DummyConstantInput", "TFDatasetInput", "StagingInput",
           "BatchQueueInput", "ZMQInput", "remap_input_source"]
