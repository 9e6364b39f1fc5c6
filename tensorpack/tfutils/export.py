"""Export a trained model for inference without tensorpack: a frozen GraphDef, or a
SavedModel for TensorFlow Serving."""
import os

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.fs import atomic_write

__all__ = ["ModelExporter"]


def _node_name(tensor):
    return tensor.op.name


class ModelExporter:
    """Build a :class:`PredictConfig`'s model for inference, load its weights, and write it
    in a form plain TensorFlow runs.

    Example::

        config = PredictConfig(model=Model(), session_init=SmartInit('train_log/run/checkpoint'),
                               input_names=['x'], output_names=['prob'])
        ModelExporter(config).export_compact('/tmp/model.pb')
        ModelExporter(config).export_serving('/tmp/serving')
    """

    def __init__(self, config):
        """
        Args:
            config (PredictConfig): the model is built with its tower function (an inference
                tower named ''), initialized with its ``session_init``; its ``input_names``
                and ``output_names`` become the exported inputs and outputs.
        """
        self.config = config
        self.graph = None

    def _build(self):
        """Build the inference graph and a session holding the loaded weights.

        Returns:
            (list[tf.Tensor], list[tf.Tensor], tf.compat.v1.Session): inputs, outputs, session.
        """
        from tensorpack.predict.base import build_inference_graph  # layer 5: import when used

        config = self.config
        self.graph, inputs, outputs = build_inference_graph(config)
        with self.graph.as_default():
            # Not the config's session creator: it may finalize the graph, and freezing or
            # saving adds ops.
            sess = tfv1.Session(graph=self.graph,
                                config=tfv1.ConfigProto(allow_soft_placement=True))
            sess.run([tfv1.global_variables_initializer(), tfv1.local_variables_initializer()])
            config.session_init._run_init(sess)
        return inputs, outputs, sess

    def export_compact(self, filename, optimize=True, toco_compatible=False):
        """Write a self-contained inference graph (variables frozen into constants, nodes the
        outputs do not need pruned) as a binary ``GraphDef`` file.

        Load it with plain TensorFlow::

            graph_def = tf.compat.v1.GraphDef.FromString(open(filename, 'rb').read())
            tf.compat.v1.import_graph_def(graph_def, name='')

        Args:
            filename (str): the ``.pb`` file to write.
            optimize (bool): also run TensorFlow's ``optimize_for_inference`` (folds batch
                norms, removes identities); it does not suit every graph.
            toco_compatible (bool): passed to ``optimize_for_inference``.

        Raises:
            ValueError: if ``toco_compatible`` is set without ``optimize``.
        """
        if toco_compatible and not optimize:
            raise ValueError("ModelExporter.export_compact: toco_compatible=True needs "
                             "optimize=True.")
        inputs, outputs, sess = self._build()
        output_nodes = [_node_name(t) for t in outputs]
        with sess:
            graph_def = tfv1.graph_util.convert_variables_to_constants(
                sess, self.graph.as_graph_def(), output_nodes)
        if optimize:
            from tensorflow.python.tools import optimize_for_inference_lib
            graph_def = optimize_for_inference_lib.optimize_for_inference(
                graph_def, [_node_name(t) for t in inputs], output_nodes,
                [t.dtype.as_datatype_enum for t in inputs], toco_compatible)
        else:
            graph_def = tfv1.graph_util.extract_sub_graph(graph_def, output_nodes)
        _drop_unused_functions(graph_def)
        with atomic_write(filename, "wb") as f:
            f.write(graph_def.SerializeToString())
        logger.info("Output graph written to {}.".format(filename))

    def export_serving(self, filename, tags=None, signature_name="prediction_pipeline"):
        """Write a SavedModel (``saved_model.pb`` + ``variables/``) for TensorFlow Serving or
        ``tf.compat.v1.saved_model.loader.load``.

        It holds one predict signature: its inputs and outputs are keyed by tensor name
        (e.g. ``'input:0'``), as upstream writes them.

        Args:
            filename (str): the export directory; it must not exist yet.
            tags (tuple[str]): the meta-graph's tags; ``('serve',)`` by default.
            signature_name (str): the signature's key.

        Raises:
            FileExistsError: if ``filename`` exists (a SavedModel is never written over
                existing files).
        """
        if tags is None:
            tags = (tf.saved_model.SERVING,)
        if os.path.exists(filename):
            raise FileExistsError("ModelExporter.export_serving: '{}' already exists; give a "
                                  "new directory (it will be created).".format(filename))
        inputs, outputs, sess = self._build()
        saved_model = tfv1.saved_model
        with sess, self.graph.as_default():
            signature = saved_model.signature_def_utils.build_signature_def(
                inputs={t.name: saved_model.utils.build_tensor_info(t) for t in inputs},
                outputs={t.name: saved_model.utils.build_tensor_info(t) for t in outputs},
                method_name=saved_model.signature_constants.PREDICT_METHOD_NAME)
            builder = saved_model.builder.SavedModelBuilder(filename)
            builder.add_meta_graph_and_variables(
                sess, list(tags), signature_def_map={signature_name: signature})
            builder.save()
        logger.info("SavedModel created at {}.".format(filename))


def _drop_unused_functions(graph_def):
    """Remove from ``graph_def``'s function library what no node calls, directly or through
    another function (pruning nodes leaves the library as it was: it would keep, e.g., the
    body of the restore that loaded the weights)."""
    library = {f.signature.name: f for f in graph_def.library.function}
    used, todo = set(), [graph_def.node]
    while todo:
        for node in todo.pop():
            for name in _called_functions(node):
                if name in library and name not in used:
                    used.add(name)
                    todo.append(library[name].node_def)
    keep = [f for f in graph_def.library.function if f.signature.name in used]
    if len(keep) != len(library):
        del graph_def.library.function[:]
        graph_def.library.function.extend(keep)
        gradients = [g for g in graph_def.library.gradient if g.function_name in used]
        del graph_def.library.gradient[:]
        graph_def.library.gradient.extend(gradients)


def _called_functions(node):
    yield node.op
    for value in node.attr.values():
        if value.HasField("func"):
            yield value.func.name
        for func in value.list.func:
            yield func.name
