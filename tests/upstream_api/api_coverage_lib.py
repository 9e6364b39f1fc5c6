"""Shared by the API-coverage test and the docs generator: which of upstream's public names
resolve in this package, and why the others are absent."""
import importlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_FILE = os.path.join(HERE, "upstream_names.json")
ABSENT_FILE = os.path.join(HERE, "known_absent.json")


def load_upstream():
    """Returns: dict: module -> {name: kind} of upstream 0.11."""
    with open(UPSTREAM_FILE) as f:
        data = json.load(f)
    return {m: v["names"] for m, v in data["modules"].items()}


def load_absent():
    """Returns: dict: ``'module:name'`` or ``'module:*'`` -> reason."""
    with open(ABSENT_FILE) as f:
        return json.load(f)


def save_absent(absent):
    with open(ABSENT_FILE, "w") as f:
        json.dump(dict(sorted(absent.items())), f, indent=1)
        f.write("\n")


def resolves(module, name):
    """Whether ``from <module> import <name>`` works here."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    try:
        getattr(mod, name)
    except AttributeError:
        return False
    return True


def absent_reason(absent, module, name):
    return absent.get("{}:{}".format(module, name)) or absent.get("{}:*".format(module))


def check_all():
    """Returns: (list of (module, name, kind, resolved, reason)), stale absent keys)."""
    upstream = load_upstream()
    absent = load_absent()
    rows = []
    used = set()
    for module, names in sorted(upstream.items()):
        for name, kind in sorted(names.items()):
            ok = resolves(module, name)
            reason = absent_reason(absent, module, name)
            if not ok and reason:
                used.add("{}:{}".format(module, name) if "{}:{}".format(module, name) in absent
                         else "{}:*".format(module))
            rows.append((module, name, kind, ok, reason))
    stale = sorted(k for k in absent if k not in used)
    return rows, stale
