"""systemd's notification protocol (``sd_notify``), spoken by BaluPi itself.

Under ``Type=notify`` systemd calls the service started only once it says ``READY=1``, and with
``WatchdogSec=`` it kills and restarts a service whose ``WATCHDOG=1`` messages stop. An earlier
BaluPi set ``WatchdogSec`` and never fed it, so systemd killed it every 30 s and restarted it
endlessly. Here:

* ``SystemdNotifier`` sends datagrams to ``$NOTIFY_SOCKET`` (a path, or an abstract socket
  written ``@name``). Without the variable every call is a no-op: development, the demo and the
  tests need nothing.
* ``Watchdog`` pings from a task **on the event loop**, at half of ``$WATCHDOG_USEC`` (systemd's
  advice). The pings prove that the loop runs: a loop stuck in a blocking call stops them, and
  systemd restarts BaluPi. A thread would keep pinging through a hung loop and hide it.
* ``balupi serve`` says ``READY=1`` once Uvicorn listens and ``STOPPING=1`` when it starts to
  stop (``balupi.cli``); the watchdog starts first thing in the app's lifespan, so pings cover
  the migrations that run before the service is ready.

The protocol is a datagram with ``KEY=VALUE`` lines, so this is plain socket code; python-systemd
would need libsystemd and a compiler on the Pi for what these few lines do.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger

log = get_logger(__name__)


class SystemdNotifier:
    """Sends state changes to systemd; a no-op when not started by systemd with ``Type=notify``."""

    def __init__(self, address: str | None) -> None:
        self._address = _socket_address(address) if address else None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """The notifier for ``$NOTIFY_SOCKET``, which systemd sets for ``Type=notify`` units."""
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and not address.startswith(("/", "@")):
            # systemd 254+ can also hand out vsock: addresses; a Pi's systemd does not.
            log.warning("NOTIFY_SOCKET is neither a path nor an abstract socket", address=address)
            address = None
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments in one datagram; True if systemd got them.

        Never blocks (the socket is non-blocking: a full queue loses one message, and the
        next ping comes soon) and never raises: telling systemd must not break the service.
        """
        if self._address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self._address)
        except OSError as exc:
            if not self._warned:  # once: a lost socket would otherwise log every ping
                log.warning("cannot notify systemd", error=str(exc))
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=stopping")


def _socket_address(address: str) -> str | bytes:
    """``@name`` is the abstract socket ``\\0name``; anything else is a filesystem path."""
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings, half of ``$WATCHDOG_USEC``; None when no watchdog is asked for.

    ``$WATCHDOG_PID`` names the process the watchdog is meant for: a child that inherited the
    variables must not ping on its parent's behalf.
    """
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = environ.get("WATCHDOG_PID")
    try:
        if pid and int(pid) != os.getpid():
            return None
        microseconds = int(usec)
    except ValueError:
        log.warning("ignoring an unreadable watchdog setting", usec=usec, pid=pid)
        return None
    if microseconds <= 0:
        return None
    return microseconds / 1_000_000 / 2


class Watchdog(Lifecycle):
    """Pings systemd's watchdog from the event loop while the block runs."""

    def __init__(self, notifier: SystemdNotifier, interval: float | None) -> None:
        self._notifier = notifier
        self._interval = interval if notifier.enabled else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Watchdog:
        return cls(SystemdNotifier.from_environment(environ), watchdog_interval(environ))

    @property
    def interval(self) -> float | None:
        """Seconds between pings, or None if this watchdog does nothing."""
        return self._interval

    async def _open(self) -> None:
        if self._interval is not None:
            log.info("systemd watchdog on", ping_seconds=self._interval)
            self._spawn(self._ping(self._interval), name="systemd-watchdog")

    async def _ping(self, interval: float) -> None:
        while True:
            self._notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)  # systemd counts real time, whatever the app's clock
