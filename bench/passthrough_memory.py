"""Pass-through benchmark: a large download through BaluPi against the same one straight from
the NAS emulator, and BaluPi's memory while it streams.

    .venv/bin/python bench/passthrough_memory.py [--size-mb 500] [--runs 3]

The emulator (``balupi sim nas``) and BaluPi (``balupi serve``) each run in their own process on
loopback, so the RSS figure is the BaluPi process's alone, as it would be on the Pi. Prints the
throughput of both paths, their ratio (via BaluPi / direct; the reference is measured in the same
run) and BaluPi's RSS: idle (after a warm-up download), peak while streaming, and the difference.
Not part of the test suite's pass/fail; ``tests/nas/test_passthrough.py`` holds the 30 MB limit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from balupi.sim.measure import PeakRss, nas_emulator_process

MB = 1024 * 1024
ADMIN = {"username": "admin", "password": "DevMode2024"}  # the emulator's default admin


@dataclass(frozen=True)
class Run:
    seconds: float
    rss: PeakRss | None = None


def sparse_file(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def balupi_process(nas_url: str, data_dir: Path) -> Iterator[tuple[int, str]]:
    """``balupi serve`` in front of ``nas_url``; (pid, url) once its NAS link is online."""
    port = free_port()
    env = os.environ | {
        "BALUPI_NAS_URL": nas_url,
        "BALUPI_DATA_DIR": str(data_dir),
        "BALUPI_HOST": "127.0.0.1",
        "BALUPI_PORT": str(port),
        "BALUPI_LOG_LEVEL": "WARNING",
        "BALUPI_MDNS_ENABLED": "false",
    }
    env.pop("BALUPI_CONFIG", None)
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen(
        [sys.executable, "-m", "balupi", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        _wait_online(child, url)
        yield child.pid, url
    finally:
        child.terminate()
        child.wait(timeout=15)


def _wait_online(child: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("balupi serve stopped during start-up")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/nas/status").json().get("state") == "online":
                return
        time.sleep(0.1)
    raise RuntimeError("balupi serve did not see the NAS online in time")


def download(http: httpx.Client, url: str, expected: int, rss: PeakRss | None = None) -> Run:
    """Stream ``url`` and throw the bytes away, timed (and with ``rss`` sampled, if given)."""
    with contextlib.ExitStack() as stack:
        if rss is not None:
            stack.enter_context(rss)
        started = time.perf_counter()
        received = 0
        with http.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                received += len(chunk)
        seconds = time.perf_counter() - started
    if received != expected:
        raise RuntimeError(f"{url}: {received} bytes, expected {expected}")
    return Run(seconds, rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500, help="download size (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="downloads per path (default 3)")
    args = parser.parse_args()
    size = args.size_mb * MB

    with tempfile.TemporaryDirectory(prefix="balupi-bench-") as temporary:
        root = Path(temporary)
        storage = root / "nas"
        (storage / "Shared").mkdir(parents=True)
        sparse_file(storage / "Shared/big.bin", size)
        sparse_file(storage / "Shared/warm.bin", 8 * MB)
        with nas_emulator_process(storage) as nas:
            token = httpx.post(f"{nas.api_url}/api/auth/login", json=ADMIN).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            with (
                balupi_process(nas.api_url, root / "pi") as (pid, pi_url),
                httpx.Client(headers=headers, timeout=60) as http,
            ):
                path = "/api/files/download/Shared/big.bin"
                download(http, f"{pi_url}/api/files/download/Shared/warm.bin", 8 * MB)
                direct = [download(http, nas.api_url + path, size) for _ in range(args.runs)]
                via = [download(http, pi_url + path, size, PeakRss(pid)) for _ in range(args.runs)]

    best_direct = min(run.seconds for run in direct)
    best_via = min(run.seconds for run in via)
    samples = [run.rss for run in via if run.rss is not None]
    idle = min(rss.baseline for rss in samples)
    peak = max(rss.peak for rss in samples)
    worst = max(rss.delta for rss in samples)
    print(f"download of {args.size_mb} MB, best of {args.runs}:")
    print(f"  direct from the emulator  {size / MB / best_direct:8.1f} MB/s")
    print(f"  through BaluPi            {size / MB / best_via:8.1f} MB/s")
    print(f"  ratio (BaluPi / direct)   {best_direct / best_via:8.2f}")
    print(
        f"BaluPi RSS: idle {idle / MB:.1f} MB, peak {peak / MB:.1f} MB, "
        f"largest rise in one download {worst / MB:.1f} MB (limit 30 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
