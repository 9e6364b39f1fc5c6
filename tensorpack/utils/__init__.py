"""Utilities that never import TensorFlow: the logger, file-system and small helpers."""
from tensorpack.utils import logger
from tensorpack.utils.fs import mkdir_p
from tensorpack.utils.gpu import change_gpu, get_nr_gpu, get_num_gpu
from tensorpack.utils.utils import (
    change_env, execute_only_once, fix_rng_seed, get_rng, get_tqdm, get_tqdm_kwargs,
    humanize_time_delta)

__all__ = ["logger", "mkdir_p", "change_env", "humanize_time_delta", "fix_rng_seed", "get_rng",
           "execute_only_once", "get_tqdm_kwargs", "get_tqdm", "get_num_gpu", "get_nr_gpu",
           "change_gpu"]
