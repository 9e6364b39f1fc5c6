"""Input sources: where the model's input tensors come from during training."""
from tensorpack.input_source.base import InputSource, build_or_reuse_placeholder
from tensorpack.input_source.sources import FeedfreeInput, FeedInput, PlaceholderInput, QueueInput

__all__ = ["InputSource", "PlaceholderInput", "FeedInput", "FeedfreeInput", "QueueInput"]
