"""``checkpoint-manipulate``: summarize a checkpoint, convert it, or explore it in a shell.

Examples::

    checkpoint-manipulate train_log/run1/model-5000                  # summary
    checkpoint-manipulate train_log/run1 --dump weights.npz          # convert (streams)
    checkpoint-manipulate weights.npz --dump converted/model         # npz -> TF checkpoint
    checkpoint-manipulate model.safetensors --shell                  # explore interactively

The input is anything ``ls-checkpoint`` reads. ``--dump`` writes ``.npz``, ``.safetensors``
or, for any other name, a TF checkpoint with that prefix; tensors are copied one at a
time, so memory stays at about the size of the largest tensor.
"""
import sys
from collections.abc import Mapping

from tensorpack.tools import _cli

__all__ = ["main", "LazyParams"]

PROG = "checkpoint-manipulate"


class LazyParams(Mapping):
    """A read-only dict view of a source: ``params[name]`` reads that tensor from disk
    when asked (nothing is cached, so exploring a huge checkpoint stays cheap)."""

    def __init__(self, source):
        self._source = source

    def __getitem__(self, name):
        return self._source.read(name)

    def __iter__(self):
        return iter(self._source.keys())

    def __len__(self):
        return len(self._source)

    def __contains__(self, name):
        return name in self._source

    def __repr__(self):
        return "<LazyParams: {} tensors from {}; index it to read one>".format(
            len(self), self._source.path)


def _parser():
    p = _cli.ArgumentParser(
        prog=PROG,
        description="Summarize a checkpoint, convert it (--dump), or open a Python shell "
                    "on it (--shell). Never imports TensorFlow.")
    p.add_argument("model", metavar="MODEL", help=_cli.INPUT_HELP)
    p.add_argument("--dump", metavar="OUT",
                   help="write the tensors to OUT: .npz, .safetensors, or else a TF "
                        "checkpoint prefix (streams one tensor at a time)")
    p.add_argument("--shell", action="store_true",
                   help="start an interactive Python shell with `source`, `keys`, `infos` "
                        "and `params` (a dict that reads a tensor when you index it)")
    _cli.add_filter_arguments(p)
    _cli.add_source_arguments(p)
    return p


def _summary(source, names, out):
    infos = source.infos()
    params = sum(infos[n].size for n in names)
    nbytes = sum(infos[n].nbytes or 0 for n in names)
    out.write("{}: {} tensors, {:,} parameters, {}\n".format(
        source.path, len(names), params, _cli.human_bytes(nbytes)))
    for n in names:
        out.write("  {}\n".format(n))


def _shell(source, names):
    import code

    import numpy as np
    infos = source.infos()
    scope = {"source": source, "keys": list(names), "infos": infos,
             "params": LazyParams(source), "np": np}
    banner = ("{} tensors from {}.\n"
              "  keys    list of names\n"
              "  infos   name -> TensorInfo(name, shape, dtype), no data read\n"
              "  params  name -> array, read from disk when indexed\n"
              "  source  the CheckpointSource (source.read(name), source.items())\n"
              "  np      numpy\n"
              "Exit with Ctrl-D.").format(len(names), source.path)
    if sys.stdin.isatty():
        _enable_completion(scope)
    code.interact(banner=banner, local=scope, exitmsg="")


def _enable_completion(scope):
    """Tab completion of Python names and attributes, when readline is available."""
    try:
        import readline
        import rlcompleter
    except ImportError:   # e.g. Windows without pyreadline
        return
    readline.set_completer(rlcompleter.Completer(scope).complete)
    readline.parse_and_bind("tab: complete")


def _main(argv):
    args = _parser().parse_args(argv)
    keep = _cli.name_filter(args.globs, args.regexes)
    source = _cli.open_input(args.model, allow_pickle=args.allow_pickle, verify=args.verify)
    with source:
        with _cli.about(args.model):
            names = [n for n in source.keys() if keep is None or keep(n)]
        if not args.dump and not args.shell:
            _summary(source, names, sys.stdout)
        if args.dump:
            _cli.write_tensors(source, args.dump, names, arg=args.model)
        if args.shell:
            _shell(source, names)


def main(argv=None):
    """Run ``checkpoint-manipulate``. Returns the exit status (0 on success)."""
    return _cli.run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
