"""The names layer authors need: registration, variable holder, renaming context."""
from tensorpack.models.registry import disable_layer_logging, layer_register
from tensorpack.models.tflayer import rename_tflayer_get_variable
from tensorpack.models.utils import VariableHolder

__all__ = ["layer_register", "VariableHolder", "rename_tflayer_get_variable",
           "disable_layer_logging"]
