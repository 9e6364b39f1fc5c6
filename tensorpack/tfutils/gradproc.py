"""Gradient processors: functions on a list of ``(gradient, variable)`` pairs, applied
before the optimizer updates the variables (see :func:`optimizer.apply_grad_processors`)."""
import abc
import inspect
import re

from tensorpack.compat import tfv1
from tensorpack.utils import logger

from .summary import add_moving_summary
from .symbolic_functions import print_stat, rms

__all__ = ["GradientProcessor", "FilterNoneGrad", "GlobalNormClip", "MapGradient",
           "SummaryGradient", "PrintGradient", "CheckGradient", "ScaleGradient"]


def _full_match(regex):
    """A pattern that must match a whole variable name (upstream appends ``$``)."""
    return regex if regex.endswith("$") else regex + "$"


class GradientProcessor(abc.ABC):
    """Base class of gradient processors; subclasses implement ``_process(grads)``.

    Calling :meth:`process` several times (e.g. once per tower) puts all the ops created
    into one name scope, named after the class.
    """
    _name_scope = None

    def process(self, grads):
        """Transform gradients.

        Args:
            grads (list[(tf.Tensor, tf.Variable)]): gradient and variable pairs.

        Returns:
            list[(tf.Tensor, tf.Variable)]: the processed pairs.
        """
        if self._name_scope is not None:
            with tfv1.name_scope(self._name_scope):
                return self._process(grads)
        with tfv1.name_scope(type(self).__name__) as scope:
            self._name_scope = scope
            return self._process(grads)

    @abc.abstractmethod
    def _process(self, grads):
        """Returns the processed ``(grad, var)`` list."""


class FilterNoneGrad(GradientProcessor):
    """Drop the pairs whose gradient is None (variables the cost does not depend on)."""

    def __init__(self, verbose=True):
        """
        Args:
            verbose (bool): log a warning naming the variables without gradient.
        """
        super().__init__()
        self._verbose = verbose

    def _process(self, grads):
        kept = [(g, v) for g, v in grads if g is not None]
        dropped = [v.op.name for g, v in grads if g is None]
        if dropped and self._verbose:
            logger.warn("No gradient w.r.t {} trainable variables: {}".format(
                len(dropped), ", ".join(dropped)))
        return kept


class GlobalNormClip(GradientProcessor):
    """Scale all gradients together so that their global norm is at most ``global_norm``
    (see ``tf.clip_by_global_norm``)."""

    def __init__(self, global_norm):
        """
        Args:
            global_norm (float): the largest allowed global norm.
        """
        super().__init__()
        self._norm = float(global_norm)

    def _process(self, grads):
        clipped, _ = tfv1.clip_by_global_norm([g for g, _ in grads], self._norm,
                                              name="clip_by_global_norm")
        return list(zip(clipped, [v for _, v in grads]))


class MapGradient(GradientProcessor):
    """Replace each gradient whose variable name matches ``regex`` by ``func``'s result;
    other gradients pass unchanged. A result of None drops the variable from the update."""

    def __init__(self, func, regex=".*"):
        """
        Args:
            func: ``func(grad)`` or ``func(grad, var)`` returning the new gradient or None.
            regex (str): matched against the whole variable name (op name, no ``:0``).

        Raises:
            ValueError: if ``func`` does not take one or two arguments.
        """
        nargs = len(inspect.getfullargspec(func).args) - int(inspect.ismethod(func))
        if nargs == 1:
            self.func = lambda grad, var: func(grad)
        elif nargs == 2:
            self.func = func
        else:
            raise ValueError("MapGradient: the function must take (grad) or (grad, var); "
                             "{!r} takes {} arguments.".format(func, nargs))
        self.regex = _full_match(regex)
        super().__init__()

    def _process(self, grads):
        out = []
        any_match = False
        for grad, var in grads:
            if re.match(self.regex, var.op.name):
                any_match = True
                grad = self.func(grad, var)
                if grad is None:
                    continue
            out.append((grad, var))
        if not any_match:
            logger.warn("[MapGradient] No match was found for regex {}.".format(self.regex))
        return out


