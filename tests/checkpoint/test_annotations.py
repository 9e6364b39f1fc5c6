"""Every public function, method and constructor of the checkpoint core and of
``tensorpack.tfutils.sessinit`` carries type annotations (issue 11), and stays that way."""
import importlib
import inspect
import pkgutil

import pytest

import tensorpack.checkpoint


def _module_names():
    names = ["tensorpack.checkpoint." + info.name
             for info in pkgutil.iter_modules(tensorpack.checkpoint.__path__)]
    return sorted(names) + ["tensorpack.tfutils.sessinit"]


_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _defined_here(func, module):
    code = getattr(func, "__code__", None)
    return code is not None and code.co_filename == module.__file__


def _public_callables(module):
    """Yield ``(qualified name, function, is_constructor)`` for the module's public API:
    functions and classes defined in it, and the methods (including ``__init__``,
    properties, static and class methods) its public classes define themselves."""
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_"):
            continue
        if inspect.isfunction(obj) and _defined_here(obj, module):
            yield name, obj, False
        elif inspect.isclass(obj) and obj.__module__ == module.__name__:
            for attr, member in sorted(vars(obj).items()):
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member) and _defined_here(member, module):
                    yield "{}.{}".format(name, attr), member, attr == "__init__"


def _missing_annotations(func, is_constructor):
    missing = []
    params = list(inspect.signature(func).parameters.values())
    for i, param in enumerate(params):
        if param.kind in _SKIPPED_KINDS:
            continue
        if i == 0 and param.name in ("self", "cls"):
            continue
        if param.annotation is inspect.Parameter.empty:
            missing.append(param.name)
    if not is_constructor and "return" not in func.__annotations__:
        missing.append("return")
    return missing


@pytest.mark.parametrize("modname", _module_names())
def test_public_callables_are_annotated(modname):
    module = importlib.import_module(modname)
    found = list(_public_callables(module))
    problems = ["{}: {}".format(qualname, ", ".join(missing))
                for qualname, func, ctor in found
                for missing in [_missing_annotations(func, ctor)] if missing]
    assert not problems, "{} has unannotated public callables:\n  {}".format(
        modname, "\n  ".join(problems))


def test_walk_finds_the_public_api():
    # Guards the walker itself: it must see plain functions, constructors and methods.
    found = {q for q, _, _ in _public_callables(
        importlib.import_module("tensorpack.checkpoint.formats"))}
    assert "open_source" in found and "save_tensors" in found
    sess = {q for q, _, _ in _public_callables(
        importlib.import_module("tensorpack.tfutils.sessinit"))}
    assert {"SmartInit", "SessionInit.init", "ChainInit.__init__"} <= sess


def test_missing_annotations_are_reported():
    def bare(self, a, b: int, *args, c=1, **kwargs) -> None:
        pass

    def no_return(a: int):
        pass

    class Thing:
        def __init__(self, x):
            pass

    assert _missing_annotations(bare, False) == ["a", "c"]
    assert _missing_annotations(no_return, False) == ["return"]
    assert _missing_annotations(no_return, True) == []
    assert _missing_annotations(Thing.__init__, True) == ["x"]
