"""Write ``upstream_names.json``: every public name of every module of upstream tensorpack 0.11.

Run it with upstream's interpreter, outside this repository (so that ``import tensorpack``
finds upstream's package)::

    cd /tmp && env -u PYTHONPATH /work/upstream-venv/bin/python \\
        /path/to/tests/upstream_api/make_upstream_names.py /path/to/tests/upstream_api/upstream_names.json

A module's public names are its ``__all__``; without one, the names it binds at top level
that do not start with ``_`` (for the top-level package: what ``dir()`` shows, as
``from tensorpack import *`` then binds them). A module that cannot be imported on today's
TensorFlow is read from its source with ``ast``.
"""
import ast
import importlib
import inspect
import json
import os
import pkgutil
import sys
import types


def _modules(package):
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        last = info.name.rsplit(".", 1)[-1]
        if last.startswith("_") or "test" in last or info.name.startswith("tensorpack.contrib"):
            continue
        names.append(info.name)
    return sorted(names)


def _kind(value):
    if isinstance(value, types.ModuleType):
        return "module"
    if inspect.isclass(value):
        return "class"
    if callable(value):
        return "function"
    return "constant"


def _source_names(path):
    """Public top-level names and their kinds, read from a module's source."""
    tree = ast.parse(open(path).read())
    declared = None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    if target.id == "__all__":
                        declared = list(ast.literal_eval(node.value))
                    elif not target.id.startswith("_"):
                        found[target.id] = "constant"
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            found[node.name] = "class" if isinstance(node, ast.ClassDef) else "function"
    if declared is not None:
        return {n: found.get(n, "unknown") for n in declared}
    return found


def _public_names(modname):
    try:
        mod = importlib.import_module(modname)
    except Exception:  # noqa: BLE001 - fall back to reading the source
        spec = importlib.util.find_spec(modname)
        return _source_names(spec.origin), "source"
    names = getattr(mod, "__all__", None)
    if names is None:
        if modname == "tensorpack":
            names = [n for n in dir(mod) if not n.startswith("_") and n != "STATICA_HACK"]
        else:
            defined = _source_names(mod.__file__)
            return defined, "source"
    return {n: _kind(getattr(mod, n, None)) for n in names}, "import"


def main(out_path):
    import tensorpack
    if not os.path.dirname(tensorpack.__file__).startswith(sys.prefix):
        raise SystemExit("This imported {} rather than upstream's installed tensorpack; run it "
                         "outside the repository, without PYTHONPATH.".format(tensorpack.__file__))
    result = {"version": getattr(tensorpack, "__version__", "?"), "modules": {}}
    for modname in _modules(tensorpack):
        names, how = _public_names(modname)
        result["modules"][modname] = {"names": dict(sorted(names.items())), "read_from": how}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(len(m["names"]) for m in result["modules"].values())
    print("{} modules, {} names -> {}".format(len(result["modules"]), total, out_path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "upstream_names.json"))
