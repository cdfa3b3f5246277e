"""What a configuration does not use is not imported (issue 14): each costs a Pi megabytes of
memory and seconds of start-up. A fresh interpreter starts the app with no plugs, mDNS off and
a database already at head and no configuration file; python-kasa, Pillow, zeroconf, Alembic
and PyYAML must then still be unloaded, and each must load once it is needed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from balupi.db.engine import default_database_url
from balupi.db.migrate import head_revision, sqlite_at_head, upgrade_to, upgrade_to_head

LAZY = ("kasa", "PIL", "zeroconf", "alembic", "yaml")

_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path

    from balupi.app import create_app
    from balupi.config import Settings

    LAZY = {lazy!r}
    data = Path(sys.argv[1])


    def loaded():
        return {{name: name in sys.modules for name in LAZY}}


    async def main():
        settings = Settings(data_dir=data, mdns_enabled=False)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            started = loaded()
            services = app.state.services
            from balupi.services.cache.thumbnails import render
            from balupi.services.nas.discovery import mdns_interfaces
            from balupi.services.tapo import PlugAddress

            image = data / "not-an-image.jpg"
            image.write_bytes(b"no picture")
            try:
                render(image, data / "thumb.jpg", 64)
            except OSError:
                pass
            mdns_interfaces("0.0.0.0", [])
            try:
                await services.tapo.add(PlugAddress("127.0.0.1", 9))  # nothing listens there
            except Exception:
                pass
        return started


    started = asyncio.run(main())
    from balupi.db.migrate import upgrade_to_head

    upgrade_to_head(f"sqlite+aiosqlite:///{{data / 'new.db'}}")  # a migration is pending
    import os
    from balupi.config import load_settings

    (data / "balupi.yaml").write_text("log_level: INFO\\n")
    os.environ["BALUPI_CONFIG"] = str(data / "balupi.yaml")
    load_settings()  # a configuration file is read
    print(json.dumps({{"started": started, "used": loaded()}}))
    """
).format(lazy=LAZY)


@pytest.mark.slow  # a fresh interpreter importing the whole app: seconds on a loaded machine
def test_unused_libraries_load_only_when_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    upgrade_to_head(default_database_url(data))  # as a Pi restarts: the database is at head
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    found = json.loads(child.stdout.strip().splitlines()[-1])
    assert found["started"] == dict.fromkeys(LAZY, False)
    assert found["used"] == dict.fromkeys(LAZY, True)


def test_a_database_at_head_is_recognised_without_alembic(tmp_path: Path) -> None:
    url = default_database_url(tmp_path)
    assert not sqlite_at_head(url)  # no file yet
    upgrade_to(url, "0001")
    assert not sqlite_at_head(url)  # older: Alembic must upgrade it
    upgrade_to_head(url)
    assert sqlite_at_head(url)
    with sqlite3.connect(tmp_path / "balupi.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'ffff'")  # a newer BaluPi's
    assert not sqlite_at_head(url)  # Alembic decides, and refuses, as before
    assert not sqlite_at_head("sqlite+aiosqlite:///:memory:")


def test_the_head_read_from_the_files_is_alembics() -> None:
    from balupi.db.migrate import _shipped_head

    assert _shipped_head() == head_revision()
