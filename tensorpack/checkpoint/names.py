"""Variable-name rules shared by the whole library (no TensorFlow).

Graph variables are named like tensors (``conv1/W:0``); checkpoints store op names
(``conv1/W``); npz files dumped by tensorpack may hold either. Every comparison goes
through :func:`normalize_name`.
"""
import re

__all__ = ["get_op_tensor_name", "normalize_name", "is_training_name", "is_training_state",
           "slot_owner", "TRAINING_SLOT_SUFFIXES"]

_TENSOR_SUFFIX = re.compile(r":\d+$")

# Slots that optimizers add next to a variable: ``<var>/<suffix>``. Every optimizer of
# ``tf.compat.v1.train`` (RMSProp: rms, momentum, and the centered mean; AdagradDA: two
# accumulators), the Adamax / Nadam names of older contrib optimizers, tensorpack's
# gradient accumulation and moving averages.
TRAINING_SLOT_SUFFIXES = (
    "Momentum", "Momentum_1", "Adam", "Adam_1", "Adagrad", "AdagradDA", "AdagradDA_1",
    "ProximalAdagrad", "RMSProp", "RMSProp_1", "RMSProp_2", "Ftrl", "Ftrl_1", "Adadelta",
    "Adadelta_1", "Adamax", "Adamax_1", "Nadam", "Nadam_1", "AccumGrad",
    "ExponentialMovingAverage",
)
# Training-only variables of their own (Adam's running powers of beta1 / beta2).
_TRAINING_VARIABLES = re.compile(r"(^|/)beta[12]_power(_\d+)?$")


def get_op_tensor_name(name: str) -> tuple[str, str]:
    """Split a name into its op name and tensor name.

    Args:
        name (str): ``"op"`` or ``"op:k"``.

    Returns:
        tuple(str, str): ``(op_name, tensor_name)``; a bare op name gets ``:0``.
    """
    if _TENSOR_SUFFIX.search(name):
        return _TENSOR_SUFFIX.sub("", name), name
    return name, name + ":0"


def normalize_name(name: str) -> str:
    """The op name of a variable or tensor name: ``"a/W:0"`` and ``"a/W"`` both give ``"a/W"``."""
    return _TENSOR_SUFFIX.sub("", name)


def is_training_name(name: str) -> bool:
    """Whether a variable name belongs to training only (upstream's rule, extended to every
    optimizer ``tf.compat.v1.train`` ships).

    Such variables (optimizer slots, moving-average shadows, gradient accumulators) are
    needed to resume training, but not to run the model, and restoring into a fresh graph
    without them is normal.

    Args:
        name (str): a variable, op or tensor name.

    Returns:
        bool
    """
    name = normalize_name(name)
    if slot_owner(name) is not None or "/EMA/" in name:  # a slot, or a shadow (EMA/...)
        return True
    if name.startswith("AccumGrad") or name.startswith("apply_gradients"):
        return True
    return bool(_TRAINING_VARIABLES.search(name))


def is_training_state(name: str) -> bool:
    """Whether a name is state for resuming training rather than a model weight: a
    training-only name (:func:`is_training_name`) or the step counter ``global_step``.

    A weights file never holds ``global_step`` and a predictor's graph never needs it, so a
    restore counts such names but does not list them as mismatches, and ``strict=True``
    does not require them.

    Args:
        name (str): a variable, op or tensor name.

    Returns:
        bool
    """
    name = normalize_name(name)
    return name.rsplit("/", 1)[-1] == "global_step" or is_training_name(name)


def slot_owner(name: str) -> str | None:
    """The variable a training-only companion belongs to, or None.

    ``W/Momentum``, ``W/Adam_1``, ``W/ExponentialMovingAverage`` and ``EMA/W`` all give
    ``W``; ``EMA/W/Momentum`` gives ``EMA/W`` (call again for ``W``).

    Args:
        name (str): an op name (no ``:0``).

    Returns:
        str or None
    """
    if name.startswith("EMA/"):
        return name[4:]
    head, sep, last = name.rpartition("/")
    if sep and last in TRAINING_SLOT_SUFFIXES:
        return head
    return None
