"""launch_train_with_config: the classic one-call training interface."""
from tensorpack.compat import tfv1
from tensorpack.input_source import FeedInput, InputSource, QueueInput
from tensorpack.train.config import TrainConfig
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.train.trainers import SimpleTrainer
from tensorpack.utils import logger

__all__ = ["launch_train_with_config", "apply_default_prefetch"]


def apply_default_prefetch(input_source_or_dataflow, trainer):
    """Wrap a DataFlow into an InputSource: FeedInput for a plain SimpleTrainer (as upstream
    did), QueueInput otherwise. An InputSource is returned as is.

    Args:
        input_source_or_dataflow (InputSource or DataFlow):
        trainer (Trainer):

    Returns:
        InputSource
    """
    if isinstance(input_source_or_dataflow, InputSource):
        return input_source_or_dataflow
    if type(trainer) is SimpleTrainer:
        return FeedInput(input_source_or_dataflow)
    logger.info("Automatically applying QueueInput on the DataFlow.")
    return QueueInput(input_source_or_dataflow)


def launch_train_with_config(config, trainer):
    """Build the model of ``config`` with ``trainer`` and train it.

    The same as::

        input = apply_default_prefetch(config.data or config.dataflow, trainer)
        trainer.setup_graph(model.get_input_signature(), input, model.build_graph,
                            model.get_optimizer)
        trainer.train_with_defaults(callbacks=config.callbacks, ...)

    Args:
        config (TrainConfig):
        trainer (SingleCostTrainer): e.g. ``SimpleTrainer()``.

    Raises:
        TypeError: if ``config`` or ``trainer`` has the wrong type.
        ValueError: if the config has no model or no input.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError("launch_train_with_config() takes a TrainConfig, got {!r}.".format(config))
    if not isinstance(trainer, SingleCostTrainer):
        raise TypeError("launch_train_with_config() needs a single-cost trainer such as "
                        "SimpleTrainer(), got {!r}.".format(trainer))
    if config.model is None:
        raise ValueError("TrainConfig(model=...) is required by launch_train_with_config().")
    if config.dataflow is None and config.data is None:
        raise ValueError("TrainConfig needs dataflow= or data= for launch_train_with_config().")
    model = config.model
    inp = apply_default_prefetch(config.data or config.dataflow, trainer)
    trainer.setup_graph(model.get_input_signature(), inp, model.build_graph, model.get_optimizer)
    _check_unused_regularization()
    trainer.train_with_defaults(
        callbacks=config.callbacks, monitors=config.monitors,
        session_creator=config.session_creator, session_init=config.session_init,
        steps_per_epoch=config.steps_per_epoch, starting_epoch=config.starting_epoch,
        max_epoch=config.max_epoch, extra_callbacks=config.extra_callbacks)


def _check_unused_regularization():
    unused = [t.name for t in tfv1.get_collection(tfv1.GraphKeys.REGULARIZATION_LOSSES)
              if not t.consumers()]
    if unused:
        logger.warn("These tensors are in the REGULARIZATION_LOSSES collection but nothing uses "
                    "them; did you forget to add the regularization to the cost? {}".format(
                        ", ".join(unused)))
