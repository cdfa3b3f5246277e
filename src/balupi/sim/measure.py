"""Measuring BaluPi against the simulated home: servers in their own processes, peak RSS.

A memory figure of BaluPi taken while the NAS side runs in the same process would include that
side of every transfer; with the NAS in a child process it is BaluPi's alone. Two children:

* ``nas_emulator_process``: ``balupi sim nas``, the BaluHost emulator;
* ``bulk_nas_process``: ``python -m balupi.sim.measure``, a NAS stand-in that sends and swallows
  bodies of any size on paths BaluPi never serves itself (``/api/bench/*``), so they take the
  pass-through; the emulator's big bodies (downloads, uploads) are BaluPi's own routes.

``balupi_serve_process`` runs BaluPi itself the same way, as systemd runs it on the Pi.

Each child picks free ports, read from the banner it prints; its output goes to a file (a pipe
nobody reads would fill up and stall it). ``PeakRss`` samples a process's resident set from a
thread, so it keeps sampling while the event loop is busy moving bytes.

    with bulk_nas_process() as nas, PeakRss(os.getpid()) as rss:
        ...  # GET {pi}/api/bench/blob?size=…
    rss.peak - rss.baseline
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import psutil
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from balupi.server import running_server

EMULATOR_BANNER = re.compile(
    r"API (?P<api>\S+)\s+control (?P<control>\S+)\s+WoL udp://[^:\s]+:(?P<wol>\d+)"
)
_BULK_BANNER = re.compile(r"Bulk NAS: (?P<url>\S+)")
_ZEROS = bytes(256 * 1024)  # one buffer, sent again and again: the stand-in allocates nothing


@dataclass(frozen=True)
class EmulatorProcess:
    pid: int
    api_url: str
    control_url: str
    wol_port: int


@dataclass(frozen=True)
class BulkNasProcess:
    pid: int
    url: str


@contextlib.contextmanager
def nas_emulator_process(
    storage: Path, *flags: str, start_timeout: float = 30.0
) -> Iterator[EmulatorProcess]:
    """Run ``balupi sim nas`` on free loopback ports with ``storage`` until the block ends.

    ``flags`` are further options (``--boot-seconds=1`` …). Fails with the child's output if it
    does not print its banner in time.
    """
    command = ["-m", "balupi", "sim", "nas", "--port=0", "--control-port=0", "--wol-port=0"]
    with run_child([*command, f"--storage={storage}", *flags], EMULATOR_BANNER, start_timeout) as (
        pid,
        found,
    ):
        yield EmulatorProcess(pid, found["api"], found["control"], int(found["wol"]))


@contextlib.contextmanager
def bulk_nas_process(start_timeout: float = 30.0) -> Iterator[BulkNasProcess]:
    """Run the bulk-body NAS stand-in on a free loopback port until the block ends."""
    with run_child(["-m", "balupi.sim.measure"], _BULK_BANNER, start_timeout) as (pid, found):
        yield BulkNasProcess(pid, found["url"])


@dataclass(frozen=True)
class BaluPiProcess:
    pid: int
    url: str


@contextlib.contextmanager
def balupi_serve_process(
    settings: Mapping[str, str],
    ready: Callable[[str], bool],
    *,
    environment: Mapping[str, str] | None = None,
    start_timeout: float = 30.0,
    poll_interval: float = 0.1,
    python: str = sys.executable,
) -> Iterator[BaluPiProcess]:
    """Run ``balupi serve`` on a free loopback port until the block ends.

    ``settings`` are ``BALUPI_*`` variables without the prefix (``DATA_DIR`` at least); the
    environment's own ``BALUPI_*`` are dropped, mDNS is off and the log level WARNING unless
    ``settings`` say otherwise; ``environment`` adds other variables (``MALLOC_ARENA_MAX``).
    The block starts once ``ready(url)`` is true; fails with the child's output if that takes
    longer than ``start_timeout``; it is asked every ``poll_interval`` seconds. ``python`` is the
    interpreter (another venv's, to measure BaluPi with only its run-time dependencies).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    variables = {"LOG_LEVEL": "WARNING", "MDNS_ENABLED": "false", **settings}
    variables |= {"HOST": "127.0.0.1", "PORT": str(port)}
    child_environment = {k: v for k, v in os.environ.items() if not k.startswith("BALUPI_")}
    child_environment |= dict(environment or {})
    child_environment |= {f"BALUPI_{name}": value for name, value in variables.items()}
    with tempfile.TemporaryFile(mode="w+") as output:
        child = subprocess.Popen(
            [python, "-m", "balupi", "serve"],
            env=child_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + start_timeout
            while not _probe(ready, url):
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"balupi serve did not get ready:\n{_read_all(output)}")
                time.sleep(poll_interval)
            yield BaluPiProcess(child.pid, url)
        finally:
            _stop(child)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _probe(ready: Callable[[str], bool], url: str) -> bool:
    try:
        return ready(url)
    except (httpx.HTTPError, OSError, ValueError, KeyError):  # not up yet, or not as it will be
        return False


def _stop(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextlib.contextmanager
def run_child(
    arguments: Sequence[str], banner: re.Pattern[str], timeout: float
) -> Iterator[tuple[int, re.Match[str]]]:
    """``python <arguments>`` until the block ends (SIGTERM: a graceful stop); its banner."""
    with tempfile.TemporaryFile(mode="w+") as output:
        child = subprocess.Popen(
            [sys.executable, *arguments], stdout=output, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not (found := banner.search(_read_all(output))):
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(arguments)} did not start:\n{_read_all(output)}")
                time.sleep(0.05)
            yield child.pid, found
        finally:
            _stop(child)


def _read_all(output: IO[str]) -> str:
    output.seek(0)
    return output.read()


# -- the bulk-body NAS stand-in -----------------------------------------------------------------


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": "bulk"})


async def _blob(request: Request) -> Response:
    """``size`` zero bytes with a ``Content-Length``, as a NAS sends a file."""
    size = int(request.query_params.get("size", "0"))

    async def zeros() -> AsyncIterator[bytes]:
        remaining = size
        while remaining > 0:
            piece = _ZEROS if remaining >= len(_ZEROS) else _ZEROS[:remaining]
            remaining -= len(piece)
            yield piece

    return StreamingResponse(
        zeros(), media_type="application/octet-stream", headers={"Content-Length": str(size)}
    )


async def _sink(request: Request) -> Response:
    """Reads the request body as it arrives and says how many bytes came."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
    return JSONResponse({"received": received})


def bulk_nas_app() -> Starlette:
    """``GET /api/health``, ``GET /api/bench/blob?size=N``, ``POST /api/bench/sink``."""
    return Starlette(
        routes=[
            Route("/api/health", _health),
            Route("/api/bench/blob", _blob),
            Route("/api/bench/sink", _sink, methods=["POST", "PUT"]),
        ]
    )


async def _serve_bulk_nas(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(bulk_nas_app(), host=host, port=port) as server:
        print(f"Bulk NAS: {server.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A NAS stand-in for transfer measurements.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    args = parser.parse_args(argv)
    asyncio.run(_serve_bulk_nas(args.host, args.port))
    return 0


class PeakRss:
    """The highest resident set size of process ``pid`` while the block runs, in bytes.

    ``baseline`` is taken on entry; a sample is taken every ``interval`` seconds and on exit.
    """

    def __init__(self, pid: int, *, interval: float = 0.005) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self.baseline = 0
        self.peak = 0

    @property
    def delta(self) -> int:
        """How far the peak rose above the baseline."""
        return self.peak - self.baseline

    def sample(self) -> int:
        rss: int = self._process.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss

    def __enter__(self) -> Self:
        self.baseline = self.sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()


if __name__ == "__main__":
    sys.exit(main())
