"""The command-line tools (``ls-checkpoint``, ``checkpoint-manipulate``,
``dump-model-params``). They are thin layers over :mod:`tensorpack.checkpoint` and never
import TensorFlow. Each module has a ``main(argv=None)`` that returns the exit status.
"""
