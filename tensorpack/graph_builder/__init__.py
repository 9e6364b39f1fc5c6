"""Graph builders: where training towers are placed and how their gradients are combined
(one machine with several devices; a cluster of machines in ``distributed``).

Trainers pick a builder; callbacks and checkpoints never need to know the topology.
"""
from tensorpack.graph_builder.devices import tower_devices, with_cpu_devices
from tensorpack.graph_builder.training import (AsyncMultiGPUBuilder, DataParallelBuilder,
                                               SyncMultiGPUParameterServerBuilder,
                                               SyncMultiGPUReplicatedBuilder)
from tensorpack.graph_builder.utils import (LeastLoadedDeviceSetter, allreduce_grads,
                                            override_to_local_variable)
from tensorpack.train.model_desc import ModelDesc, ModelDescBase

__all__ = ["DataParallelBuilder", "SyncMultiGPUParameterServerBuilder",
           "SyncMultiGPUReplicatedBuilder", "AsyncMultiGPUBuilder", "LeastLoadedDeviceSetter",
           "allreduce_grads", "override_to_local_variable", "tower_devices",
           "with_cpu_devices", "ModelDesc", "ModelDescBase"]
