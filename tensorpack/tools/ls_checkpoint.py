"""``ls-checkpoint``: list the tensors of a checkpoint: name, shape, dtype and size.

Works on a TensorFlow checkpoint given in any form (prefix, ``.index``, ``.data-*``, the
``checkpoint`` state file, or a directory, which means its latest checkpoint), and on
``.npz``, ``.safetensors`` and (with ``--allow-pickle``) legacy ``.npy`` dict files.
Only the index / headers are read, never the tensor data, and TensorFlow is not imported.

Examples::

    ls-checkpoint train_log/run1                      # the latest checkpoint in a log dir
    ls-checkpoint train_log/run1/model-5000 --filter 'conv*/W'
    ls-checkpoint pretrained.npz --regex 'bn|BatchNorm' --json
    ls-checkpoint train_log/run1/model-5000 --check   # also verify every tensor's data
    ls-checkpoint train_log/run1 --verify             # verify every checkpoint in the dir
    ls-checkpoint train_log/run1 --verify --repair-state
"""
import json
import os
import sys

from tensorpack.tools import _cli

__all__ = ["main", "list_tensors"]

PROG = "ls-checkpoint"


def _parser():
    p = _cli.ArgumentParser(
        prog=PROG,
        description="List the tensors of a checkpoint (name, shape, dtype, size), sorted by "
                    "name, with totals. Reads only the index; never imports TensorFlow.")
    p.add_argument("path", metavar="PATH", help=_cli.INPUT_HELP)
    _cli.add_filter_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print JSON: {path, tensors: [{name, shape, dtype, nbytes}], totals}")
    p.add_argument("--sort", choices=["name", "size"], default="name",
                   help="row order (default: name)")
    p.add_argument("--check", action="store_true",
                   help="also read every listed tensor and verify its checksum (reads all "
                        "the data; without it only the index is read)")
    p.add_argument("--verify", action="store_true",
                   help="PATH is a directory: read every model-STEP checkpoint in it, verify "
                        "checksums, and name the newest intact one (exit status 1 if any "
                        "checkpoint is damaged)")
    p.add_argument("--repair-state", action="store_true",
                   help="with --verify: rewrite the directory's 'checkpoint' state file to "
                        "name the newest intact checkpoint")
    p.add_argument("--prefix", default="model",
                   help="with --verify: the checkpoints' name before -STEP (default: model)")
    _cli.add_source_arguments(p, verify=False)
    return p


def check_tensors(source, infos):
    """Read each tensor once (checksums are verified on read), one at a time."""
    from tqdm import tqdm
    total = sum(i.nbytes or 0 for i in infos)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="checking",
              file=sys.stderr, disable=None, leave=False) as bar:
        for info in infos:
            source.read(info.name)
            bar.update(info.nbytes or 0)


def list_tensors(source, keep=None):
    """The rows and totals that ``ls-checkpoint`` shows.

    Args:
        source (CheckpointSource): an opened source.
        keep (callable or None): a predicate on names; None keeps all.

    Returns:
        tuple(list[TensorInfo], dict): the tensors (sorted by name) and the totals
        ``{"tensors", "parameters", "bytes"}``; ``bytes`` leaves out string tensors, whose
        size is only known from their data (``string_tensors`` counts them).
    """
    infos = [i for name, i in source.infos().items() if keep is None or keep(name)]
    nbytes = [i.nbytes for i in infos]
    totals = {"tensors": len(infos),
              "parameters": sum(i.size for i in infos),
              "bytes": sum(n for n in nbytes if n is not None)}
    strings = sum(n is None for n in nbytes)
    if strings:
        totals["string_tensors"] = strings
    return infos, totals


_HEADERS = ("name", "shape", "dtype", "size")
_RIGHT = (False, False, False, True)


def format_table(rows):
    """The table in tabulate's ``simple`` layout (size right-aligned).

    tabulate spends most of its time on per-cell type detection, which is wasted on
    pre-formatted text; with tens of thousands of rows it would dominate the run time. So
    plain-ASCII tables (all of them, in practice) are laid out here, identically; others
    go through tabulate, which also measures wide Unicode characters.
    """
    if not all(cell.isascii() for row in rows for cell in row):
        from tabulate import tabulate
        return tabulate(rows, headers=_HEADERS, colalign=("left", "left", "left", "right"),
                        disable_numparse=True)
    # like tabulate: a column is at least its header plus 2 wide
    widths = [max([len(h) + 2] + [len(r[i]) for r in rows]) for i, h in enumerate(_HEADERS)]

    def line(cells):
        return "  ".join(c.rjust(w) if right else c.ljust(w)
                         for c, w, right in zip(cells, widths, _RIGHT))
    return "\n".join([line(_HEADERS), "  ".join("-" * w for w in widths)]
                     + [line(r) for r in rows])


