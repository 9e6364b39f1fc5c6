"""Shared test set-up: quiet TensorFlow, and a logger that does not write into the repo."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
