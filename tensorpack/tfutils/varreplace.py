"""Change what ``tf.get_variable`` returns inside a context: map variables through a
function, or freeze them."""
import contextlib

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = ["custom_getter_scope", "freeze_variables", "remap_variables"]


@contextlib.contextmanager
def custom_getter_scope(custom_getter):
    """Re-enter the current variable scope with a custom getter, without opening a new
    name scope.

    Args:
        custom_getter: as the ``custom_getter`` argument of ``tf.compat.v1.get_variable``.
    """
    scope = tfv1.get_variable_scope()
    with tfv1.variable_scope(scope, custom_getter=custom_getter, auxiliary_name_scope=False):
        yield


def remap_variables(fn):
    """A context where every ``get_variable`` returns ``fn(variable)`` instead of the variable.

    Example::

        with varreplace.remap_variables(lambda var: quantize(var)):
            x = FullyConnected('fc', x, 1000)   # uses quantized fc/W and fc/b

    Args:
        fn: ``tf.Variable -> tf.Tensor``.
    """
    def custom_getter(getter, *args, **kwargs):
        return fn(getter(*args, **kwargs))
    return custom_getter_scope(custom_getter)


def freeze_variables(stop_gradient=True, skip_collection=False):
    """A context that freezes the variables obtained through ``get_variable`` inside it.

    Args:
        stop_gradient (bool): return ``tf.stop_gradient(variable)`` (a tensor named
            ``freezed_<name>``) instead of the variable, so no gradient flows through uses
            in this context. Other uses of the variable (by name, through a collection,
            weight decay) still get gradients.
        skip_collection (bool): create the variables outside ``TRAINABLE_VARIABLES``
            (they go to ``MODEL_VARIABLES`` instead, so they are still saved and restored);
            tensorpack's trainers then never update them. Must be in effect when the
            variable is created.
    """
    def custom_getter(getter, *args, **kwargs):
        was_trainable = kwargs.get("trainable", True)
        name = args[0] if args else kwargs.get("name")
        if skip_collection:
            kwargs["trainable"] = False
        var = getter(*args, **kwargs)
        if was_trainable and skip_collection:
            if isinstance(var, tf.Variable):
                tfv1.add_to_collection(tfv1.GraphKeys.MODEL_VARIABLES, var)
            else:
                logger.warning(
                    "[freeze_variables] another custom getter returned {!r} instead of a "
                    "Variable; the variable stays frozen only if that getter honours "
                    "trainable=False.".format(var))
        if was_trainable and stop_gradient:
            var = tfv1.stop_gradient(var, name="freezed_" + name)
        return var
    return custom_getter_scope(custom_getter)