def _print_table(infos, totals, out):
    rows = [(i.name, _cli.format_shape(i.shape), i.dtype, _cli.human_bytes(i.nbytes))
            for i in infos]
    if rows:
        out.write(format_table(rows))
        out.write("\n")
    line = "{} tensors, {:,} parameters, {:,} bytes ({})".format(
        totals["tensors"], totals["parameters"], totals["bytes"],
        _cli.human_bytes(totals["bytes"]))
    if totals.get("string_tensors"):
        line += ", plus {} string tensor(s) of unknown size".format(totals["string_tensors"])
    out.write(line + "\n")


def _print_json(path, infos, totals, out):
    # One tensor per line: readable, greppable, and still a single JSON document.
    rows = ",\n".join("  " + json.dumps({"name": i.name, "shape": list(i.shape),
                                          "dtype": i.dtype, "nbytes": i.nbytes})
                       for i in infos)
    tensors = "[\n{}\n ]".format(rows) if rows else "[]"
    out.write('{{\n "path": {},\n "tensors": {},\n "totals": {}\n}}\n'.format(
        json.dumps(path), tensors, json.dumps(totals)))


def _verify_directory(args):
    from tqdm import tqdm

    from tensorpack.checkpoint.paths import checkpoint_files, list_checkpoints
    from tensorpack.checkpoint.state import latest_checkpoint
    from tensorpack.checkpoint.verify import repair_state_file, verify_directory
    if not os.path.isdir(args.path):
        raise _cli.ToolError(args.path, "--verify needs the directory a training run saved "
                                        "into")
    with _cli.about(args.path):
        ckpts = list_checkpoints(args.path, args.prefix)
        if not ckpts:
            raise _cli.ToolError(args.path, "no {}-STEP checkpoint in this directory".format(
                args.prefix))
        total = sum(os.path.getsize(f) for c in ckpts for f in checkpoint_files(c))
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="verifying",
                  file=sys.stderr, disable=None, leave=False) as bar:
            results = verify_directory(args.path, args.prefix, progress=bar.update)
        state_latest = latest_checkpoint(args.path)
        repaired = repair_state_file(args.path, results) if args.repair_state else None
    newest = next((r.path for r in results if r.ok), None)
    if args.json:
        sys.stdout.write(json.dumps({
            "directory": args.path, "newest_intact": newest, "state_latest": state_latest,
            "repaired": repaired,
            "checkpoints": [dict(r._asdict(), ok=r.ok) for r in results]}, indent=1) + "\n")
    else:
        rows = [(os.path.basename(r.path), "" if r.step is None else str(r.step),
                 str(r.tensors), _cli.human_bytes(r.nbytes),
                 "intact" if r.ok else "DAMAGED: " + r.problem) for r in results]
        from tabulate import tabulate
        sys.stdout.write(tabulate(rows, headers=("checkpoint", "step", "tensors", "checked",
                                                 "status"), disable_numparse=True) + "\n")
        sys.stdout.write(_verdict(newest, state_latest, repaired, args.repair_state) + "\n")
    bad = sum(not r.ok for r in results)
    if bad:
        sys.stderr.write("{}: {} of {} checkpoints in '{}' are damaged\n".format(
            PROG, bad, len(results), args.path))
        return 1
    return 0


def _verdict(newest, state_latest, repaired, asked_repair):
    if newest is None:
        return "No intact checkpoint."
    line = "Newest intact checkpoint: {}.".format(newest)
    if repaired:
        return line + " The state file now names it."
    if state_latest != newest:
        line += " The state file names {}; --repair-state points it at the newest intact " \
                "one.".format(state_latest or "no existing checkpoint")
    return line


def _main(argv):
    args = _parser().parse_args(argv)
    if args.repair_state and not args.verify:
        raise _cli.ToolError(None, "--repair-state works with --verify")
    if args.verify:
        return _verify_directory(args)
    keep = _cli.name_filter(args.globs, args.regexes)
    source = _cli.open_input(args.path, allow_pickle=args.allow_pickle)
    with source, _cli.about(args.path):
        infos, totals = list_tensors(source, keep)
        if args.check:
            check_tensors(source, infos)
    if args.sort == "size":
        infos.sort(key=lambda i: (-(i.nbytes or 0), i.name))
    if args.json:
        if args.check:
            totals["checked"] = True
        _print_json(source.path or args.path, infos, totals, sys.stdout)
    else:
        _print_table(infos, totals, sys.stdout)
        if args.check:
            sys.stdout.write("Checked: every listed tensor was read back intact.\n")
    if keep is not None and not infos:
        # Not an error (the listing is valid), but worth saying why nothing is shown.
        sys.stderr.write("{}: no tensor matches the filter ({} tensors in total)\n".format(
            PROG, len(source.infos())))


def main(argv=None):
    """Run ``ls-checkpoint``. Returns the exit status (0 on success)."""
    return _cli.run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
