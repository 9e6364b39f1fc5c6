"""Layers with upstream's call style (``Layer(name, inputs, ...)``) and variable names."""
from tensorpack.models.layers import (AvgPooling, BatchNorm, BNReLU, Conv2D, Dropout,
                                      FullyConnected, GlobalAvgPooling, MaxPooling)
from tensorpack.models.linearwrap import LinearWrap
from tensorpack.models.registry import argscope, get_arg_scope, layer_register
from tensorpack.models.regularize import (l1_regularizer, l2_regularizer, regularize_cost,
                                          regularize_cost_from_collection)

__all__ = ["FullyConnected", "Conv2D", "MaxPooling", "AvgPooling", "GlobalAvgPooling",
           "BatchNorm", "BNReLU", "Dropout", "LinearWrap", "layer_register", "argscope",
           "get_arg_scope", "regularize_cost", "regularize_cost_from_collection",
           "l2_regularizer", "l1_regularizer"]
