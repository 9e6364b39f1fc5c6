"""DataFlow: Python-side data pipelines. This package never imports TensorFlow."""
from tensorpack.dataflow.base import DataFlow, DataFlowTerminated, ProxyDataFlow, RNGDataFlow
from tensorpack.dataflow.common import (BatchData, FixedSizeData, MapData, MapDataComponent,
                                        RepeatedData)
from tensorpack.dataflow.compose import (CacheData, ConcatData, JoinData, LocallyShuffleData,
                                         RandomChooseData, RandomMixData, RepeatedDataPoint,
                                         SelectComponent)
from tensorpack.dataflow.image import (AugmentImageComponent, AugmentImageComponents,
                                       AugmentImageCoordinates, ImageFromFile)
from tensorpack.dataflow.raw import DataFromGenerator, DataFromIterable, DataFromList, FakeData

__all__ = ["DataFlow", "DataFlowTerminated", "ProxyDataFlow", "RNGDataFlow", "BatchData",
           "FixedSizeData", "MapData", "MapDataComponent", "RepeatedData", "DataFromList",
           "DataFromGenerator", "DataFromIterable", "FakeData", "ConcatData", "JoinData",
           "SelectComponent", "RandomChooseData", "RandomMixData", "LocallyShuffleData",
           "CacheData", "RepeatedDataPoint"]
__all__ += ["ImageFromFile", "AugmentImageComponent", "AugmentImageCoordinates",
            "AugmentImageComponents", "imgaug", "dataset"]

_LAZY_SUBPACKAGES = ("imgaug", "dataset")


def __getattr__(name):
    # imgaug / dataset are imported on first use, keeping ``import tensorpack.dataflow`` fast.
    if name in _LAZY_SUBPACKAGES:
        import importlib
        return importlib.import_module("tensorpack.dataflow." + name)
    raise AttributeError("module 'tensorpack.dataflow' has no attribute '{}'".format(name))
