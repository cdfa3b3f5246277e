"""Upload ingest benchmarks (issue 5): BaluPi's durable ingest against ``dd conv=fsync``.

1. One large upload (default 256 MiB; ``--size-mib 1024`` for the issue's 1 GiB) through a real
   ``balupi serve`` process, to the 200 (file fsynced, queue row committed), against ``dd`` writing
   the same number of bytes with ``conv=fsync`` into the same directory. Aim: ratio ≥ 0.7.
2. ``--count`` uploads of 100 KB from 8 concurrent clients: uploads per second and p95 latency to
   the 200.

Run:  .venv/bin/python bench/uploads.py [--size-mib 1024] [--count 1000]
Not part of the test suite: it prints figures, it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from balupi.services.auth import jwt
from balupi.sim.measure import balupi_serve_process

SECRET = "bench-nas-secret-0123456789abcdef0123456789"
BLOCK = 1024 * 1024


def token() -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": "2",
        "username": "alice",
        "role": "user",
        "type": "access",
        "iat": now,
        "exp": now + 3600,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET)}"}


def healthy(url: str) -> bool:
    return httpx.get(f"{url}/api/health").status_code == 200


async def multipart(size: int, name: str) -> AsyncIterator[bytes]:
    yield (
        '--b\r\nContent-Disposition: form-data; name="path"\r\n\r\nalice/bench\r\n'
        f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    ).encode()
    block = os.urandom(BLOCK)
    sent = 0
    while sent < size:
        piece = block[: min(BLOCK, size - sent)]
        sent += len(piece)
        yield piece
    yield b"\r\n--b--\r\n"


async def upload(client: httpx.AsyncClient, size: int, name: str) -> float:
    started = time.perf_counter()
    answer = await client.post(
        "/api/files/upload",
        headers={**token(), "Content-Type": "multipart/form-data; boundary=b"},
        content=multipart(size, name),
    )
    answer.raise_for_status()
    return time.perf_counter() - started


def dd_seconds(directory: Path, size_mib: int) -> float:
    target = directory / "dd-reference.bin"
    started = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/urandom", f"of={target}", f"bs={BLOCK}", f"count={size_mib}", "conv=fsync"],
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="balupi-bench-", dir=Path.cwd()) as temporary:
        data_dir = Path(temporary)
        settings = {"DATA_DIR": str(data_dir), "NAS_JWT_SECRET": SECRET}
        with balupi_serve_process(settings, healthy) as pi:
            url = pi.url
            async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                size = args.size_mib * BLOCK
                ingest = await upload(client, size, "large.bin")
                reference = dd_seconds(data_dir / "uploads", args.size_mib)
                # dd reads /dev/urandom too, so both sides pay for random bytes.
                print(
                    f"large upload {args.size_mib} MiB: BaluPi {size / ingest / BLOCK:.1f} MiB/s "
                    f"({ingest:.2f} s), dd conv=fsync {size / reference / BLOCK:.1f} MiB/s "
                    f"({reference:.2f} s); ratio {reference / ingest:.2f} (aim >= 0.7)"
                )

                latencies: list[float] = []
                queue: asyncio.Queue[int] = asyncio.Queue()
                for index in range(args.count):
                    queue.put_nowait(index)

                async def worker() -> None:
                    while not queue.empty():
                        index = queue.get_nowait()
                        latencies.append(await upload(client, 100_000, f"small-{index}.jpg"))

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(args.clients)))
                elapsed = time.perf_counter() - started
                p95 = statistics.quantiles(latencies, n=100)[94]
                print(
                    f"{args.count} uploads of 100 KB from {args.clients} clients: "
                    f"{args.count / elapsed:.1f} uploads/s, p50 "
                    f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
                )


if __name__ == "__main__":
    asyncio.run(main())
