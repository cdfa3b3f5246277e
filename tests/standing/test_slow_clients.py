"""Slow and greedy clients against a real ``balupi serve``: the Pi stays answerable.

A LAN client could hold BaluPi's connections (and file descriptors) for ever: request heads sent
a byte at a time were never timed out, a connection that sent nothing stayed open, and a flood
past the open-files limit made the accept loop log a traceback per attempt (118 MB in 10 s)
while ``/api/health`` timed out. Here the server runs with short timeouts, a small connection
cap and a low open-files limit, so each claim is seen within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from balupi.config import Settings
from balupi.logs import FloodFilter, Throttle
from balupi.server import ConnectionLimits, running_server
from tests.processes import ServeProcess

HEAD_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1.0
MAX_CONNECTIONS = 64
CHILD_OPEN_FILES = 256  # the server's RLIMIT_NOFILE: a flood of FLOOD connections goes past it
FLOOD = 400
GRACE_S = 3.0  # how much later than its timeout a connection may be closed
ON_THE_SERVERS_LOOP = pytest.mark.asyncio(loop_scope="module")


@contextlib.contextmanager
def open_files_limit_for_children(soft: int) -> Iterator[None]:
    """Lower this process's soft ``RLIMIT_NOFILE`` while a child is started (it inherits it)."""
    old_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (old_soft, hard))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[ServeProcess, Path]]:
    """One server for the module: starting ``balupi serve`` costs seconds on a loaded Pi."""
    root = tmp_path_factory.mktemp("slow-clients")
    log = root / "serve.log"
    process = ServeProcess(
        log,
        DATA_DIR=str(root / "data"),
        HEAD_TIMEOUT_SECONDS=str(HEAD_TIMEOUT_S),
        KEEP_ALIVE_SECONDS=str(KEEP_ALIVE_S),
        MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    with process.killed_at_exit():
        with open_files_limit_for_children(CHILD_OPEN_FILES):
            await process.start()
        yield process, log


async def connect(process: ServeProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", process.port)


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server ends the connection within ``within`` seconds (EOF or reset)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def health_answers(process: ServeProcess, times: int = 3) -> bool:
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
        for _ in range(times):
            async with http.stream("GET", "/api/health", headers={"Connection": "close"}) as r:
                if r.status_code != 200:
                    return False
    return True


async def drip(writer: asyncio.StreamWriter) -> None:
    """Slowloris: a request head that never ends, one header byte at a time."""
    with contextlib.suppress(ConnectionError):
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: pi\r\nX-Slow: ")
        while True:
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(b"a")


@ON_THE_SERVERS_LOOP
@pytest.mark.slow
async def test_slowloris_is_dropped_after_the_head_timeout_and_health_answers(
    server: tuple[ServeProcess, Path],
) -> None:
    process, _ = server
    connections = [await connect(process) for _ in range(MAX_CONNECTIONS * 2)]
    drips = [asyncio.create_task(drip(writer)) for _, writer in connections]
    try:
        assert await health_answers(process)  # past the cap too: the oldest waiting give way
        closed = await asyncio.gather(
            *(closed_by_server(reader, HEAD_TIMEOUT_S + GRACE_S) for reader, _ in connections)
        )
        assert all(closed), f"{closed.count(False)} slow heads still open"
    finally:
        for task in drips:
            task.cancel()
        for _, writer in connections:
            writer.close()


@ON_THE_SERVERS_LOOP
@pytest.mark.slow
async def test_silent_and_idle_keep_alive_connections_are_closed(
    server: tuple[ServeProcess, Path],
) -> None:
    process, _ = server
    silent_reader, silent = await connect(process)
    idle_reader, idle = await connect(process)
    idle.write(b"GET /api/health HTTP/1.1\r\nHost: pi\r\n\r\n")
    assert (await idle_reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
    try:
        assert await closed_by_server(idle_reader, KEEP_ALIVE_S + GRACE_S)
        assert await closed_by_server(silent_reader, HEAD_TIMEOUT_S + GRACE_S)
    finally:
        silent.close()
        idle.close()


@ON_THE_SERVERS_LOOP
@pytest.mark.slow
async def test_a_flood_past_the_open_files_limit_logs_once_and_health_answers(
    server: tuple[ServeProcess, Path],
) -> None:
    process, log = server
    logged_before = log.stat().st_size
    flood: list[asyncio.StreamWriter] = []
    for _ in range(FLOOD):  # connected by the kernel's backlog even when not yet accepted
        with contextlib.suppress(OSError):
            flood.append((await connect(process))[1])
    try:
        assert await health_answers(process)
    finally:
        for writer in flood:
            writer.close()
    assert await health_answers(process, times=1)

    logged = log.read_bytes()[logged_before:].decode(errors="replace")
    assert "Traceback" not in logged
    assert len(logged) < 4000, logged[:4000]


async def _length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


ECHO_LENGTH = Starlette(routes=[Route("/", _length, methods=["POST"])])


async def test_a_slow_body_still_flowing_is_not_timed_out() -> None:
    """Uploads are long bodies: only the head has a deadline."""
    limits = ConnectionLimits(head_timeout=0.3, keep_alive=0.3)
    async with running_server(ECHO_LENGTH, limits=limits) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        chunks = 8
        writer.write(
            b"POST / HTTP/1.1\r\nHost: pi\r\n" + f"Content-Length: {chunks}\r\n\r\n".encode()
        )
        for _ in range(chunks):  # 8 x 0.1 s: longer than the head timeout, never idle
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.1)
        response = await reader.read(65536)
        writer.close()
    assert response.startswith(b"HTTP/1.1 200")
    assert response.endswith(b"\r\n\r\n8")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _out_of_files_record() -> logging.LogRecord:
    error = OSError(errno.EMFILE, "Too many open files")
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, "accept failed", (), (OSError, error, None)
    )


def test_a_repeated_condition_is_one_line_a_minute_with_a_count() -> None:
    clock = FakeClock()
    flood = FloodFilter(Throttle(60, clock))
    records = [_out_of_files_record() for _ in range(1000)]
    passed = [record for record in records if flood.filter(record)]
    assert len(passed) == 1
    line = passed[0]
    assert (line.getMessage(), line.exc_info) == ("too many open files", None)
    assert line.__dict__["occurrences"] == 1

    clock.now = 61
    later = _out_of_files_record()
    assert flood.filter(later)
    assert later.__dict__["occurrences"] == 1000  # the 999 folded away, and this one
    other = logging.LogRecord("balupi", logging.ERROR, __file__, 1, "something else", (), None)
    assert flood.filter(other)
    assert other.getMessage() == "something else"


def test_the_unit_leaves_room_for_the_default_connection_cap() -> None:
    """Under systemd's default 1,024 open files the cap would shrink to 768; the unit raises it."""
    unit = (Path(__file__).parents[2] / "deploy" / "balupi.service").read_text()
    limits = [
        line.partition("=")[2] for line in unit.splitlines() if line.startswith("LimitNOFILE=")
    ]
    assert len(limits) == 1
    default = ConnectionLimits(max_connections=Settings.model_fields["max_connections"].default)
    assert default.connection_cap(open_files=int(limits[0])) == default.max_connections
    assert default.connection_cap(open_files=1024) < default.max_connections
