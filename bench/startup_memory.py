"""BaluPi's idle memory and start-up time against their budgets (issue 14).

    .venv/bin/python bench/startup_memory.py [--runs 5] [--settle 5] [--python PATH]

Every service is on: the NAS link (to the NAS emulator), three Tapo plugs (plug emulators, added
once through the API so each later start polls them from the database) and the cache. Each run
starts ``balupi serve`` afresh on a database already at head, as a Pi restarts it:

* start-to-ready: from starting the process until ``/api/health`` answers;
* idle RSS: once the NAS is online and every plug has a reading, after ``--settle`` quiet seconds.

BaluPi runs with its run-time dependencies only, as a Pi installs it: in a venv made from
requirements.txt (``build/runtime-venv``, made once; from ``build/wheelhouse`` when that is
complete), not in the dev venv, whose extras change what is imported (structlog loads ``rich``
when it is installed: +5 MB, +40 ms). ``--python`` names another interpreter.

Two references, started the same way with the same Python in the same run: a minimal FastAPI +
Uvicorn app (a one-route module written to a temp dir), and the same app importing the libraries
BaluPi cannot run without (SQLAlchemy's async ORM, aiosqlite, httpx, pydantic-settings,
structlog, python-kasa): the floor under BaluPi's own memory. Both run with their bytecode
compiled, as pip leaves an installed wheel (into a temp ``PYTHONPYCACHEPREFIX``, by a first start
that is not measured), even where ``PYTHONDONTWRITEBYTECODE`` is set. Budgets: idle RSS at
most 80 MB, start-to-ready at most 1.5 × the reference's. Loopback only; every wait is bounded.
Not part of the test suite: it prints figures and PASS/MISS, its exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from balupi.sim.measure import balupi_serve_process, free_port, nas_emulator_process

MiB = 1024 * 1024
RSS_BUDGET_MB = 80
START_BUDGET_RATIO = 1.5
PLUGS = 3
TAPO_USER, TAPO_PASSWORD = "bench@balupi.invalid", "bench-pw"
ADMIN = {"username": "admin", "password": "DevMode2024"}  # the NAS emulator's default admin
POLL = 0.02  # seconds between readiness probes: the resolution of the start-up figures
START_TIMEOUT = 60.0

REPO = Path(__file__).resolve().parents[1]
RUNTIME_VENV = REPO / "build" / "runtime-venv"
WHEELHOUSE = REPO / "build" / "wheelhouse"

MINIMAL_APP = textwrap.dedent(
    '''
    """The reference: the smallest FastAPI app Uvicorn can serve."""
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}
    '''
)
# The run-time libraries BaluPi needs whatever it is configured to do (python-kasa: the bench
# has plugs), imported and left idle.
DEPENDENCIES_APP = (
    "import aiosqlite, httpx, kasa, pydantic_settings, structlog\n"
    "import sqlalchemy.ext.asyncio, sqlalchemy.orm\n" + MINIMAL_APP
)
REFERENCES = {"minimal": MINIMAL_APP, "dependencies": DEPENDENCIES_APP}


def _runtime_python() -> str:
    """The interpreter of ``build/runtime-venv``: requirements.txt and BaluPi (editable), no more.

    Made afresh when requirements.txt or pyproject.toml changed, so a dropped pin is gone.
    """
    python = RUNTIME_VENV / "bin" / "python"
    digest = hashlib.sha256(
        (REPO / "requirements.txt").read_bytes() + (REPO / "pyproject.toml").read_bytes()
    ).hexdigest()[:16]
    stamp = RUNTIME_VENV / f".installed-{digest}"
    if stamp.exists():
        return str(python)
    shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(RUNTIME_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if any(WHEELHOUSE.glob(".complete-*")):
        pip += ["--no-index", "--find-links", str(WHEELHOUSE)]
    print(f"making {RUNTIME_VENV} (once) ...", flush=True)
    subprocess.run([*pip, "setuptools>=77"], check=True)
    subprocess.run([*pip, "--no-deps", "-r", str(REPO / "requirements.txt")], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO)], check=True)
    stamp.touch()
    return str(python)


def _environment(root: Path) -> dict[str, str]:
    """Compiled bytecode kept in ``root/pycache``; malloc arenas as deploy/balupi.service sets."""
    return {
        "PYTHONDONTWRITEBYTECODE": "",  # empty: unset
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
        "MALLOC_ARENA_MAX": "2",
    }


def _answers(url: str) -> bool:
    return httpx.get(f"{url}/api/health", timeout=1).status_code == 200


@contextlib.contextmanager
def _plug_emulators(count: int) -> Iterator[list[int]]:
    """``count`` ``balupi sim plug`` processes on free loopback ports; their ports once they
    accept connections."""
    ports = [free_port() for _ in range(count)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "balupi",
                "sim",
                "plug",
                f"--port={port}",
                f"--mac=50:C7:BF:00:14:{n:02X}",
                f"--alias=plug {n}",
                f"--power=constant:{10 * n}",
                f"--username={TAPO_USER}",
                f"--password={TAPO_PASSWORD}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, port in enumerate(ports, start=1)
    ]
    try:
        for port in ports:
            _wait(functools.partial(_listening, port), "a plug emulator did not start")
        yield ports
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _wait(condition: Callable[[], bool], failure: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError, KeyError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(POLL)


def _login(url: str) -> dict[str, str]:
    token = httpx.post(f"{url}/api/auth/login", json=ADMIN, timeout=10).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _all_on(url: str) -> bool:
    """The NAS online and every plug read at least once."""
    headers = _login(url)
    nas = httpx.get(f"{url}/api/nas/status", headers=headers, timeout=5).json()
    plugs = httpx.get(f"{url}/api/tapo/devices", headers=headers, timeout=5).json()["devices"]
    return (
        nas.get("state") == "online"
        and len(plugs) == PLUGS
        and all(plug["live"]["power_w"] is not None for plug in plugs)
    )


def _add_plugs(url: str, ports: list[int]) -> None:
    headers = _login(url)
    for port in ports:
        added = httpx.post(
            f"{url}/api/tapo/devices",
            json={"host": "127.0.0.1", "port": port},
            headers=headers,
            timeout=30,
        )
        added.raise_for_status()


def _idle_rss(pid: int, seconds: float) -> float:
    """The median of RSS samples over ``seconds`` (MB), taken after ``seconds`` of quiet."""
    process = psutil.Process(pid)
    time.sleep(seconds)
    samples = []
    for _ in range(10):
        samples.append(process.memory_info().rss / MiB)
        time.sleep(seconds / 10)
    return statistics.median(samples)


def _balupi_run(
    python: str, settings: dict[str, str], environment: dict[str, str], settle: float
) -> tuple[float, float]:
    """One start of BaluPi: (seconds to ready, idle RSS in MB)."""
    ready_at: list[float] = []

    def health(url: str) -> bool:
        if _answers(url):
            ready_at.append(time.perf_counter())
            return True
        return False

    started = time.perf_counter()
    with balupi_serve_process(
        settings,
        health,
        environment=environment,
        start_timeout=START_TIMEOUT,
        poll_interval=POLL,
        python=python,
    ) as pi:
        seconds = ready_at[-1] - started
        _wait(lambda: _all_on(pi.url), "BaluPi did not see the NAS and every plug")
        return seconds, _idle_rss(pi.pid, settle)


def _reference_run(
    python: str, app_dir: Path, environment: dict[str, str], settle: float | None
) -> tuple[float, float]:
    """One start of a reference app in ``app_dir``: (seconds until it answers, idle RSS in MB;
    0 when ``settle`` is None)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    child = subprocess.Popen(
        [python, "-m", "uvicorn", "reference_app:app", "--host=127.0.0.1", f"--port={port}"],
        cwd=app_dir,
        env={**os.environ, **environment, "PYTHONPATH": str(app_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _answers(url) or child.poll() is not None, f"{app_dir.name} did not start")
        if child.poll() is not None:
            raise RuntimeError(f"{app_dir.name} exited")
        seconds = time.perf_counter() - started
        return seconds, 0.0 if settle is None else _idle_rss(child.pid, settle)
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="starts of each app (default 5)")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="quiet seconds before RSS is read (default 5)"
    )
    parser.add_argument(
        "--python", help="interpreter to run the apps with (default: build/runtime-venv's)"
    )
    args = parser.parse_args()
    python = args.python or _runtime_python()

    with tempfile.TemporaryDirectory(prefix="balupi-startup-bench-") as temp:
        root = Path(temp)
        (root / "nas/Shared").mkdir(parents=True)
        for name, source in REFERENCES.items():
            (root / name).mkdir()
            (root / name / "reference_app.py").write_text(source)
        with nas_emulator_process(root / "nas") as nas, _plug_emulators(PLUGS) as ports:
            settings = {
                "DATA_DIR": str(root / "pi"),
                "NAS_URL": nas.api_url,
                "TAPO_USERNAME": TAPO_USER,
                "TAPO_PASSWORD": TAPO_PASSWORD,
            }
            environment = _environment(root)
            # The first starts compile the bytecode, migrate the new database and store the
            # plugs; they are not measured.
            for name in REFERENCES:
                _reference_run(python, root / name, environment, settle=None)
            with balupi_serve_process(
                settings,
                _answers,
                environment=environment,
                start_timeout=START_TIMEOUT,
                python=python,
            ) as pi:
                _add_plugs(pi.url, ports)
            balupi: list[tuple[float, float]] = []
            references: dict[str, list[tuple[float, float]]] = {name: [] for name in REFERENCES}
            for _ in range(args.runs):  # interleaved, so all see the same machine load
                for name in REFERENCES:
                    references[name].append(
                        _reference_run(python, root / name, environment, args.settle)
                    )
                balupi.append(_balupi_run(python, settings, environment, args.settle))
    _report(python, args.runs, balupi, references)
    return 0


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s for s, _ in runs), statistics.median(r for _, r in runs)


