"""DataFlows for looking at a pipeline: what its datapoints contain, and how fast it runs."""
import numpy as np
from termcolor import colored

from tensorpack.dataflow.base import ProxyDataFlow
from tensorpack.utils import logger
from tensorpack.utils.utils import get_tqdm

__all__ = ["PrintData", "TestDataSpeed"]


def _describe(value, position, depth, max_depth, max_list):
    """Lines describing one component: type, dtype, shape, range; lists recurse."""
    indent = "  " * depth
    head = "{}{}: {}".format(indent, position, type(value).__name__)
    if isinstance(value, np.ndarray):
        head += ":{} of shape {}".format(value.dtype, value.shape)
        if value.size and value.dtype.kind in "biuf":
            head += " in range [{}, {}]".format(value.min(), value.max())
        return [head]
    if isinstance(value, (bool, int, float, np.generic)):
        return [head + " with value {}".format(value)]
    if isinstance(value, (str, bytes)):
        return [head + " of len {}".format(len(value))]
    if isinstance(value, (list, tuple)):
        lines = [head + " of len {}".format(len(value))]
        if depth >= max_depth:
            if value:
                lines.append(indent + "   ...")
            return lines
        for k, sub in enumerate(value):
            if k == max_list:
                lines.append(indent + "  ...")
                break
            lines.extend(_describe(sub, k, depth + 1, max_depth, max_list))
        return lines
    return [head]


class PrintData(ProxyDataFlow):
    """Pass datapoints through unchanged, printing a summary of the first ``num`` of them.

    For each component it prints its type, and for arrays dtype, shape and value range.
    Place it anywhere in a pipeline while debugging.
    """

    def __init__(self, ds, num=1, name=None, max_depth=3, max_list=3):
        """
        Args:
            ds (DataFlow): the DataFlow to watch.
            num (int): how many datapoints to describe.
            name (str): a label for the printout.
            max_depth (int): how deep to describe nested lists.
            max_list (int): how many elements of a list to describe.
        """
        super().__init__(ds)
        self.num = num
        self.name = name
        self.max_depth = max_depth
        self.max_list = max_list
        self.cnt = 0

    def reset_state(self):
        super().reset_state()
        self.cnt = 0

    def _message(self, dp):
        lines = [colored("datapoint {}/{} with {} components consists of".format(
            self.cnt, self.num, len(dp)), "cyan")]
        items = dp.items() if isinstance(dp, dict) else enumerate(dp)
        for key, value in items:
            lines.extend(_describe(value, key, 1, self.max_depth, self.max_list))
        return "\n".join(lines)

    def __iter__(self):
        for dp in self.ds:
            if self.cnt < self.num:
                if self.cnt == 0:
                    label = " ({})".format(self.name) if self.name is not None else ""
                    logger.info(colored("Contents of DataFlow{}:".format(label), "cyan"))
                print(self._message(dp))
                self.cnt += 1
            yield dp


class TestDataSpeed(ProxyDataFlow):
    """Measure how fast a DataFlow produces datapoints, with a progress bar.

    Call :meth:`start` to run the test, or iterate it: the test runs first, then the
    datapoints of ``ds`` are yielded as usual.
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, ds, size=5000, warmup=0):
        """
        Args:
            ds (DataFlow): the DataFlow to measure.
            size (int): datapoints to fetch.
            warmup (int): datapoints to fetch before measuring.
        """
        super().__init__(ds)
        self.test_size = int(size)
        self.warmup = int(warmup)
        self._reset_called = False

    def reset_state(self):
        self._reset_called = True
        super().reset_state()

    def __iter__(self):
        self.start()
        yield from self.ds

    def start(self):
        """Fetch ``warmup`` then ``size`` datapoints, showing the rate; stops early if ``ds``
        runs out.

        Returns:
            float: datapoints per second over the measured part.
        """
        if not self._reset_called:
            self.ds.reset_state()
            self._reset_called = True
        itr = iter(self.ds)
        for _ in range(self.warmup):
            if next(itr, StopIteration) is StopIteration:
                return 0.0
        with get_tqdm(total=self.test_size, leave=True, smoothing=0.2) as bar:
            for count, _ in enumerate(itr, 1):
                bar.update()
                if count == self.test_size:
                    break
            elapsed = bar.format_dict["elapsed"]
            count = bar.n
        return count / elapsed if elapsed > 0 else float("inf")
