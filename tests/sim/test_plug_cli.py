"""``balupi sim plug``: arguments, configuration errors, and a real run stopped by Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import httpx
import pytest

from balupi.config import ConfigError
from balupi.sim.plug import cli

_RUN_PLUG = """
import argparse, sys
from balupi.sim.plug import cli
parser = argparse.ArgumentParser()
cli.add_arguments(parser)
sys.exit(cli.run(parser.parse_args(sys.argv[1:])))
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_become_a_plug_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPO_USERNAME", raising=False)
    monkeypatch.delenv("TAPO_PASSWORD", raising=False)
    args = parse(
        "--port", "9999", "--model", "P115", "--mac", "aa:bb:cc:dd:ee:ff",
        "--username", "u@example.com", "--password", "pw", "--power", "constant:42",
        "--timezone", "UTC", "--alias", "Monitor", "--off",
    )  # fmt: skip
    config = cli.config_from_args(args)
    assert (config.port, config.model, config.mac, config.power) == (
        9999,
        "P115",
        "aa:bb:cc:dd:ee:ff",
        "constant:42",
    )
    assert (config.username, config.password, config.timezone, config.alias, config.on) == (
        "u@example.com",
        "pw",
        "UTC",
        "Monitor",
        False,
    )


def test_credentials_default_to_the_tapo_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPO_USERNAME", "env@example.com")
    monkeypatch.setenv("TAPO_PASSWORD", "env-pw")
    config = cli.config_from_args(parse())
    assert (config.username, config.password) == ("env@example.com", "env-pw")


def test_missing_credentials_or_bad_values_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAPO_USERNAME", raising=False)
    monkeypatch.delenv("TAPO_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="--username and --password"):
        cli.run(parse())
    for bad in (["--power", "solar:3"], ["--timezone", "Mars/Olympus"], ["--mac", "nope"]):
        with pytest.raises(ConfigError):
            cli.run(parse("--username", "u", "--password", "p", *bad))


async def test_serves_until_interrupted() -> None:
    env = {**os.environ, "TAPO_USERNAME": "u@example.com", "TAPO_PASSWORD": "pw"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RUN_PLUG,
        "--power",
        "constant:10",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=15)).decode()
        assert line.startswith("plug emulator P110 50-C7-BF-00-00-01 listening on http://")
        url = line.split()[-1]
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post("/app/handshake1", content=bytes(16))
        assert response.status_code == 200
        assert len(response.content) == 48

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
