"""Cache hit path: a cached file served by BaluPi against nginx (sendfile on) serving the very
same file from the same disk, with 1 and 8 concurrent clients.

    .venv/bin/python bench/cache_hit.py                     # quick: 256 MiB, best of 3
    .venv/bin/python bench/cache_hit.py --size-mb 1024      # the issue's figure: 1 GiB

The file is fetched through BaluPi once (a miss, which caches it); then nginx serves the cached
blob itself (``DATA_DIR/cache/objects/…``) and BaluPi serves it as a hit. Each figure is the
best of ``--runs`` rounds of all clients downloading at once with curl; the ratio is BaluPi /
nginx in MB/s, both measured in this run. Not part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from cache_common import MiB, best, cached_blob, curl_all, home, nginx_serving, write_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="file size (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="rounds per figure (default 3)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    size = args.size_mb * MiB

    with home() as h:
        write_file(h.storage / "Shared/hit.bin", size, seed=1)
        pi_url = f"{h.pi_url}/api/files/download/Shared/hit.bin"
        warm = curl_all([pi_url], h.auth)
        assert warm.bytes == size, "the warm-up download was short"
        blob = cached_blob(h)
        rows = []
        with nginx_serving(blob.parent.parent) as nginx:
            nginx_url = f"{nginx}/{blob.parent.name}/{blob.name}"
            for clients in args.clients:
                reference = best(args.runs, partial(curl_all, [nginx_url] * clients))
                ours = best(args.runs, partial(curl_all, [pi_url] * clients, h.auth))
                rows.append((clients, reference, ours))

    print(f"cache hit, {args.size_mb} MiB file, best of {args.runs} (MB/s, all clients together):")
    print(f"  {'clients':>7}  {'nginx':>9}  {'BaluPi':>9}  {'ratio':>6}")
    for clients, reference, ours in rows:
        ratio = ours.mb_per_s / reference.mb_per_s
        print(f"  {clients:>7}  {reference.mb_per_s:9.1f}  {ours.mb_per_s:9.1f}  {ratio:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
