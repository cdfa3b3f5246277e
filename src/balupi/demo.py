"""``balupi demo``: the simulated home on loopback, in one command.

A BaluHost NAS emulator (an admin and two users, a few demo files, Wake-on-LAN on a loopback UDP
port, lifecycle notices to the Pi) and BaluPi in front of it, configured to know the NAS's token
and handshake secrets as a real installation would. Two emulated Tapo plugs are metered from the
start: the NAS's own plug (its draw follows the NAS emulator: idle, busy, asleep, off; switching
it off cuts the NAS's power) and a desk monitor's plug on a daily profile. Ctrl-C stops
everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from PIL import Image, ImageDraw
from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings, load_settings
from balupi.db.models import DeviceRole
from balupi.errors import PlugError
from balupi.logs import configure_logging, get_logger
from balupi.server import running_server
from balupi.services.container import Services
from balupi.services.tapo import PlugAddress, PlugChanges
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.sleep import SleepConfig
from balupi.sim.nas.state import Role
from balupi.sim.nas.users import UserSpec
from balupi.sim.plug import PlugConfig, PlugEmulator
from balupi.sim.workdir import kept_or_temporary
from balupi.tasks import TaskOwner

log = get_logger(__name__)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role


DEMO_USERS = (
    DemoLogin("admin", "admin-demo-pw", "admin"),
    DemoLogin("alice", "alice-demo-pw", "user"),
    DemoLogin("bob", "bob-demo-pw", "user"),
)
NAS_BOOT_SECONDS = 8.0
# BaluHost's sleep service, on with a short timeout so a user can watch the NAS fall asleep on the
# dashboard: soft sleep after a minute at or below BaluHost's 5 requests a minute (the banner says).
NAS_SLEEP = SleepConfig(auto_idle_enabled=True, idle_timeout_minutes=1)
DEFAULT_HISTORY_DAYS = 30
HISTORY_SEED = 7
CONFIG_FILENAME = "balupi.yaml"  # the demo Pi's settings, for BALUPI_CONFIG (balupi doctor)
PHOTO_COLOURS = ("#3b82f6", "#10b981", "#f59e0b")
# The Tapo account both demo plugs are bound to, and BaluPi logs in with.
TAPO_USERNAME = "demo@balupi.invalid"
TAPO_PASSWORD = "tapo-demo-pw"
# A desk monitor: standby at night, on through the working day and the evening.
MONITOR_PROFILE = {
    "interpolation": "step",
    "points": {
        "00:00": 0.4,
        "08:30": 24.0,
        "12:30": 0.4,
        "13:15": 26.0,
        "18:00": 0.4,
        "19:30": 31.0,
        "23:15": 0.4,
    },
}


@dataclass(frozen=True)
class DemoPlug:
    name: str
    role: DeviceRole
    emulator: PlugEmulator


async def run_demo(
    *,
    port: int,
    host: str = "127.0.0.1",
    data_dir: Path | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> int:
    """Run the simulated home until SIGINT/SIGTERM; returns the exit status."""
    configure_logging(json_lines=False, level="INFO")
    with kept_or_temporary(data_dir, "balupi-demo-") as root:
        jwt_secret = _secret(root / "nas-jwt-secret")
        handshake_secret = _secret(root / "nas-handshake-secret")
        nas_config = NasEmulatorConfig(
            storage=root / "nas-storage",
            users=tuple(UserSpec(u.username, u.password, u.role) for u in DEMO_USERS),
            boot_seconds=NAS_BOOT_SECONDS,
            jwt_secret=jwt_secret,
            notify_url=f"http://{host}:{port}",
            handshake_secret=handshake_secret,
            sleep=NAS_SLEEP,
        )
        async with NasEmulator(nas_config) as nas, contextlib.AsyncExitStack() as plugs:
            await _seed_files(nas.api_url)
            demo_plugs = await _start_plugs(plugs, root, host, nas)
            settings = _pi_settings(root, host, port, nas, jwt_secret, handshake_secret)
            _write_config(root / CONFIG_FILENAME, settings)
            app = create_app(settings)
            # The history fill is the demo's one background task: its owner cancels and awaits
            # it (and logs a failure) before the server stops, also if the demo is stopped early.
            async with (
                running_server(app, host=host, port=port) as server,
                TaskOwner("demo") as tasks,
            ):
                await _register_plugs(app.state.services, demo_plugs)
                tasks.spawn(_fill_history(settings, history_days), name="demo_history_fill")
                _print_banner(server.url, nas, root, demo_plugs)
                await _wait_for_stop_signal()
    print("demo stopped")
    return 0


async def _fill_history(settings: Settings, days: int) -> None:
    """Weeks of energy history before the plugs' first live reading, so charts and costs have
    data at once (the same code as ``balupi sim energy-history``)."""
    if days <= 0:
        return
    from balupi.sim.energy_history import fill

    report = await fill(settings, days, 0, True, HISTORY_SEED)
    log.info(
        "demo energy history filled",
        days=days,
        devices=report.devices,
        hourly_rows=report.hours,
        daily_rows=report.days,
        samples=report.samples,
    )


def _pi_settings(
    root: Path, host: str, port: int, nas: NasEmulator, jwt_secret: str, handshake_secret: str
) -> Settings:
    return load_settings(
        data_dir=root / "balupi",
        host=host,
        port=port,
        nas_url=nas.api_url,
        nas_mac=nas.config.mac,
        wol_broadcast=nas.config.wol_host,
        wol_port=nas.wol_port,
        nas_jwt_secret=SecretStr(jwt_secret),
        nas_handshake_secret=SecretStr(handshake_secret),
        tapo_username=TAPO_USERNAME,
        tapo_password=SecretStr(TAPO_PASSWORD),
    )


async def _start_plugs(
    stack: contextlib.AsyncExitStack, root: Path, host: str, nas: NasEmulator
) -> list[DemoPlug]:
    """The NAS's plug (following the NAS emulator) and a monitor's (on a daily profile)."""
    profile = root / "monitor-profile.json"
    profile.write_text(json.dumps(MONITOR_PROFILE, indent=2))
    specs = (
        ("NAS", DeviceRole.NAS, "50:C7:BF:00:00:01", f"nas:{nas.control_url}"),
        ("Desk monitor", DeviceRole.MONITOR, "50:C7:BF:00:00:02", f"profile:{profile}"),
    )
    plugs = []
    for name, role, mac, power in specs:
        config = PlugConfig(
            username=TAPO_USERNAME,
            password=TAPO_PASSWORD,
            host=host,
            mac=mac,
            alias=name,
            power=power,
        )
        plugs.append(DemoPlug(name, role, await stack.enter_async_context(PlugEmulator(config))))
    return plugs


async def _register_plugs(services: Services, plugs: list[DemoPlug]) -> None:
    """Add the plugs by host and port, as an admin would, so live power shows at once.

    A kept ``--data-dir`` already knows them (by MAC); adding them again records their new ports.
    """
    for plug in plugs:
        try:
            view, _ = await services.tapo.add(PlugAddress(plug.emulator.host, plug.emulator.port))
            await services.tapo.change(view.record.id, PlugChanges(name=plug.name, role=plug.role))
        except PlugError as exc:  # the rest of the demo works without it
            log.warning("demo plug not added", plug=plug.name, error=str(exc))


def _write_config(path: Path, settings: Settings) -> None:
    """The demo Pi's settings as a ``BALUPI_CONFIG`` file (mode 0600: it holds the secrets), so
    that ``balupi doctor`` and ``balupi db …`` can be pointed at the running demo."""
    values: dict[str, object] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        values[name] = str(value) if isinstance(value, Path) else value
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(values, sort_keys=True))


def _secret(path: Path) -> str:
    """A secret kept beside the demo's data, so a kept ``--data-dir`` keeps its tokens valid."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


