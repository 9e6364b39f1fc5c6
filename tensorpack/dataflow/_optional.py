"""Optional dependencies of the data pipeline, imported only when a feature needs them.

``import tensorpack.dataflow`` stays fast and works without OpenCV or SciPy; a feature that
needs one of them raises an ImportError telling the user which extra to install.
"""
import importlib

__all__ = ["require", "cv2", "DATAFLOW_EXTRA"]

DATAFLOW_EXTRA = "pip install 'tensorpack[dataflow]'"

# import name -> the distribution that provides it
_DISTRIBUTIONS = {"cv2": "opencv-python-headless", "scipy": "scipy", "scipy.io": "scipy"}


def require(module: str, feature: str):
    """Import an optional module, or explain how to get it.

    Args:
        module: the import name, e.g. ``"cv2"`` or ``"scipy.io"``.
        feature: what needs it, for the error message (e.g. ``"imgaug.Resize"``).

    Returns:
        the imported module.

    Raises:
        ImportError: naming the missing package and the ``dataflow`` extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        dist = _DISTRIBUTIONS.get(module, module.split(".")[0])
        raise ImportError("{} needs the optional package '{}' (import name '{}'), which is not "
                          "installed: {} (or pip install {}).".format(
                              feature, dist, module, DATAFLOW_EXTRA, dist)) from e


def cv2(feature: str = "this image operation"):
    """The ``cv2`` module (OpenCV), or an ImportError naming the ``dataflow`` extra."""
    return require("cv2", feature)
