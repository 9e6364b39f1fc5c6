"""Describing a model: its trainable variables, and tensor shapes for logs."""
from tabulate import tabulate

from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = []


def describe_trainable_vars() -> None:
    """Log a table of the trainable variables, their shapes and the parameter count.

    Variables whose names start with ``tower`` (replicas made by data-parallel trainers)
    are left out.
    """
    train_vars = tfv1.trainable_variables()
    if not train_vars:
        logger.warn("No trainable variables in the graph!")
        return
    rows, total, nbytes = [], 0, 0
    for v in train_vars:
        if v.name.startswith("tower"):
            continue
        n = v.shape.num_elements() or 0
        total += n
        nbytes += n * v.dtype.base_dtype.size
        rows.append([v.op.name, v.shape.as_list() if v.shape.rank is not None else "?", n])
    logger.info("List of Trainable Variables:\n{}\nNumber of trainable variables: {}\n"
                "Number of parameters (elements): {}\nStorage space needed for all trainable "
                "variables: {:.02f}MB".format(
                    tabulate(rows, headers=["name", "shape", "#elements"]),
                    len(rows), total, nbytes / 1024.0 ** 2))


def get_shape_str(tensors) -> str:
    """The static shape(s) of a tensor or a list of tensors, for logs.

    Args:
        tensors: a tensor (or anything with ``.shape``) or a list / tuple of them.

    Returns:
        str: e.g. ``[None, 28, 28, 1]``, or several such joined by commas.
    """
    if isinstance(tensors, (list, tuple)):
        return ",".join(get_shape_str(t) for t in tensors)
    shape = getattr(tensors, "shape", None)
    if shape is None:
        return type(tensors).__name__
    if getattr(shape, "rank", 0) is None:
        return "<unknown>"
    return str(shape.as_list() if hasattr(shape, "as_list") else list(shape))
