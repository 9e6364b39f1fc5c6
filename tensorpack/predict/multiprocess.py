"""MultiProcessDatasetPredictor: predictions over a DataFlow by several worker processes."""
import multiprocessing as mp
import os
import queue
import threading
import traceback

import tqdm

from tensorpack.utils import logger
from tensorpack.utils.gpu import get_num_gpu

from .dataset import DatasetPredictorBase

__all__ = ["MultiProcessDatasetPredictor"]

_DONE = "__done__"
_ERROR = "__error__"


def _worker_main(idx, config, gpu, inqueue, outqueue):
    """A worker process: build the predictor, then predict every (index, dp) it gets."""
    try:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        from tensorpack.predict.base import OfflinePredictor
        predictor = OfflinePredictor(config)
        while True:
            task = inqueue.get()
            if task is None:
                outqueue.put((_DONE, idx))
                return
            i, dp = task
            outqueue.put((i, predictor(*dp)))
    except Exception:  # noqa: BLE001 - reported to the main process, which raises it
        outqueue.put((_ERROR, "worker {}:\n{}".format(idx, traceback.format_exc())))


class MultiProcessDatasetPredictor(DatasetPredictorBase):
    """Run an :class:`OfflinePredictor` in each of ``nr_proc`` processes (one GPU each, or
    CPU); the datapoints of the DataFlow are spread over them.

    The workers are started with ``fork`` (as upstream): create this predictor before using
    TensorFlow sessions in the main process. Workers are daemon processes, ended when
    the results are all collected, on error, or when the main process exits.
    """

    def __init__(self, config, dataset, nr_proc, use_gpu=True, ordered=True):
        """
        Args:
            config (PredictConfig): built in every worker.
            dataset (DataFlow): each datapoint holds the inputs, in ``input_names`` order.
            nr_proc (int): number of worker processes.
            use_gpu (bool): one GPU per worker (from ``CUDA_VISIBLE_DEVICES``, else all GPUs);
                else the workers use the CPU.
            ordered (bool): yield results in the order of the datapoints (else as they come).

        Raises:
            ValueError: if ``nr_proc`` < 1, or fewer GPUs than workers with ``use_gpu``.
        """
        super().__init__(config, dataset)
        if int(nr_proc) < 1:
            raise ValueError("MultiProcessDatasetPredictor: nr_proc must be >= 1, got {}.".format(
                nr_proc))
        if config.return_input:
            logger.warn("Using the option `return_input` in MultiProcessDatasetPredictor might "
                        "be slow")
        self.nr_proc = int(nr_proc)
        self.ordered = ordered
        if use_gpu:
            env = os.environ.get("CUDA_VISIBLE_DEVICES")
            gpus = ([g for g in env.split(",") if g.strip()] if env is not None
                    else [str(i) for i in range(get_num_gpu())])
            if len(gpus) < self.nr_proc:
                raise ValueError("MultiProcessDatasetPredictor: nr_proc={} workers with "
                                 "use_gpu=True, but only {} GPU(s) available; lower nr_proc or "
                                 "pass use_gpu=False.".format(self.nr_proc, len(gpus)))
            self._gpus = gpus[:self.nr_proc]
        else:
            self._gpus = [""] * self.nr_proc
        ctx = mp.get_context("fork")
        self.inqueue = ctx.Queue(self.nr_proc * 2)
        self.outqueue = ctx.Queue()
        self.workers = [ctx.Process(target=_worker_main, name="MultiProcessPredictWorker-{}".format(i),
                                    args=(i, config, gpu, self.inqueue, self.outqueue), daemon=True)
                        for i, gpu in enumerate(self._gpus)]
        for w, gpu in zip(self.workers, self._gpus):
            w.start()
            logger.info("Worker {} uses {}".format(w.name, "GPU " + gpu if gpu else "CPU"))

    def _feed(self, stop):
        """Put every (index, datapoint) into the input queue, then one end marker per worker."""
        self.dataset.reset_state()
        for i, dp in enumerate(self.dataset):
            while not stop.is_set():
                try:
                    self.inqueue.put((i, dp), timeout=0.5)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        for _ in self.workers:
            self.inqueue.put(None)

    def _results(self):
        """(index, outputs) pairs as the workers produce them."""
        done = 0
        while done < self.nr_proc:
            try:
                key, value = self.outqueue.get(timeout=1.0)
            except queue.Empty:
                dead = [w.name for w in self.workers if not w.is_alive() and w.exitcode != 0]
                if dead:
                    raise RuntimeError("MultiProcessDatasetPredictor: {} died.".format(dead))
                continue
            if key == _DONE:
                done += 1
            elif key == _ERROR:
                raise RuntimeError("MultiProcessDatasetPredictor: a worker failed: " + value)
            else:
                yield key, value

    def get_result(self):
        """Yields: the outputs for each datapoint (in order if ``ordered``)."""
        try:
            total = len(self.dataset)
        except NotImplementedError:
            total = None
        stop = threading.Event()
        feeder = threading.Thread(target=self._feed, args=(stop,), daemon=True,
                                  name="MultiProcessDatasetPredictor-feeder")
        feeder.start()
        pending, next_idx = {}, 0
        try:
            with tqdm.tqdm(total=total, disable=not total, ascii=True,
                           dynamic_ncols=True) as bar:
                for idx, out in self._results():
                    bar.update()
                    if not self.ordered:
                        yield out
                        continue
                    pending[idx] = out
                    while next_idx in pending:
                        yield pending.pop(next_idx)
                        next_idx += 1
        finally:
            stop.set()
            feeder.join(5)
            for w in self.workers:
                w.join(5)
                if w.is_alive():
                    w.terminate()
                    w.join(5)
