#!/usr/bin/env python3
"""`checkpoint-diff` from a source checkout (also installed as the `ls-checkpoint` command)."""
import os
import sys

# Run from a checkout without installing: make the repository's package importable.
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_REPO, "tensorpack")) and _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tensorpack.tools.checkpoint_diff import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
