"""``checkpoint-diff``: compare two checkpoints (or a checkpoint and an npz / safetensors
file): names on one side only, shape and dtype changes, and the largest absolute difference
of every tensor present on both sides.

Examples::

    checkpoint-diff train_log/run1/model-5000 train_log/run1/model-6000
    checkpoint-diff train_log/run1 exported.npz --filter 'conv*' --json
    checkpoint-diff a.safetensors b.safetensors --atol 1e-6 --exit-code
"""
import json
import sys

from tensorpack.tools import _cli

__all__ = ["main"]

PROG = "checkpoint-diff"


def _parser():
    p = _cli.ArgumentParser(
        prog=PROG,
        description="Compare the tensors of two checkpoints (any format ls-checkpoint reads). "
                    "Never imports TensorFlow; reads one tensor at a time.")
    p.add_argument("a", metavar="A", help="the first checkpoint or file")
    p.add_argument("b", metavar="B", help="the second checkpoint or file")
    _cli.add_filter_arguments(p)
    p.add_argument("--atol", type=float, default=0.0,
                   help="count tensors whose largest absolute difference is at most this as "
                        "equal (default: 0, exactly equal)")
    p.add_argument("--all", action="store_true", help="also list the equal tensors")
    p.add_argument("--json", action="store_true",
                   help="print JSON: {a, b, tensors: [{name, status, ...}], totals}")
    p.add_argument("--exit-code", action="store_true",
                   help="exit with status 1 when the checkpoints differ (like diff)")
    _cli.add_source_arguments(p, verify=True)
    return p


def _desc(info):
    return "" if info is None else "{} {}".format(info.dtype, _cli.format_shape(info.shape))


def _fmt(diff):
    return "" if diff is None else "{:.6g}".format(diff)


def _main(argv):
    args = _parser().parse_args(argv)
    keep = _cli.name_filter(args.globs, args.regexes)
    from tqdm import tqdm

    from tensorpack.checkpoint.diff import diff_sources
    a = _cli.open_input(args.a, allow_pickle=args.allow_pickle, verify=args.verify)
    b = _cli.open_input(args.b, allow_pickle=args.allow_pickle, verify=args.verify)
    with a, b, _cli.about("{} / {}".format(args.a, args.b)):
        total = sum(i.nbytes or 0 for i in a.infos().values())
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="comparing",
                  file=sys.stderr, disable=None, leave=False) as bar:
            diffs = diff_sources(a, b, keep=keep, atol=args.atol, on_tensor=bar.update)
    totals = {}
    for d in diffs:
        totals[d.status] = totals.get(d.status, 0) + 1
    if args.json:
        rows = [{"name": d.name, "status": d.status,
                 "a": None if d.a is None else {"shape": list(d.a.shape), "dtype": d.a.dtype},
                 "b": None if d.b is None else {"shape": list(d.b.shape), "dtype": d.b.dtype},
                 "max_abs_diff": d.max_abs_diff} for d in diffs if args.all or
                d.status != "equal"]
        # One tensor per line: readable, greppable, and still a single JSON document.
        body = ",\n".join("  " + json.dumps(r) for r in rows)
        sys.stdout.write('{{\n "a": {},\n "b": {},\n "tensors": [{}],\n "totals": {}\n}}\n'.format(
            json.dumps(args.a), json.dumps(args.b), "\n" + body + "\n " if rows else "",
            json.dumps(totals)))
    else:
        rows = [(d.name, d.status, _desc(d.a), _desc(d.b), _fmt(d.max_abs_diff))
                for d in diffs if args.all or d.status != "equal"]
        if rows:
            from tabulate import tabulate
            sys.stdout.write(tabulate(rows, headers=("name", "status", "A", "B", "max |A-B|"),
                                      disable_numparse=True) + "\n")
        sys.stdout.write("{} names: {}\n".format(len(diffs), ", ".join(
            "{} {}".format(n, s.replace("_", " ")) for s, n in sorted(totals.items())) or
            "none"))
    differ = any(d.status != "equal" for d in diffs)
    return 1 if (differ and args.exit_code) else 0


def main(argv=None):
    """Run ``checkpoint-diff``. Returns the exit status (0 on success)."""
    return _cli.run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
