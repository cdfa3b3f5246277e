"""BaluPi's peak memory while 32 clients download large files at once: misses, then hits.

    .venv/bin/python bench/cache_memory.py                      # quick: 4 files of 128 MiB
    .venv/bin/python bench/cache_memory.py --size-mb 1024 --files 32   # the issue's: 1 GiB each

The clients (curl) are spread round-robin over ``--files`` distinct files. Phase one: nothing is
cached, so the 32 downloads are misses (one NAS download per file, the other clients of a file
read the growing temp file). Phase two: the same downloads again, all hits. BaluPi runs in its
own process; its RSS is sampled every 5 ms from a thread (psutil). The issue's limit is 150 MB.

glibc gives every thread that allocates its own malloc arena and rarely returns their memory;
BaluPi reads and writes files in worker threads, so it should run with ``MALLOC_ARENA_MAX=2``
(the default here; ``--malloc-arenas default`` measures without it).
"""

from __future__ import annotations

import argparse
import sys

from balupi.sim.measure import PeakRss
from cache_common import MiB, curl_all, home, write_file

LIMIT_MB = 150


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=128, help="file size (default 128)")
    parser.add_argument("--files", type=int, default=4, help="distinct files (default 4)")
    parser.add_argument("--clients", type=int, default=32, help="clients at once (default 32)")
    parser.add_argument(
        "--malloc-arenas",
        default="2",
        help="MALLOC_ARENA_MAX for BaluPi (default 2, as deployed; 'default': glibc's own)",
    )
    args = parser.parse_args()
    size = args.size_mb * MiB
    env = {} if args.malloc_arenas == "default" else {"MALLOC_ARENA_MAX": args.malloc_arenas}

    with home(env) as h:
        for index in range(args.files):
            write_file(h.storage / f"Shared/mem-{index}.bin", size, seed=index)
        urls = [
            f"{h.pi_url}/api/files/download/Shared/mem-{i % args.files}.bin"
            for i in range(args.clients)
        ]
        phases = {}
        for phase in ("misses", "hits"):
            with PeakRss(h.pi_pid) as rss:
                transfer = curl_all(urls, h.auth)
            if transfer.bytes != size * args.clients:
                raise RuntimeError(f"{phase}: short downloads")
            phases[phase] = (rss, transfer)

    print(
        f"{args.clients} clients at once over {args.files} files of {args.size_mb} MiB "
        f"(limit {LIMIT_MB} MB, MALLOC_ARENA_MAX={args.malloc_arenas}):"
    )
    for phase, (rss, transfer) in phases.items():
        verdict = "ok" if rss.peak / MiB <= LIMIT_MB else "OVER"
        print(
            f"  {phase:>6}: BaluPi RSS before {rss.baseline / MiB:6.1f} MB, "
            f"peak {rss.peak / MiB:6.1f} MB ({verdict}); {transfer.mb_per_s:7.1f} MB/s in all"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
