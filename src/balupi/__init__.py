"""BaluPi: a smart cache tier and energy monitor in front of a BaluHost NAS."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("balupi")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0-dev"

__all__ = ["__version__"]
