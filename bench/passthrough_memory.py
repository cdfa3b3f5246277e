"""Pass-through benchmark: a large download through BaluPi against the same one straight from
the NAS side, and BaluPi's memory while it streams.

    .venv/bin/python bench/passthrough_memory.py [--size-mb 500] [--runs 3]

The NAS side is the bulk-body stand-in of ``balupi.sim.measure`` (its ``/api/bench/blob`` is a
path BaluPi never serves, so it takes the pass-through; the emulator's own big bodies are
downloads and uploads, which BaluPi's cache and upload routes answer). It and BaluPi
(``balupi serve``) each run in their own process on loopback, so the RSS figure is the BaluPi
process's alone, as it would be on the Pi. Prints the throughput of both paths, their ratio
(via BaluPi / direct; the reference is measured in the same run) and BaluPi's RSS: idle (after a
warm-up download), peak while streaming, and the largest rise. Not part of the test suite's
pass/fail; ``tests/nas/test_passthrough.py`` holds the 30 MB limit.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from balupi.sim.measure import PeakRss, balupi_serve_process, bulk_nas_process

MB = 1024 * 1024


@contextlib.contextmanager
def balupi_process(nas_url: str, data_dir: Path) -> Iterator[tuple[int, str]]:
    """``balupi serve`` in front of ``nas_url``; (pid, url) once a pass-through reaches the NAS."""

    def passes_through(url: str) -> bool:
        return httpx.get(f"{url}/api/bench/blob?size=1").status_code == 200

    settings = {"NAS_URL": nas_url, "DATA_DIR": str(data_dir)}
    with balupi_serve_process(settings, passes_through) as pi:
        yield pi.pid, pi.url


def download(http: httpx.Client, url: str, rss: PeakRss | None = None) -> float:
    """Stream ``url``, throw the bytes away; the seconds it took (``rss`` sampled meanwhile)."""
    with rss if rss is not None else contextlib.nullcontext():
        started = time.perf_counter()
        with http.stream("GET", url) as response:
            response.raise_for_status()
            for _ in response.iter_raw():
                pass
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500, help="download size (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="downloads per path (default 3)")
    args = parser.parse_args()
    blob = f"/api/bench/blob?size={args.size_mb * MB}"

    with (
        tempfile.TemporaryDirectory(prefix="balupi-bench-") as data_dir,
        bulk_nas_process() as nas,
        balupi_process(nas.url, Path(data_dir)) as (pid, pi_url),
        httpx.Client(timeout=60) as http,
    ):
        download(http, f"{pi_url}/api/bench/blob?size={8 * MB}")  # warm-up
        direct = min(download(http, nas.url + blob) for _ in range(args.runs))
        samples = [PeakRss(pid) for _ in range(args.runs)]
        via = min(download(http, pi_url + blob, rss) for rss in samples)

    print(f"download of {args.size_mb} MB, best of {args.runs}:")
    print(f"  direct from the NAS side  {args.size_mb / direct:8.1f} MB/s")
    print(f"  through BaluPi            {args.size_mb / via:8.1f} MB/s")
    print(f"  ratio (BaluPi / direct)   {direct / via:8.2f}")
    print(
        f"BaluPi RSS: idle {min(r.baseline for r in samples) / MB:.1f} MB, "
        f"peak {max(r.peak for r in samples) / MB:.1f} MB, "
        f"largest rise in one download {max(r.delta for r in samples) / MB:.1f} MB (limit 30 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
