#!/usr/bin/env python
"""Augmentation throughput: images/s of upstream examples' augmentor chains, this project vs
upstream 0.11, in one process each (no parallel runners: this measures the augmentors).

Pipelines: ``cifar`` is cifar-convnet's training chain (random crop, flip, brightness,
contrast, mean/variance normalisation) on 32x32x3 uint8 images; ``imagenet`` is
fb.resnet.torch's training chain (GoogLeNet crop + resize to 224, colour jitter in random
order, lighting, flip) on 256x341x3 images. Runs alternate, each side ``--repeat`` times;
the best rate of each side is reported with the ratio (ours / upstream).

Upstream's interpreter needs OpenCV: ``TENSORPACK_UPSTREAM_PYTHON=/path/to/python``
pointing at a virtualenv with tensorpack 0.11 and opencv-python-headless.

Usage: ``python bench/bench_imgaug.py [--images 3000] [--repeat 3]``
"""
import argparse
import os
import sys

from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import UPSTREAM_PYTHON, ratio, run_python  # noqa: E402

WORKER = r'''
import json, sys, time
import numpy as np
import cv2
from tensorpack.dataflow import imgaug

pipeline, n = sys.argv[1], int(sys.argv[2])
if pipeline == "cifar":
    augs = [imgaug.RandomCrop((30, 30)), imgaug.Flip(horiz=True), imgaug.Brightness(63),
            imgaug.Contrast((0.2, 1.8)), imgaug.MeanVarianceNormalize(all_channel=True)]
    shape = (32, 32, 3)
else:
    eigvec = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                       [-0.5836, -0.6948, 0.4203]], dtype="float32")[::-1, ::-1]
    augs = [imgaug.GoogleNetRandomCropAndResize(interp=cv2.INTER_CUBIC), imgaug.ToFloat32(),
            imgaug.RandomOrderAug([imgaug.BrightnessScale((0.6, 1.4)),
                                   imgaug.Contrast((0.6, 1.4), rgb=False),
                                   imgaug.Saturation(0.4, rgb=False),
                                   imgaug.Lighting(0.1, eigval=np.asarray(
                                       [0.2175, 0.0188, 0.0045][::-1]) * 255.0, eigvec=eigvec)]),
            imgaug.ToUint8(), imgaug.Flip(horiz=True)]
    shape = (256, 341, 3)
chain = imgaug.AugmentorList(augs)
chain.reset_state()
rs = np.random.RandomState(0)
images = [rs.randint(0, 256, shape).astype("uint8") for _ in range(64)]
for i in range(50):
    chain.augment(images[i % 64].copy())
t0 = time.perf_counter()
for i in range(n):
    chain.augment(images[i % 64].copy())
print("RESULT " + json.dumps({"rate": n / (time.perf_counter() - t0)}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for pipeline, n in (("cifar", args.images), ("imagenet", max(args.images // 10, 50))):
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(run_python(WORKER, [pipeline, n]).json()["rate"])
            theirs.append(run_python(WORKER, [pipeline, n], python=UPSTREAM_PYTHON,
                                     ours=False, cwd="/").json()["rate"])
        rows.append([pipeline, "{:.0f}".format(max(ours)), "{:.0f}".format(max(theirs)),
                     ratio(max(ours), max(theirs))])
    print(tabulate(rows, headers=["pipeline", "ours img/s", "upstream 0.11 img/s",
                                  "ratio (target >= 1.0x)"]))


if __name__ == "__main__":
    main()
