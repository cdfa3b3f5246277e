"""BaluPi on a small tmpfs: run by ``test_disk_full.py`` inside ``unshare -rm`` (a private mount).

Settings come from the ``BALUPI_*`` environment as for ``balupi serve``. One thing is scaled to
the small disk: the space uploads keep free for the database and logs, 256 MiB on a Pi, is
``RESERVE_BYTES`` here, so that a few uploads fit before the disk is full. Prints the URL once
serving (the only line on stdout: the logs go to stderr); stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

from balupi.app import create_app
from balupi.config import load_settings
from balupi.logs import configure_logging
from balupi.server import running_server
from balupi.services.container import Services

RESERVE_BYTES = 512 * 1024


async def main() -> None:
    answer, sys.stdout = sys.stdout, sys.stderr
    settings = load_settings()
    configure_logging(json_lines=False, level=settings.log_level)
    app = create_app(settings)
    async with running_server(app) as server:
        services: Services = app.state.services
        ingest = services.uploads.ingest
        ingest.limits = dataclasses.replace(ingest.limits, reserve_bytes=RESERVE_BYTES)
        print(server.url, file=answer, flush=True)
        await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
