"""ModelDesc: describe a model by its inputs, its graph and its optimizer."""
import tensorflow as tf

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.tfutils.tower import get_current_tower_context

__all__ = ["ModelDescBase", "ModelDesc"]


class ModelDescBase:
    """A model described by :meth:`inputs` and :meth:`build_graph`, which together make the
    tower function trainers and predictors build.
    """

    def get_input_signature(self):
        """The inputs of the model, computed once per instance.

        Returns:
            list[tf.TensorSpec]: one named spec per input.

        Raises:
            ValueError: if :meth:`inputs` does not return a non-empty list of TensorSpecs or
                placeholders created inside it, or an input has no name.
        """
        cached = self.__dict__.get("_input_signature_cache")
        if cached is not None:
            return cached
        with tf.Graph().as_default() as graph:  # placeholders, if any, must not leak
            inputs = self.inputs()
            if not isinstance(inputs, (list, tuple)) or not inputs:
                raise ValueError("{}.inputs() must return a non-empty list of tf.TensorSpec, got "
                                 "{!r}.".format(type(self).__name__, inputs))
            specs = []
            for x in inputs:
                if isinstance(x, tf.TensorSpec):
                    if not x.name:
                        raise ValueError("{}.inputs(): every tf.TensorSpec needs a name, e.g. "
                                         "tf.TensorSpec((None, 64), tf.float32, 'x'); got {}."
                                         .format(type(self).__name__, x))
                    specs.append(x)
                elif isinstance(x, tf.Tensor) and "Placeholder" in x.op.type and x.graph is graph:
                    specs.append(tf.TensorSpec(shape=x.shape, dtype=x.dtype,
                                               name=get_op_tensor_name(x.name)[0]))
                else:
                    raise ValueError("{}.inputs() must return tf.TensorSpec objects (or "
                                     "placeholders created inside inputs()); got {!r}.".format(
                                         type(self).__name__, x))
        self._input_signature_cache = specs
        return specs

    @property
    def input_names(self):
        """list[str]: the names of the inputs."""
        return [spec.name for spec in self.get_input_signature()]

    def inputs(self):
        """Describe the inputs. Subclasses implement it.

        Returns:
            list[tf.TensorSpec]
        """
        raise NotImplementedError("{} must implement inputs().".format(type(self).__name__))

    def build_graph(self, *args):
        """Build the model from input tensors (one per :meth:`inputs` entry).

        Returns:
            tf.Tensor: for :class:`ModelDesc`, the scalar cost to minimize.
        """
        raise NotImplementedError("{} must implement build_graph().".format(type(self).__name__))

    @property
    def training(self):
        """bool: whether the graph is being built for training."""
        ctx = get_current_tower_context()
        if ctx is None:
            raise RuntimeError("ModelDesc.training is only defined while a tower is being built.")
        return ctx.is_training


class ModelDesc(ModelDescBase):
    """A :class:`ModelDescBase` with one cost (returned by :meth:`build_graph`) and one
    optimizer (returned by :meth:`optimizer`).
    """

    def get_optimizer(self):
        """The optimizer of :meth:`optimizer`, created once per instance.

        Returns:
            tf.compat.v1.train.Optimizer

        Raises:
            TypeError: if :meth:`optimizer` returns something else.
        """
        opt = self.__dict__.get("_optimizer_cache")
        if opt is None:
            opt = self.optimizer()
            if not isinstance(opt, tfv1.train.Optimizer):
                raise TypeError("{}.optimizer() must return a tf.compat.v1.train.Optimizer, got "
                                "{!r}.".format(type(self).__name__, opt))
            self._optimizer_cache = opt
        return opt

    def optimizer(self):
        """Create the optimizer. Subclasses implement it.

        Returns:
            tf.compat.v1.train.Optimizer
        """
        raise NotImplementedError("{} must implement optimizer().".format(type(self).__name__))
