"""Cache miss path: a file BaluPi has not cached (streamed from the NAS while it fills the
cache) against downloading the same file straight from the NAS emulator.

    .venv/bin/python bench/cache_miss.py                    # quick: 256 MiB, best of 3
    .venv/bin/python bench/cache_miss.py --size-mb 1024     # the issue's figure: 1 GiB

Every round uses a fresh copy of the file (new path, new content), so every BaluPi download is a
real miss: one NAS download, hashed and written to a temp file, fsynced and renamed into the
store. The ratio is BaluPi / direct in MB/s, both with curl, both measured in this run.

A miss writes every byte to the cache's disk, which the direct download does not; so the run
also times writing the same number of bytes to that disk (``write`` + ``fsync``, as ``dd
conv=fsync``) and prints the ratio against the slower of the two references as well.

The machine's other work moves both downloads from run to run, so it also prints the CPU time
``balupi serve`` spent per GiB of misses (user and system), which moves much less.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psutil

from cache_common import MiB, curl_all, home, settled_blobs, write_file


def disk_write_mb_per_s(directory: Path, size: int) -> float:
    """``size`` bytes written to a file in ``directory`` and fsynced, in MB/s (then deleted)."""
    target = directory / "disk-reference.bin"
    block = os.urandom(MiB)
    started = time.perf_counter()
    with target.open("wb") as handle:
        for _ in range(size // MiB):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return size / MiB / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="file size (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    size = args.size_mb * MiB

    with home() as h:
        direct, ours, disk, cpu = [], [], [], []
        pi = psutil.Process(h.pi_pid)
        for run in range(args.runs):
            name = f"Shared/miss-{run}.bin"
            write_file(h.storage / name, size, seed=100 + run)
            direct.append(curl_all([f"{h.nas_url}/api/files/download/{name}"], h.auth))
            before = pi.cpu_times()
            ours.append(curl_all([f"{h.pi_url}/api/files/download/{name}"], h.auth))
            after = pi.cpu_times()
            cpu.append((after.user - before.user, after.system - before.system))
            settled_blobs(h, run + 1)  # the fill's fsync is done before the disk is timed
            disk.append(disk_write_mb_per_s(h.pi_data / "cache", size))
        cached = settled_blobs(h, args.runs)

    best_direct = max(t.mb_per_s for t in direct)
    best_ours = max(t.mb_per_s for t in ours)
    best_disk = max(disk)
    bound = min(best_direct, best_disk)
    print(f"cache miss, {args.size_mb} MiB file, best of {args.runs} (MB/s):")
    print(f"  direct from the NAS emulator   {best_direct:8.1f}")
    print(f"  through BaluPi (miss + fill)   {best_ours:8.1f}")
    print(f"  writing to the cache's disk    {best_disk:8.1f}   (write + fsync, same size)")
    print(f"  ratio (BaluPi / direct)        {best_ours / best_direct:8.2f}")
    print(f"  ratio (BaluPi / slower ref.)   {best_ours / bound:8.2f}")
    print(f"  files cached afterwards        {cached:8d} of {args.runs}")
    gib = size / 1024**3
    user = sorted(u for u, _ in cpu)[len(cpu) // 2] / gib
    system = sorted(s for _, s in cpu)[len(cpu) // 2] / gib
    print(f"  BaluPi CPU per GiB of misses   {user:8.2f} s user, {system:.2f} s system (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
