"""Tower contexts and tower functions.

A *tower* is one call of the model-building function. The trainer builds it under a
training context (``is_training=True``); predictors and InferenceRunner build it again
under a predict context, reusing the variables. Layers ask
:func:`get_current_tower_context` whether they are training (e.g. BatchNorm, Dropout).
"""
from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_op_or_tensor_by_name
from tensorpack.utils import logger
from tensorpack.utils.naming import MOVING_SUMMARY_OPS_KEY

__all__ = ["get_current_tower_context", "BaseTowerContext", "TowerContext", "TrainTowerContext",
           "PredictTowerContext", "TowerFunc", "TowerFuncWrapper", "TowerTensorHandle",
           "TowerTensorHandles"]


_current_context = None


class BaseTowerContext:
    """Metadata about the tower being built: its name scope, variable scope, training flag.

    Create one with :func:`TowerContext`; use it as a context manager.
    """

    _is_training = None

    def __init__(self, ns_name, vs_name=""):
        if vs_name and not ns_name:
            raise ValueError("TowerContext: vs_name='{}' needs a non-empty tower name.".format(
                vs_name))
        self._name = ns_name
        self._vs_name = vs_name
        self._start = {}
        self._end = None

    @property
    def is_training(self):
        """bool: whether this tower is built for training."""
        return self._is_training

    @property
    def is_main_training_tower(self):
        """bool: whether this is the first training tower."""
        return False

    @property
    def has_own_variables(self):
        """bool: whether this tower creates its own trainable variables."""
        return True

    @property
    def name(self):
        """str: the name scope of the tower."""
        return self._name

    ns_name = name

    @property
    def vs_name(self):
        """str: the variable scope of the tower."""
        return self._vs_name

    def _keys_to_freeze(self):
        return []

    def get_collection_in_tower(self, key):
        """Items added to a graph collection while this tower was being built.

        Args:
            key (str): the collection key.

        Returns:
            list
        """
        coll = tfv1.get_default_graph().get_collection(key)
        end = len(coll) if self._end is None else self._end.get(key, len(coll))
        return coll[self._start.get(key, 0):end]

    def _scopes(self):
        if not self._name:
            return [tfv1.variable_scope(tfv1.get_variable_scope())]
        scopes = [tfv1.variable_scope(self._vs_name) if self._vs_name
                  else tfv1.variable_scope(tfv1.get_variable_scope())]
        scopes.append(tfv1.name_scope(self._name + "/"))
        return scopes

    def __enter__(self):
        global _current_context
        if _current_context is not None:
            raise RuntimeError("TowerContext '{}' cannot be nested inside TowerContext '{}'."
                               .format(self._name, _current_context.name))
        _current_context = self
        graph = tfv1.get_default_graph()
        self._start = {k: len(graph.get_collection(k)) for k in graph.get_all_collection_keys()}
        # Inference towers must not add summaries / update ops that training would then run.
        self._frozen = {k: list(graph.get_collection(k)) for k in self._keys_to_freeze()}
        self._ctxs = self._scopes()
        for c in self._ctxs:
            c.__enter__()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        global _current_context
        _current_context = None
        graph = tfv1.get_default_graph()
        self._end = {k: len(graph.get_collection(k)) for k in graph.get_all_collection_keys()}
        for key, saved in self._frozen.items():
            coll = graph.get_collection_ref(key)
            if len(coll) != len(saved):
                del coll[:]
                coll.extend(saved)
        for c in reversed(self._ctxs):
            c.__exit__(exc_type, exc_val, exc_tb)
        return False

    def __str__(self):
        return "TowerContext(name={}, is_training={})".format(self._name, self._is_training)


class TrainTowerContext(BaseTowerContext):
    """The context of a training tower."""

    def __init__(self, ns_name, vs_name="", index=0, total=1):
        """
        Args:
            ns_name (str): name scope.
            vs_name (str): variable scope.
            index (int): index of this tower among ``total`` training towers.
            total (int): number of training towers.
        """
        super().__init__(ns_name, vs_name)
        self._is_training = True
        self.index = int(index)
        self.total = int(total)
        self._original_reuse = tfv1.get_variable_scope().reuse

    @property
    def is_main_training_tower(self):
        return self.index == 0

    @property
    def has_own_variables(self):
        if self._original_reuse:
            return False
        return self.index == 0 or bool(self._vs_name)

    def _keys_to_freeze(self):
        if self.index == 0:
            return []
        return [tfv1.GraphKeys.SUMMARIES, MOVING_SUMMARY_OPS_KEY]


class PredictTowerContext(BaseTowerContext):
    """The context of an inference tower (``is_training=False``)."""

    def __init__(self, ns_name, vs_name=""):
        super().__init__(ns_name, vs_name)
        self._is_training = False
        self._initial_reuse = tfv1.get_variable_scope().reuse

    @property
    def has_own_variables(self):
        return not self._initial_reuse

    def _keys_to_freeze(self):
        return [tfv1.GraphKeys.SUMMARIES, MOVING_SUMMARY_OPS_KEY, tfv1.GraphKeys.UPDATE_OPS]


def get_current_tower_context():
    """Returns:
        BaseTowerContext or None: the tower context being built, if any.
    """
    return _current_context