class SummaryGradient(MapGradient):
    """Add a histogram summary and a moving-average RMS summary of each matched gradient
    (once per variable; replicas' ``towerN/`` variables are skipped)."""

    # Variables already summarized, shared by all instances so towers don't repeat them.
    _summaried_gradient = set()

    def __init__(self, regex=".*", collections=None):
        """
        Args:
            regex (str): as in :class:`MapGradient`.
            collections (list[str]): collections of the histogram summaries.
        """
        super().__init__(self._summarize, regex)
        self._coll = collections

    def _summarize(self, grad, var):
        name = var.op.name
        if re.match("tower[0-9]+/", name) or name in SummaryGradient._summaried_gradient:
            return grad
        if getattr(tfv1.get_default_graph(), "building_function", False):
            # e.g. inside AccumGradOptimizer's tf.cond (a function graph in TF 2): a summary
            # made there cannot be evaluated by the training loop.
            logger.warn("SummaryGradient: the gradient of {} is computed inside a control-flow "
                        "function (e.g. under AccumGradOptimizer); it is not summarized. Apply "
                        "SummaryGradient outside AccumGradOptimizer.".format(name))
            SummaryGradient._summaried_gradient.add(name)
            return grad
        SummaryGradient._summaried_gradient.add(name)
        tfv1.summary.histogram(name + "-grad", grad, collections=self._coll)
        add_moving_summary(rms(grad, name=name + "/rms"))
        return grad


class PrintGradient(MapGradient):
    """Print statistics of the matched gradients whenever they are computed
    (see :func:`symbolic_functions.print_stat`)."""

    _printed = set()

    def __init__(self, regex=".*"):
        """
        Args:
            regex (str): as in :class:`MapGradient`.
        """
        super().__init__(self._print, regex)

    def _print(self, grad, var):
        name = var.op.name
        if name in PrintGradient._printed:
            return grad
        PrintGradient._printed.add(name)
        return print_stat(grad, message=name + "-grad")


class CheckGradient(MapGradient):
    """Fail the step (``InvalidArgumentError``) when any gradient holds NaN or Inf."""

    def __init__(self):
        super().__init__(self._check)

    @staticmethod
    def _check(grad, var):
        return tfv1.check_numerics(grad, "CheckGradient/" + var.op.name)


class ScaleGradient(MapGradient):
    """Multiply the gradients of some variables by constants, chosen by regex.

    Example: twice the learning rate for biases, and ``layer0`` frozen::

        opt = optimizer.apply_grad_processors(opt, [gradproc.ScaleGradient(
            [('.*/b', 2.), ('layer0/.*', 0.)])])
    """

    def __init__(self, multipliers, verbose=True):
        """
        Args:
            multipliers: a ``(regex, float)`` pair or a list of them; the first regex
                matching the whole variable name wins. A multiplier of 0 drops the gradient.
            verbose (bool): log each scaled variable.

        Raises:
            TypeError: if ``verbose`` is not a bool.
        """
        if not isinstance(multipliers, list):
            multipliers = [multipliers]
        if not isinstance(verbose, bool):
            raise TypeError("ScaleGradient: verbose must be True or False, got {!r}.".format(
                verbose))
        self.multipliers = multipliers
        self._rules = [(re.compile(_full_match(r)), float(m)) for r, m in multipliers]
        self._verbose = verbose
        super().__init__(self._scale)

    def _scale(self, grad, var):
        name = var.op.name
        for pattern, mult in self._rules:
            if pattern.match(name):
                if self._verbose:
                    logger.info("Gradient of '{}' is multipled by {}".format(name, mult))
                return None if mult == 0 else grad * mult
        return grad
