"""Optimizer wrappers: gradient processors, post-update ops, gradient accumulation.

They wrap any ``tf.compat.v1.train.Optimizer`` and work with or without tensorpack.
"""
import tensorflow as tf

from tensorpack.compat import tfv1

from .gradproc import FilterNoneGrad, GradientProcessor

__all__ = ["apply_grad_processors", "ProxyOptimizer", "PostProcessOptimizer",
           "VariableAssignmentOptimizer", "AccumGradOptimizer"]


def _check_optimizer(opt, who):
    if not isinstance(opt, tfv1.train.Optimizer):
        raise TypeError("{} wraps a tf.compat.v1.train.Optimizer, got {!r}.".format(who, opt))


class ProxyOptimizer(tfv1.train.Optimizer):
    """An optimizer that forwards everything to the optimizer it wraps; a base for
    wrappers that change one step."""

    def __init__(self, opt, name="ProxyOptimizer"):
        """
        Args:
            opt (tf.compat.v1.train.Optimizer): the wrapped optimizer.
            name (str): this optimizer's name.

        Raises:
            TypeError: if ``opt`` is not a v1 optimizer.
        """
        _check_optimizer(opt, type(self).__name__)
        super().__init__(False, name)
        self._opt = opt

    def compute_gradients(self, *args, **kwargs):
        return self._opt.compute_gradients(*args, **kwargs)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def apply_gradients(self, *args, **kwargs):
        return self._opt.apply_gradients(*args, **kwargs)


class _GradProcOptimizer(ProxyOptimizer):
    """Runs gradient processors on the gradients before the wrapped optimizer applies them."""

    def __init__(self, opt, gradprocs):
        self._gradprocs = list(gradprocs)
        super().__init__(opt)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        for proc in self._gradprocs:
            grads_and_vars = proc.process(grads_and_vars)
        return self._opt.apply_gradients(grads_and_vars, global_step, name)


def apply_grad_processors(opt, gradprocs):
    """Wrap an optimizer so that it runs gradient processors before each update.

    Args:
        opt (tf.compat.v1.train.Optimizer): the optimizer.
        gradprocs (list[GradientProcessor]): run in order on the ``(grad, var)`` list.

    Returns:
        tf.compat.v1.train.Optimizer: the wrapping optimizer.

    Raises:
        TypeError: if ``gradprocs`` is not a list of :class:`GradientProcessor`.
    """
    if not isinstance(gradprocs, (list, tuple)):
        raise TypeError("apply_grad_processors: gradprocs must be a list of "
                        "GradientProcessor, got {!r}.".format(gradprocs))
    for proc in gradprocs:
        if not isinstance(proc, GradientProcessor):
            raise TypeError("apply_grad_processors: {!r} is not a GradientProcessor.".format(proc))
    return _GradProcOptimizer(opt, gradprocs)


class PostProcessOptimizer(ProxyOptimizer):
    """After each update, run an op per variable (e.g. clipping or quantizing it)."""

    def __init__(self, opt, func, colocate=True):
        """
        Args:
            opt (tf.compat.v1.train.Optimizer): the optimizer.
            func: ``tf.Variable -> tf.Operation or None``, the op run after the update.
            colocate (bool): kept for upstream compatibility; TensorFlow places the ops
                itself (upstream ignores it too since TF 1.13).
        """
        super().__init__(opt)
        self._func = func
        self._colocate = colocate

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        update = super().apply_gradients(grads_and_vars, global_step)
        post_ops = []
        with tfv1.control_dependencies([update]):
            for _, var in grads_and_vars:
                op = self._func(var)
                if op is None:
                    continue
                if not isinstance(op, tfv1.Operation):
                    raise TypeError("PostProcessOptimizer: func must return a tf.Operation or "
                                    "None; for {} it returned {!r}.".format(var.op.name, op))
                post_ops.append(op)
        return tfv1.group(update, *post_ops, name=name)


class VariableAssignmentOptimizer(PostProcessOptimizer):
    """After each update, assign every variable ``func(variable)`` (unless that is None)."""

    def __init__(self, opt, func):
        """
        Args:
            opt (tf.compat.v1.train.Optimizer): the optimizer.
            func: ``tf.Variable -> tf.Tensor or None``, the variable's new value.
        """
        def assign(var):
            value = func(var)
            return None if value is None else tfv1.assign(var, value, use_locking=False).op
        super().__init__(opt, assign)


class AccumGradOptimizer(ProxyOptimizer):
    """Sum gradients over ``niter`` runs of the train op and apply the sum on every
    ``niter``-th run: about a ``niter`` times larger batch (with a ``niter`` times larger
    learning rate), at the memory cost of one batch.

    The sum lives in an ``accum`` slot per variable, the run count in a variable
    ``AccumGrad/counter``. Example::

        opt = AccumGradOptimizer(tf.compat.v1.train.GradientDescentOptimizer(0.01), niter=5)
        train_op = opt.minimize(loss)
    """

    def __init__(self, opt, niter):
        """
        Args:
            opt (tf.compat.v1.train.Optimizer): applies the accumulated gradients.
            niter (int): number of runs to accumulate.

        Raises:
            ValueError: if ``niter`` < 1.
        """
        super().__init__(opt, "AccumGrad")
        self._niter = int(niter)
        if self._niter < 1:
            raise ValueError("AccumGradOptimizer: niter must be >= 1, got {}.".format(niter))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        grads_and_vars = FilterNoneGrad().process(grads_and_vars)
        for g, v in grads_and_vars:
            if not isinstance(g, (tf.Tensor, tf.IndexedSlices)) or \
                    not isinstance(v, tf.Variable):
                raise TypeError("AccumGradOptimizer cannot accumulate the gradient of {} "
                                "(variable type {}, gradient type {}).".format(
                                    v.op.name, type(v).__name__, type(g).__name__))
        variables = [v for _, v in grads_and_vars]
        with tfv1.control_dependencies(None):
            slots = [self._zeros_slot(v, "accum", self._name) for v in variables]
            with tfv1.variable_scope(self._name), tfv1.device("/cpu:0"):
                counter = tfv1.Variable(0, name="counter", trainable=False, dtype=tfv1.int32)

        with tfv1.name_scope("AccumGradOptimizer"):
            accumulate = [s.assign_add(g) for s, (g, _) in zip(slots, grads_and_vars)]
            count = tfv1.assign_add(counter, 1, name="update_counter")
            step = tfv1.group(count, *accumulate, name="update_slot")

            def apply_and_clear():
                applied = self._opt.apply_gradients(list(zip(slots, variables)))
                with tfv1.control_dependencies([applied]):
                    clears = [tfv1.assign(s, tfv1.zeros_like(s)) for s in slots]
                return tfv1.group(*clears, name="update_grad")

            with tfv1.control_dependencies([step]):
                due = tfv1.equal(tfv1.mod(counter, self._niter), 0)
                op = tfv1.cond(due, apply_and_clear, tfv1.no_op)
            name = name or "cond_update_grad"
            if global_step is not None:
                op = tfv1.group(op, tfv1.assign_add(global_step, 1), name=name)
            else:
                op = tfv1.identity(op, name=name).op
        return op
