"""A TP-Link Tapo P110/P115 emulator that unmodified python-kasa talks to over real HTTP.

``klap.py`` is the KLAP v2 transport (handshakes, AES, signatures, sequence numbers, session
cookie), ``smart.py`` the SMART methods with real plugs' field names and units, ``device.py`` the
relay and its energy counters (``counters.py``), ``power.py`` the load behind the plug (a
constant, a daily profile or the NAS emulator), ``app.py`` the HTTP routes, ``server.py`` the
``PlugEmulator`` context manager and ``cli.py`` the ``balupi sim plug`` command.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balupi.sim.plug.server import PlugConfig, PlugEmulator

__all__ = ["PlugConfig", "PlugEmulator"]


def __getattr__(name: str) -> Any:
    """The emulator is imported on first use, so ``balupi --help`` does not load it."""
    if name in __all__:
        from balupi.sim.plug import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
