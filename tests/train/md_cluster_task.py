"""One task of the loopback cluster used by test_multidevice_cluster.py (run as a script):
the same script for ps and workers, as users run upstream's distributed examples."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tensorpack import (AutoResumeTrainConfig, BatchData, Callback,  # noqa: E402
                        DistributedTrainerParameterServer, DistributedTrainerReplicated,
                        ModelSaver, SmartInit, TrainConfig, launch_train_with_config)
from tensorpack.compat import tfv1  # noqa: E402
from tensorpack.dataflow import DataFromList  # noqa: E402
from tensorpack.tfutils.common import get_default_sess_config  # noqa: E402
from tensorpack.utils import logger  # noqa: E402

from md_testlib import MomentumModel  # noqa: E402
from train_testlib import make_points  # noqa: E402


class Pace(Callback):
    """Prints every step (the test watches for it) and optionally slows the steps down."""
    _chief_only = False

    def __init__(self, delay):
        self.delay = delay

    def _before_train(self):
        # after the trainer's initial sync: the values this worker's towers start from
        variables = tfv1.global_variables() + tfv1.local_variables()
        fc = sorted((v for v in variables if v.op.name.endswith("fc/W")),
                    key=lambda v: not v.op.name.startswith("tower0/"))[0]
        print("INIT {} {:.6f}".format(fc.op.name, float(self.trainer.sess.run(fc).sum())),
              flush=True)

    def _trigger_step(self):
        print("STEP", self.trainer.global_step, flush=True)
        time.sleep(self.delay)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--job", required=True)
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--ports", required=True, help="ps,worker0,worker1,...")
    p.add_argument("--trainer", default="replicated")
    p.add_argument("--logdir")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--init")
    p.add_argument("--resume", action="store_true", help="AutoResumeTrainConfig")
    p.add_argument("--lr", type=float, default=0.02)
    args = p.parse_args()
    ports = args.ports.split(",")
    cluster = tfv1.train.ClusterSpec({
        "ps": ["127.0.0.1:" + ports[0]],
        "worker": ["127.0.0.1:" + x for x in ports[1:]]})
    server = tfv1.train.Server(cluster, job_name=args.job, task_index=args.task,
                               config=get_default_sess_config())
    if args.job == "worker" and args.task == 0:
        # only the chief writes (as upstream); a resumed run keeps the directory
        logger.set_logger_dir(args.logdir, action="k" if args.resume else "d")
    if args.trainer == "replicated":
        trainer = DistributedTrainerReplicated(1, server, timeout=args.timeout)
    else:
        trainer = DistributedTrainerParameterServer(1, server, timeout=args.timeout)
    df = BatchData(DataFromList(make_points(48)), 4)  # one problem; each worker shuffles it
    config = (AutoResumeTrainConfig if args.resume else TrainConfig)(
                         model=MomentumModel(lr=args.lr), dataflow=df,
                         callbacks=[ModelSaver(), Pace(args.delay)],
                         session_init=SmartInit(args.init) if args.init else None,
                         steps_per_epoch=args.steps, max_epoch=args.epochs)
    launch_train_with_config(config, trainer)
    print("DONE", trainer.global_step, flush=True)


if __name__ == "__main__":
    main()
