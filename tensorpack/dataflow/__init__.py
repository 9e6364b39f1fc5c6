"""DataFlow: Python-side data pipelines. This package never imports TensorFlow."""
from tensorpack.dataflow.base import DataFlow, DataFlowTerminated, ProxyDataFlow, RNGDataFlow
from tensorpack.dataflow.common import (BatchData, BatchDataByShape, FixedSizeData, MapData,
                                        MapDataComponent, RepeatedData)
from tensorpack.dataflow.compose import (CacheData, ConcatData, JoinData, LocallyShuffleData,
                                         RandomChooseData, RandomMixData, RepeatedDataPoint,
                                         SelectComponent)
from tensorpack.dataflow.image import (AugmentImageComponent, AugmentImageComponents,
                                       AugmentImageCoordinates, ImageFromFile)
from tensorpack.dataflow.raw import DataFromGenerator, DataFromIterable, DataFromList, FakeData
from tensorpack.dataflow.debug import PrintData, TestDataSpeed
from tensorpack.dataflow.format import (CaffeLMDB, HDF5Data, LMDBData, LMDBDataDecoder,
                                        SVMLightData)
from tensorpack.dataflow.parallel import (DataFlowWorkerError, MultiProcessPrefetchData,
                                          MultiProcessRunner, MultiProcessRunnerZMQ,
                                          MultiThreadPrefetchData, MultiThreadRunner,
                                          PrefetchData, PrefetchDataZMQ)
from tensorpack.dataflow.parallel_map import (MultiProcessMapAndBatchData,
                                              MultiProcessMapAndBatchDataZMQ,
                                              MultiProcessMapData, MultiProcessMapDataZMQ,
                                              MultiThreadMapData)
from tensorpack.dataflow.remote import RemoteDataZMQ, send_dataflow_zmq
from tensorpack.dataflow.serialize import (HDF5Serializer, LMDBSerializer, NumpySerializer,
                                           TFRecordSerializer)

__all__ = ["DataFlow", "DataFlowTerminated", "ProxyDataFlow", "RNGDataFlow", "BatchData",
           "FixedSizeData", "MapData", "MapDataComponent", "RepeatedData", "DataFromList",
           "DataFromGenerator", "DataFromIterable", "FakeData", "ConcatData", "JoinData",
           "SelectComponent", "RandomChooseData", "RandomMixData", "LocallyShuffleData",
           "CacheData", "RepeatedDataPoint"]
__all__ += ["MultiProcessRunner", "MultiProcessRunnerZMQ", "MultiThreadRunner", "PrefetchData",
            "PrefetchDataZMQ", "MultiProcessPrefetchData", "MultiThreadPrefetchData",
            "DataFlowWorkerError", "MultiThreadMapData", "MultiProcessMapData",
            "MultiProcessMapDataZMQ", "MultiProcessMapAndBatchData",
            "MultiProcessMapAndBatchDataZMQ", "BatchDataByShape", "PrintData", "TestDataSpeed",
            "HDF5Data", "LMDBData", "LMDBDataDecoder", "SVMLightData", "send_dataflow_zmq",
            "RemoteDataZMQ", "LMDBSerializer", "NumpySerializer", "TFRecordSerializer",
            "HDF5Serializer", "CaffeLMDB"]
__all__ += ["ImageFromFile", "AugmentImageComponent", "AugmentImageCoordinates",
            "AugmentImageComponents", "imgaug", "dataset"]

_LAZY_SUBPACKAGES = ("imgaug", "dataset")


def __getattr__(name):
    # imgaug / dataset are imported on first use, keeping ``import tensorpack.dataflow`` fast.
    if name in _LAZY_SUBPACKAGES:
        import importlib
        return importlib.import_module("tensorpack.dataflow." + name)
    raise AttributeError("module 'tensorpack.dataflow' has no attribute '{}'".format(name))
