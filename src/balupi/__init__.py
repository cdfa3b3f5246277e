"""BaluPi: a smart cache tier and energy monitor in front of a BaluHost NAS."""

# Written here, not read from the installed metadata: importlib.metadata costs ~40 ms of every
# start on a Pi 3B+ (issue 14). pyproject.toml's version must agree (tests/test_version.py).
__version__ = "0.1.0"

__all__ = ["__version__"]
