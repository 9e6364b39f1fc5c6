"""Layers with upstream's call style (``Layer(name, inputs, ...)``) and variable names."""
from tensorpack.models.layers import BatchNorm, Conv2D, Dropout, FullyConnected, MaxPooling
from tensorpack.models.registry import argscope, get_arg_scope, layer_register

__all__ = ["FullyConnected", "Conv2D", "MaxPooling", "BatchNorm", "Dropout", "layer_register",
           "argscope", "get_arg_scope"]
