"""Input sources producing tensors without feeding: from a function, constants, tf.data."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.dataflow.base import DataFlow
from tensorpack.dataflow.common import MapData
from tensorpack.input_source.base import InputSource
from tensorpack.input_source.remap import ProxyInputSource
from tensorpack.input_source.sources import FeedfreeInput
from tensorpack.utils import logger

__all__ = ["TensorInput", "DummyConstantInput", "TFDatasetInput", "StagingInput"]


class TensorInput(FeedfreeInput):
    """Inputs made by a function (e.g. a TF reading pipeline), called once per tower."""

    def __init__(self, get_tensor_fn, size=None):
        """
        Args:
            get_tensor_fn (callable): () -> list of tensors, one per model input; each is
                evaluated every step.
            size (int): datapoints per epoch, if known.

        Raises:
            ValueError: if ``get_tensor_fn`` is not callable or ``size`` is not positive.
        """
        if not callable(get_tensor_fn):
            raise ValueError("TensorInput needs a function, got {!r}.".format(get_tensor_fn))
        if size is not None and int(size) <= 0:
            raise ValueError("TensorInput: size must be positive, got {}.".format(size))
        self.get_tensor_fn = get_tensor_fn
        self._fixed_size = None if size is None else int(size)

    def _setup(self, input_signature):
        self._spec = input_signature

    def _size(self):
        if self._fixed_size is None:
            raise NotImplementedError("The size of this TensorInput is unknown.")
        return self._fixed_size

    def _get_input_tensors(self):
        with self.cached_name_scope():
            ret = self.get_tensor_fn()
        if not isinstance(ret, (list, tuple)) or len(ret) != len(self._spec):
            raise ValueError("TensorInput's function must return a list of {} tensors ({}), got "
                             "{!r}.".format(len(self._spec), [s.name for s in self._spec], ret))
        return list(ret)


class DummyConstantInput(TensorInput):
    """Constant zero inputs of given shapes: measures a model's speed without any input cost."""

    def __init__(self, shapes):
        """
        Args:
            shapes (list[list[int]]): one fully defined shape per model input.
        """
        self.shapes = shapes
        logger.warn("Using dummy input for debug!")

        def zeros():
            if len(self.shapes) != len(self._spec):
                raise ValueError("DummyConstantInput: {} shapes for {} inputs.".format(
                    len(self.shapes), len(self._spec)))
            return [tf.zeros(shape, dtype=spec.dtype, name="dummy-" + spec.name)
                    for shape, spec in zip(self.shapes, self._spec)]
        super().__init__(zeros)


class TFDatasetInput(FeedfreeInput):
    """Inputs from a ``tf.data.Dataset`` (or a DataFlow turned into one). For training it must
    be infinite (``dataset.repeat()``); :meth:`reset_state` restarts it.
    """

    def __init__(self, dataset):
        """
        Args:
            dataset (tf.data.Dataset or DataFlow):

        Raises:
            ValueError: for anything else.
        """
        if isinstance(dataset, tf.data.Dataset):
            self._dataset, self._dataflow = dataset, None
        elif isinstance(dataset, DataFlow):
            self._dataset, self._dataflow = None, dataset
        else:
            raise ValueError("TFDatasetInput takes a tf.data.Dataset or a DataFlow, got "
                             "{!r}.".format(dataset))

    def _setup(self, input_signature):
        self._spec = input_signature
        if self._dataset is None:
            self._dataset = self.dataflow_to_dataset(self._dataflow, input_signature)
        types = tfv1.data.get_output_types(self._dataset)
        types = tuple(types) if isinstance(types, (tuple, list)) else (types,)
        want = tuple(s.dtype for s in input_signature)
        if types != want:
            raise ValueError("TFDatasetInput: the dataset yields {} but the model inputs are "
                             "{}.".format([t.name for t in types], [t.name for t in want]))
        self._iterator = tfv1.data.make_initializable_iterator(self._dataset)
        self._init_op = self._iterator.initializer

    def _reset_state(self):
        tfv1.get_default_session().run(self._init_op)

    def _get_input_tensors(self):
        ret = self._iterator.get_next()
        ret = list(ret) if isinstance(ret, (tuple, list)) else [ret]
        for t, spec in zip(ret, self._spec):
            t.set_shape(spec.shape)
        return ret

    @staticmethod
    def dataflow_to_dataset(df, types):
        """Wrap a DataFlow of lists into a ``tf.data.Dataset`` (calls ``df.reset_state()``).

        Args:
            df (DataFlow): yields lists.
            types (list): ``tf.DType`` per component, or ``tf.TensorSpec`` per component.

        Returns:
            tf.data.Dataset: finite if ``df`` is; add ``.repeat()`` for training.
        """
        specs = tuple(t if isinstance(t, tf.TensorSpec) else tf.TensorSpec(None, t)
                      for t in types)
        specs = tuple(tf.TensorSpec(s.shape, s.dtype) for s in specs)  # drop names
        df = MapData(df, tuple)
        df.reset_state()
        return tf.data.Dataset.from_generator(lambda: iter(df), output_signature=specs)


class StagingInput(ProxyInputSource, FeedfreeInput):
    """Upstream prefetches another input into a GPU StagingArea. With one device there is
    nothing to overlap, so this wrapper passes the wrapped input through unchanged (kept so
    that scripts using it run as they are).
    """

    def __init__(self, input, nr_stage=1, device=None):
        """
        Args:
            input (InputSource): the wrapped (feed-free) input.
            nr_stage, device: accepted for compatibility; unused.

        Raises:
            ValueError: if ``input`` is not an InputSource.
        """
        if not isinstance(input, InputSource):
            raise ValueError("StagingInput wraps an InputSource, got {!r}.".format(input))
        self._input = input
