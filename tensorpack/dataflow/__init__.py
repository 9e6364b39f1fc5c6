"""DataFlow: Python-side data pipelines. This package never imports TensorFlow."""
from tensorpack.dataflow.base import DataFlow, DataFlowTerminated, ProxyDataFlow, RNGDataFlow
from tensorpack.dataflow.common import (BatchData, FixedSizeData, MapData, MapDataComponent,
                                        RepeatedData)
from tensorpack.dataflow.compose import (CacheData, ConcatData, JoinData, LocallyShuffleData,
                                         RandomChooseData, RandomMixData, RepeatedDataPoint,
                                         SelectComponent)
from tensorpack.dataflow.raw import DataFromGenerator, DataFromIterable, DataFromList, FakeData
from tensorpack.dataflow.parallel import (DataFlowWorkerError, MultiProcessPrefetchData,
                                          MultiProcessRunner, MultiProcessRunnerZMQ,
                                          MultiThreadPrefetchData, MultiThreadRunner,
                                          PrefetchData, PrefetchDataZMQ)
from tensorpack.dataflow.parallel_map import (MultiProcessMapAndBatchData,
                                              MultiProcessMapAndBatchDataZMQ,
                                              MultiProcessMapData, MultiProcessMapDataZMQ,
                                              MultiThreadMapData)

__all__ = ["DataFlow", "DataFlowTerminated", "ProxyDataFlow", "RNGDataFlow", "BatchData",
           "FixedSizeData", "MapData", "MapDataComponent", "RepeatedData", "DataFromList",
           "DataFromGenerator", "DataFromIterable", "FakeData", "ConcatData", "JoinData",
           "SelectComponent", "RandomChooseData", "RandomMixData", "LocallyShuffleData",
           "CacheData", "RepeatedDataPoint"]
__all__ += ["MultiProcessRunner", "MultiProcessRunnerZMQ", "MultiThreadRunner", "PrefetchData",
            "PrefetchDataZMQ", "MultiProcessPrefetchData", "MultiThreadPrefetchData",
            "DataFlowWorkerError", "MultiThreadMapData", "MultiProcessMapData",
            "MultiProcessMapDataZMQ", "MultiProcessMapAndBatchData",
            "MultiProcessMapAndBatchDataZMQ"]