async def _seed_files(nas_url: str) -> None:
    """Upload a few demo files through the NAS's own API, so they carry SHA-256 checksums."""
    admin, alice, bob = DEMO_USERS
    photos = {f"Shared/Photos/holiday-{i + 1}.jpg": _photo(c) for i, c in enumerate(PHOTO_COLOURS)}
    uploads = {
        admin: {"Shared/Welcome.txt": b"Welcome to the BaluPi demo!\n", **photos},
        alice: {"alice/notes.md": b"# Alice's notes\n\n- buy milk\n"},
        bob: {"bob/budget.csv": b"month,amount\n2026-10,120\n2026-11,95\n"},
    }
    async with httpx.AsyncClient(base_url=nas_url, timeout=30) as client:
        for who, files in uploads.items():
            login = await client.post(
                "/api/auth/login", json={"username": who.username, "password": who.password}
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            for path, content in files.items():
                # A full file path in ``path``: BaluHost's dot heuristic, as BaluApp sends it.
                response = await client.post(
                    "/api/files/upload",
                    headers=headers,
                    data={"path": path},
                    files={"file": (path.rsplit("/", 1)[-1], content)},
                )
                response.raise_for_status()


def _photo(colour: str) -> bytes:
    image = Image.new("RGB", (640, 480), colour)
    ImageDraw.Draw(image).ellipse((220, 140, 420, 340), fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def _wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def balupi_command() -> str:
    """How to run ``balupi`` from here: ``./scripts/demo`` installs it into ``.venv`` only, so a
    bare ``balupi`` is not on the PATH (``.venv/bin/balupi``, relative when below the cwd)."""
    script = Path(sys.executable).parent / "balupi"
    if not script.is_file():
        return f"{sys.executable} -m balupi"
    try:
        return str(script.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(script.absolute())


def _print_banner(url: str, nas: NasEmulator, root: Path, plugs: list[DemoPlug]) -> None:
    logins = "\n".join(f"    {u.username:<6} {u.password:<15} ({u.role})" for u in DEMO_USERS)
    meters = "\n".join(
        f"    {p.name:<13} {p.emulator.url:<24} ({p.role}, {p.emulator.power_w:.1f} W now)"
        for p in plugs
    )
    print(
        f"""
BaluPi demo is running.

  BaluPi       {url}            (point BaluApp / BaluDesk / curl here)
  health       {url}/api/health
  dashboard    {url}/            (in a browser; log in with one of the logins below)
  NAS emulator {nas.api_url}    (control: {nas.control_url}, Wake-on-LAN UDP port {nas.wol_port})
  NAS sleep    soft sleep after {NAS_SLEEP.idle_timeout_minutes} idle minute (at most \
{NAS_SLEEP.idle_http_threshold:g} requests a minute), as BaluHost's sleep service does
  data         {root}
  config       {root / CONFIG_FILENAME}
               (BALUPI_CONFIG=<that file> {balupi_command()} doctor --nas-user admin)

  logins (the same on the NAS and the Pi):
{logins}

  Tapo plugs (emulated; account {TAPO_USERNAME} / {TAPO_PASSWORD}), polled every 30 s:
{meters}
  live power   {url}/api/energy/current    (with a login's bearer token)

  try:  curl {url}/api/health
        curl -X POST {nas.control_url}/sleep     # put the NAS to sleep

Press Ctrl-C to stop.
""",
        flush=True,
    )
