"""``dump-model-params``: keep only the variables a model needs, and save them.

A training checkpoint also holds optimizer slots (``W/Momentum``), the global step and
other training-only state. Given the run's metagraph (``--meta graph-XXXX.meta``), this
tool keeps what upstream tensorpack keeps: variables that are global and either trainable
or in ``MODEL_VARIABLES`` (e.g. BatchNorm's moving statistics). Without ``--meta`` every
tensor is kept, which turns the tool into a converter.

The input may be a training log directory: then the checkpoint with the highest step and
the newest ``graph-*.meta`` (by modification time; or else the ``.meta`` saved with that
checkpoint) are used, and the choice is logged. The output is ``.npz`` (names end in
``:0``, as upstream writes them), ``.safetensors``, or else a TF checkpoint prefix. The
metagraph is read without TensorFlow, and tensors are streamed one at a time.

Examples::

    dump-model-params train_log/run1 model.npz
    dump-model-params --meta train_log/run1/graph-0101-120000.meta \\
        train_log/run1/model-5000 inference/model
"""
import glob
import os
import sys

from tensorpack.tools import _cli

__all__ = ["main", "choose_from_log_dir", "select_variables"]

PROG = "dump-model-params"


def _parser():
    p = _cli.ArgumentParser(
        prog=PROG,
        description="Keep only the TRAINABLE and MODEL variables that a metagraph lists "
                    "(all tensors without --meta) and write them to npz, safetensors or a "
                    "TF checkpoint. Never imports TensorFlow.")
    p.add_argument("--meta", metavar="GRAPH.meta",
                   help="the metagraph of the model (ModelSaver writes graph-*.meta in the "
                        "log directory); default: none, or the newest one when INPUT is a "
                        "log directory")
    p.add_argument("input", metavar="INPUT",
                   help="a TF checkpoint in any path form, a .npz / .safetensors / .npy "
                        "file, or a training log directory")
    p.add_argument("output", metavar="OUTPUT",
                   help="the output: .npz, .safetensors, or else a TF checkpoint prefix")
    p.add_argument("--op-names", action="store_true",
                   help="in an .npz output, write plain op names ('conv1/W') instead of "
                        "upstream's tensor names ('conv1/W:0')")
    _cli.add_source_arguments(p)
    return p


def choose_from_log_dir(dirname, meta=None):
    """Pick the metagraph and checkpoint to use from a training log directory.

    Args:
        dirname (str): the directory.
        meta (str or None): a metagraph the user chose; None picks the newest
            ``graph-*.meta`` (ModelSaver's) by modification time, or else the ``.meta``
            that a plain ``Saver`` wrote next to the chosen checkpoint.

    Returns:
        tuple(str, str): (metagraph file, checkpoint prefix).

    Raises:
        ToolError: if the directory has no checkpoint, or no metagraph (and none was given).
    """
    from tensorpack.checkpoint.paths import list_checkpoints, resolve_checkpoint_prefix
    from tensorpack.utils import logger

    ckpts = list_checkpoints(dirname, prefix="model")
    if ckpts:
        ckpt = ckpts[-1]
        how = "the highest step of {}".format(len(ckpts))
    else:
        with _cli.about(dirname):
            ckpt = resolve_checkpoint_prefix(dirname)
        how = "the latest in the directory"
    if meta is None:
        metas = glob.glob(os.path.join(glob.escape(dirname), "graph-*.meta"))
        if metas:
            # Name order is not time order (graph-MMDD-HHMMSS has no year): use mtimes.
            meta = max(metas, key=lambda m: (os.path.getmtime(m), m))
            logger.info("Using metagraph {} (the newest of {} by modification time).".format(
                meta, len(metas)))
        elif os.path.isfile(ckpt + ".meta"):
            meta = ckpt + ".meta"
            logger.info("Using metagraph {} (saved with the checkpoint).".format(meta))
        else:
            raise _cli.ToolError(dirname, "no metagraph (graph-*.meta, or {}.meta) in this "
                                          "directory; pass --meta GRAPH.meta, or pass the "
                                          "checkpoint itself to keep every tensor"
                                 .format(os.path.basename(ckpt)))
    logger.info("Using checkpoint {} ({}).".format(ckpt, how))
    return meta, ckpt


def select_variables(source_names, wanted):
    """Match the metagraph's variables to the source's tensors.

    Args:
        source_names (list[str]): the source's keys (op names, or ``name:0`` in some npz).
        wanted (list[str] or None): op names to keep; None keeps everything.

    Returns:
        tuple(list[str], list[str], list[str]): source keys kept, source keys dropped,
        and wanted names the source lacks.

    Raises:
        ToolError: if two source keys name the same variable (``a`` and ``a:0``).
    """
    from tensorpack.checkpoint.names import normalize_name
    by_op = {}
    for key in source_names:
        op = normalize_name(key)
        if op in by_op:
            raise _cli.ToolError(None, "the input has both '{}' and '{}', which name the same "
                                       "variable".format(by_op[op], key))
        by_op[op] = key
    if wanted is None:
        return list(source_names), [], []
    kept = [by_op[w] for w in wanted if w in by_op]
    missing = [w for w in wanted if w not in by_op]
    kept_set = set(kept)
    dropped = [k for k in source_names if k not in kept_set]
    return kept, dropped, missing


def _shorten(names, limit=10):
    shown = ", ".join(names[:limit])
    return shown + (", ... ({} more)".format(len(names) - limit) if len(names) > limit else "")


def _main(argv):
    from tensorpack.checkpoint.metagraph import model_variable_names
    from tensorpack.checkpoint.names import normalize_name
    from tensorpack.utils import logger

    args = _parser().parse_args(argv)
    meta, inp = args.meta, args.input
    if inp and os.path.isdir(inp):
        meta, inp = choose_from_log_dir(inp, meta)
    wanted = None
    if meta is not None:
        with _cli.about(meta):
            wanted = model_variable_names(meta)
    source = _cli.open_input(inp, allow_pickle=args.allow_pickle, verify=args.verify)
    with source:
        with _cli.about(inp):
            names = source.keys()
            kept, dropped, missing = select_variables(names, wanted)
        if missing:
            logger.warning("{} variable(s) of the metagraph are not in {}: {}".format(
                len(missing), source.path or inp, _shorten(missing)))
        if wanted is not None and not kept:
            raise _cli.ToolError(inp, "none of the {} variables that {} lists is in this "
                                      "checkpoint; is it the right metagraph?"
                                 .format(len(wanted), meta))
        if args.output.lower().endswith(".npz") and not args.op_names:
            def rename(key):  # upstream's npz files use tensor names
                return normalize_name(key) + ":0"
        else:
            rename = normalize_name
        _cli.write_tensors(source, args.output, kept, arg=args.input, rename=rename)
    # Said after the write, so that a failure is the only line on stderr.
    if wanted is None:
        logger.info("No metagraph given: kept all {} tensors.".format(len(kept)))
    else:
        logger.info("Kept {} of {} tensors (the trainable and model variables); dropped "
                    "{}{}".format(len(kept), len(names), len(dropped),
                                  ": " + _shorten(dropped) if dropped else "."))


def main(argv=None):
    """Run ``dump-model-params``. Returns the exit status (0 on success)."""
    return _cli.run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
