"""Packaging for tensorpack, the maintained drop-in edition."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    scope = {}
    with open(os.path.join(HERE, "tensorpack", "libinfo.py")) as f:
        exec(f.read(), scope)
    return scope["__version__"]


TEST_REQUIRES = ["pytest>=7", "hypothesis>=6", "tensorflow-cpu>=2.13", "safetensors", "scikit-learn", "ml-dtypes"]
# Optional parts of the data pipeline (image augmentation, .mat dataset files,
# LMDB / HDF5 readers and serializers).
DATAFLOW_EXTRAS = ["opencv-python-headless>=4.5", "scipy>=1.7", "lmdb>=1.0", "h5py>=3.0"]

setup(
    name="tensorpack",
    version=read_version(),
    description="Maintained drop-in tensorpack: TF1-style graph training, "
                "and a TensorFlow-free checkpoint core.",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["tensorpack", "tensorpack.*"]),
    install_requires=["numpy>=1.24", "tabulate>=0.8", "tqdm>=4.62", "termcolor>=1.1",
                      "pyzmq>=19", "msgpack>=1.0", "psutil>=5.6"],
    extras_require={
        "tf": ["tensorflow>=2.13"],
        "tf-cpu": ["tensorflow-cpu>=2.13"],
        "safetensors": ["safetensors>=0.4"],
        "fast": ["google-crc32c>=1.5"],
        "dataflow": DATAFLOW_EXTRAS,
        "test": TEST_REQUIRES + ["google-crc32c>=1.5"] + DATAFLOW_EXTRAS,
        "examples": ["scikit-learn"],
        "all": ["tensorflow>=2.13", "safetensors>=0.4", "google-crc32c>=1.5"] + DATAFLOW_EXTRAS,
    },
    entry_points={
        "console_scripts": [
            "ls-checkpoint=tensorpack.tools.ls_checkpoint:main",
            "dump-model-params=tensorpack.tools.dump_model_params:main",
            "checkpoint-manipulate=tensorpack.tools.checkpoint_manipulate:main",
            "checkpoint-diff=tensorpack.tools.checkpoint_diff:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
    ],
)
