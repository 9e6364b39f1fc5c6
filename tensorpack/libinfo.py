"""Version of this distribution (kept API-compatible with upstream tensorpack 0.11)."""
__version__ = "0.12.0"