def TowerContext(tower_name, is_training, vs_name=""):
    """The context to build a tower in.

    Args:
        tower_name (str): name scope of the tower ('' for none).
        is_training (bool): training or inference tower.
        vs_name (str): optional variable scope.

    Returns:
        BaseTowerContext: use it with ``with``.
    """
    if is_training:
        return TrainTowerContext(tower_name, vs_name=vs_name)
    return PredictTowerContext(tower_name, vs_name=vs_name)


class TowerFunc:
    """A model-building function plus its input signature; remembers every tower it built.

    Trainers need it to build inference towers (predictors, InferenceRunner) of the
    same model.
    """

    def __new__(cls, tower_fn, input_signature=None):
        if isinstance(tower_fn, TowerFunc):  # wrapping twice is a no-op
            return tower_fn
        return super().__new__(cls)

    def __init__(self, tower_fn, input_signature):
        """
        Args:
            tower_fn (callable): builds one tower from input tensors.
            input_signature (list[tf.TensorSpec]): describes the inputs (names matter).

        Raises:
            ValueError: for duplicate or invalid input names.
        """
        if isinstance(tower_fn, TowerFunc):
            return
        if not callable(tower_fn):
            raise ValueError("TowerFunc needs a callable, got {!r}.".format(tower_fn))
        names = [spec.name for spec in input_signature]
        if len(set(names)) != len(names):
            raise ValueError("Duplicate input names in the input signature: {}.".format(names))
        for name in names:
            if not name or any(c in name for c in ":/ "):
                raise ValueError("Invalid input name {!r}: it must be non-empty and contain no "
                                 "':', '/' or space.".format(name))
        self._tower_fn = tower_fn
        self._input_signature = list(input_signature)
        self._handles = []

    def __call__(self, *args):
        ctx = get_current_tower_context()
        if ctx is None:
            raise RuntimeError("A tower function must be called under a TowerContext.")
        output = self._tower_fn(*args)
        self._handles.append(TowerTensorHandle(ctx, args, output, self._input_signature))
        return output

    @property
    def towers(self):
        """TowerTensorHandles: every tower built so far."""
        return TowerTensorHandles(self._handles)

    @property
    def input_signature(self):
        """list[tf.TensorSpec]: the inputs of the function."""
        return self._input_signature


TowerFuncWrapper = TowerFunc


class TowerTensorHandles:
    """A list of :class:`TowerTensorHandle`, indexable by position or tower name."""

    def __init__(self, handles):
        self._handles = list(handles)
        self._by_name = {h.ns_name: h for h in self._handles}

    def __len__(self):
        return len(self._handles)

    def __getitem__(self, name_or_index):
        if isinstance(name_or_index, int):
            return self._handles[name_or_index]
        return self._by_name[name_or_index]

    def training(self):
        """Returns: TowerTensorHandles: the training towers."""
        return TowerTensorHandles([h for h in self._handles if h.is_training])

    def inference(self):
        """Returns: TowerTensorHandles: the inference towers."""
        return TowerTensorHandles([h for h in self._handles if not h.is_training])


class TowerTensorHandle:
    """Access the tensors of one built tower by their names without the tower prefix."""

    def __init__(self, ctx, inputs, outputs, input_signature=None):
        self._ctx = ctx
        self._inputs = inputs
        self._outputs = outputs
        self._input_by_name = {}
        if input_signature is not None:
            self._input_by_name = {get_op_tensor_name(spec.name)[1]: t
                                   for spec, t in zip(input_signature, inputs)}

    @property
    def vs_name(self):
        return self._ctx.vs_name

    @property
    def ns_name(self):
        return self._ctx.ns_name

    @property
    def is_training(self):
        return self._ctx.is_training

    @property
    def inputs(self):
        """list[tf.Tensor]: the tensors the tower was built from."""
        return self._inputs

    @property
    def outputs(self):
        """The tower function's return value."""
        return self._outputs

    def get_tensor(self, name):
        """A tensor of this tower: a graph name without the tower prefix, or an input name.

        Args:
            name (str): e.g. ``"fc/output"`` or ``"label"``.

        Returns:
            tf.Tensor

        Raises:
            KeyError: if nothing of that name exists in the tower.
        """
        name = get_op_tensor_name(name)[1]
        full = self.ns_name + "/" + name if self.ns_name else name
        if name in self._input_by_name:
            # the input the tower actually used (e.g. a dequeued tensor), not a stray placeholder
            return self._input_by_name[name]
        try:
            return get_op_or_tensor_by_name(full)
        except KeyError:
            return self.get_variable(name)

    def get_tensors(self, names):
        """Like :meth:`get_tensor`, for a list of names."""
        return [self.get_tensor(n) for n in names]

    __getitem__ = get_tensor

    def get_variable(self, name):
        """A variable of this tower, by its name without the tower's variable scope."""
        name = get_op_tensor_name(name)[1]
        full = self.vs_name + "/" + name if self.vs_name else name
        return get_op_or_tensor_by_name(full)

    def get_variables(self, names):
        """Like :meth:`get_variable`, for a list of names."""
        return [self.get_variable(n) for n in names]

    def get_collection(self, key=None, name=None):
        """Items added to collection ``key`` while building this tower."""
        if name is not None:
            logger.warn("TowerTensorHandle.get_collection(name=...) is deprecated; use key=.")
            key = name
        return self._ctx.get_collection_in_tower(key)
