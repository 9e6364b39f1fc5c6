"""Small symbolic helpers: printing a tensor's statistics, root mean square, PSNR."""
import math

from tensorpack.compat import tfv1

__all__ = ["print_stat", "rms", "psnr"]


def print_stat(x, message=None):
    """Pass ``x`` through, printing its shape, mean (and RMS for floats) when it is evaluated.

    Use it as ``x = print_stat(x, message='x')``; the printing happens only when a session
    run needs the returned tensor.

    Args:
        x (tf.Tensor): the tensor to watch.
        message (str): printed before the values; defaults to the name of ``x``'s op.

    Returns:
        tf.Tensor: the same values as ``x``.
    """
    if message is None:
        message = x.op.name
    stats = [tfv1.shape(x), tfv1.reduce_mean(x)]
    if x.dtype.is_floating:
        stats.append(rms(x))
    return tfv1.Print(x, stats + [x], message=message, summarize=20, name="print_" + x.op.name)


def rms(x, name=None):
    """Root mean square of all the values of ``x``.

    Args:
        x (tf.Tensor): a tensor.
        name (str): name of the result; defaults to ``<x's op name>/rms`` (not nested under
            the current name scope, since the op name already carries it).

    Returns:
        tf.Tensor: a scalar.
    """
    if name is not None:
        return tfv1.sqrt(tfv1.reduce_mean(tfv1.square(x)), name=name)
    with tfv1.name_scope(None):
        return tfv1.sqrt(tfv1.reduce_mean(tfv1.square(x)), name=x.op.name + "/rms")


def psnr(prediction, ground_truth, maxp=None, name="psnr"):
    """Peak signal-to-noise ratio, ``20 log10(maxp) - 10 log10(MSE)``.

    Args:
        prediction (tf.Tensor): the predicted signal.
        ground_truth (tf.Tensor): the reference, same shape as ``prediction``.
        maxp (float): the largest possible value (255 for 8-bit images); when None the
            ``20 log10(maxp)`` term is left out (as if ``maxp`` were 1).
        name (str): name of the result.

    Returns:
        tf.Tensor: a scalar.
    """
    mse = tfv1.reduce_mean(tfv1.square(prediction - ground_truth))
    with tfv1.name_scope("log10"):
        log10_mse = tfv1.log(mse) / math.log(10.0)
    if maxp is None:
        return tfv1.multiply(log10_mse, -10.0, name=name)
    return tfv1.add(20.0 * math.log10(float(maxp)), -10.0 * log10_mse, name=name)
