"""``repr`` for augmentors and transforms, built from their constructor arguments."""
import inspect
import pprint


def _same(value, default):
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except Exception:  # e.g. arrays, whose == is elementwise
        return False


def constructor_repr(obj) -> str:
    """``imgaug.Name(arg=value, ...)`` listing the non-default constructor arguments.

    Works when the object stores each constructor argument as an attribute of the same
    name (what ``self._init(locals())`` does); otherwise falls back to ``object.__repr__``.
    """
    name = type(obj).__name__
    try:
        params = inspect.signature(type(obj).__init__).parameters
    except (TypeError, ValueError):
        return object.__repr__(obj)
    parts = []
    for pname, p in list(params.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            return object.__repr__(obj)
        try:
            value = object.__getattribute__(obj, pname)
        except AttributeError:
            return object.__repr__(obj)
        if p.default is not p.empty and _same(value, p.default):
            continue
        parts.append("{}={}".format(pname, pprint.pformat(value)))
    return "imgaug.{}({})".format(name, ", ".join(parts))
