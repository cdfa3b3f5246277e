"""Measuring BaluPi against the simulated home: the NAS emulator in its own process, peak RSS.

A memory figure of BaluPi taken while the emulator runs in the same process would include the
emulator's side of every transfer; with ``nas_emulator_process`` it is BaluPi's alone. The child
picks free ports, read from the banner it prints; its output goes to a file (a pipe nobody reads
would fill up and stall it). ``PeakRss`` samples a process's resident set from a thread, so it
keeps sampling while the event loop is busy moving bytes.

    with nas_emulator_process(storage) as nas, PeakRss(os.getpid()) as rss:
        ...  # transfer through BaluPi
    rss.peak - rss.baseline
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import psutil

_BANNER = re.compile(
    r"API (?P<api>\S+)\s+control (?P<control>\S+)\s+WoL udp://[^:\s]+:(?P<wol>\d+)"
)


@dataclass(frozen=True)
class EmulatorProcess:
    pid: int
    api_url: str
    control_url: str
    wol_port: int


@contextlib.contextmanager
def nas_emulator_process(
    storage: Path, *flags: str, start_timeout: float = 30.0
) -> Iterator[EmulatorProcess]:
    """Run ``balupi sim nas`` on free loopback ports with ``storage`` until the block ends.

    ``flags`` are further options (``--boot-seconds=1`` …). Fails with the child's output if it
    does not print its banner in time.
    """
    command = [
        sys.executable,
        "-m",
        "balupi",
        "sim",
        "nas",
        "--port=0",
        "--control-port=0",
        "--wol-port=0",
        f"--storage={storage}",
        *flags,
    ]
    with tempfile.TemporaryFile(mode="w+") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            yield _wait_for_banner(child, output, start_timeout)
        finally:
            child.terminate()  # SIGTERM: the emulator's graceful stop
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _wait_for_banner(
    child: subprocess.Popen[str], output: IO[str], timeout: float
) -> EmulatorProcess:
    deadline = time.monotonic() + timeout
    while True:
        output.seek(0)
        text = output.read()
        found = _BANNER.search(text)
        if found:
            return EmulatorProcess(
                pid=child.pid,
                api_url=found["api"],
                control_url=found["control"],
                wol_port=int(found["wol"]),
            )
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"balupi sim nas did not start:\n{text}")
        time.sleep(0.05)


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