def _report(
    python: str,
    runs: int,
    balupi: list[tuple[float, float]],
    references: dict[str, list[tuple[float, float]]],
) -> None:
    start, rss = _medians(balupi)
    minimal_start, minimal_rss = _medians(references["minimal"])
    floor_start, floor_rss = _medians(references["dependencies"])
    ratio = start / minimal_start
    print(f"{python}: Python {_version(python)}, {runs} runs each, medians")
    print(
        f"  BaluPi (NAS link, {PLUGS} plugs, cache): start-to-ready {start:5.2f} s, idle RSS "
        f"{rss:5.1f} MB"
    )
    print(
        f"  minimal FastAPI + Uvicorn app:        start-to-ready {minimal_start:5.2f} s, idle "
        f"RSS {minimal_rss:5.1f} MB"
    )
    print(
        f"  the same + BaluPi's libraries:        start-to-ready {floor_start:5.2f} s, idle "
        f"RSS {floor_rss:5.1f} MB"
    )
    print(f"  runs: BaluPi {', '.join(f'{s:.2f} s/{r:.0f} MB' for s, r in balupi)}")
    for name, measured in references.items():
        print(f"        {name} {', '.join(f'{s:.2f} s/{r:.0f} MB' for s, r in measured)}")
    verdict = "PASS" if rss <= RSS_BUDGET_MB else "MISS"
    print(
        f"idle RSS      {rss:5.1f} MB / {RSS_BUDGET_MB} MB budget = {rss / RSS_BUDGET_MB:.2f}  "
        f"{verdict}  (BaluPi's own: {rss - floor_rss:+.1f} MB over its libraries' floor)"
    )
    verdict = "PASS" if ratio <= START_BUDGET_RATIO else "MISS"
    print(
        f"start-to-ready {ratio:4.2f} × the minimal app's (budget {START_BUDGET_RATIO} ×)  "
        f"{verdict}  (its libraries alone: {floor_start / minimal_start:4.2f} ×)"
    )


def _version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
