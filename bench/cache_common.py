"""What the cache benchmarks share: the simulated home in processes, files, curl, nginx.

The NAS emulator (``balupi sim nas``) and BaluPi (``balupi serve``) run as separate processes
on loopback, so a memory figure is the BaluPi process's alone. Clients are ``curl`` processes
writing to ``/dev/null``: a Python client would be the bottleneck and hide the difference
being measured. The reference server is nginx with ``sendfile on``, installed with apt if it
is missing, on 127.0.0.1 with a temp config.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from balupi.sim.measure import balupi_serve_process, free_port, nas_emulator_process

MiB = 1024 * 1024
ADMIN = {"username": "admin", "password": "DevMode2024"}  # the emulator's default admin


@contextlib.contextmanager
def balupi_serve(
    nas_url: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[int, str, str]]:
    """``balupi serve`` in front of ``nas_url``: (pid, url, admin token) once it sees the NAS."""
    tokens: list[str] = []

    def nas_online(url: str) -> bool:
        login = httpx.post(f"{url}/api/auth/login", json=ADMIN, timeout=5)
        token = login.json()["access_token"]
        status = httpx.get(f"{url}/api/nas/status", headers={"Authorization": f"Bearer {token}"})
        tokens.append(token)
        return bool(status.json().get("state") == "online")

    settings = {"NAS_URL": nas_url, "DATA_DIR": str(data_dir)}
    with balupi_serve_process(settings, nas_online, environment=extra_env) as pi:
        yield pi.pid, pi.url, tokens[-1]


@dataclass(frozen=True)
class Home:
    root: Path
    storage: Path  # the emulated NAS's disk
    nas_url: str
    pi_url: str
    pi_pid: int
    pi_data: Path
    token: str

    @property
    def auth(self) -> str:
        return f"Authorization: Bearer {self.token}"


@contextlib.contextmanager
def home(extra_env: dict[str, str] | None = None) -> Iterator[Home]:
    """An emulated NAS and BaluPi in front of it, in a temp dir removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="balupi-cache-bench-") as temp:
        root = Path(temp)
        storage = root / "nas"
        (storage / "Shared").mkdir(parents=True)
        with (
            nas_emulator_process(storage) as nas,
            balupi_serve(nas.api_url, root / "pi", extra_env) as (pid, pi_url, token),
        ):
            yield Home(root, storage, nas.api_url, pi_url, pid, root / "pi", token)


def write_file(path: Path, size: int, seed: int = 0) -> None:
    """``size`` bytes of a repeating, seed-dependent pattern, written in 1 MiB pieces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with path.open("wb") as handle:
        left = size
        while left > 0:
            handle.write(block[: min(left, MiB)])
            left -= MiB


def settled_blobs(h: Home, expected: int, timeout: float = 60.0) -> int:
    """How many blobs BaluPi's store holds, waiting (up to ``timeout``) for ``expected``: a fill
    commits in the background (fsync, rename) just after its last byte went out."""
    deadline = time.monotonic() + timeout
    while True:
        found = len(list((h.pi_data / "cache/objects").glob("*/*")))
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def cached_blob(h: Home) -> Path:
    """The one blob in BaluPi's store, once committed."""
    if settled_blobs(h, 1) != 1:
        raise RuntimeError("the file was not cached")
    return next((h.pi_data / "cache/objects").glob("*/*"))


@dataclass(frozen=True)
class Transfer:
    clients: int
    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MiB / self.seconds


def curl_all(urls: list[str], header: str | None = None) -> Transfer:
    """Download every URL at once (one curl process each) to /dev/null; total bytes / wall time."""
    command = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}\\n"]
    if header:
        command += ["-H", header]
    started = time.perf_counter()
    processes = [
        subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True) for url in urls
    ]
    total = 0
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"curl failed ({process.returncode})")
        total += int(out.strip() or 0)
    return Transfer(len(urls), total, time.perf_counter() - started)


def best(runs: int, measure: Callable[[], Transfer]) -> Transfer:
    """The fastest of ``runs`` calls of ``measure()``."""
    results = [measure() for _ in range(runs)]
    return max(results, key=lambda t: t.mb_per_s)


def ensure_nginx() -> str:
    """The nginx binary, installed with apt (Debian's ``nginx-light``) if it is missing."""
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    if found:
        return str(found)
    print("nginx is missing; installing it with apt (nginx-light) …", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True)
    return "/usr/sbin/nginx"


@contextlib.contextmanager
def nginx_serving(directory: Path) -> Iterator[str]:
    """nginx on 127.0.0.1 serving ``directory`` with sendfile on; yields its base URL."""
    binary = ensure_nginx()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="balupi-nginx-") as temp:
        config = Path(temp) / "nginx.conf"
        # The cache dir is private to its owner; nginx's workers must read as the same user.
        user = "user root;" if os.geteuid() == 0 else ""
        config.write_text(
            f"""
{user}
daemon off;
worker_processes 1;
pid {temp}/nginx.pid;
error_log {temp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {directory};
    }}
}}
"""
        )
        process = subprocess.Popen([binary, "-c", str(config), "-p", temp])
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    httpx.get(url + "/", timeout=1)
                    break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
