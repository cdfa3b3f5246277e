"""A stand-in for ``systemctl`` in the update tests (``deploy/update.sh --systemctl``).

``start`` runs ``balupi serve`` the way the unit does it, through the installed admin command
(the configuration file, the ``current`` release), in the background, and notes which release it
started in ``STATE_DIR/starts``; ``stop`` sends SIGTERM and
waits, like systemd. A file ``refuse-next-start`` in the state directory makes the next start fail
the way a release that crashes at once fails under systemd. Usage::

    fake_systemctl.py STATE_DIR PREFIX {start|stop|restart|is-active|...} [--quiet] UNIT
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _running(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:  # a zombie is no service: reap it if it is ours to reap
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return None
    except ChildProcessError:
        pass
    state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    return None if state == "Z" else pid


def _start(state: Path, prefix: Path) -> int:
    pid_file = state / "pid"
    if _running(pid_file):
        return 0
    refuse = state / "refuse-next-start"
    if refuse.exists():
        refuse.unlink()
        return 1
    admin = prefix / "usr/local/sbin/balupi"
    with (state / "service.log").open("ab") as log:
        process = subprocess.Popen(
            [admin, "serve"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    with (state / "starts").open("a") as starts:
        starts.write(os.readlink(prefix / "opt/balupi/current") + "\n")
    return 0


def _stop(state: Path) -> int:
    pid = _running(state / "pid")
    if pid is None:
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _running(state / "pid") and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(state / "pid"):
        os.kill(pid, signal.SIGKILL)
    return 0


def main(argv: list[str]) -> int:
    state, prefix, command, *rest = argv
    state_dir = Path(state)
    with (state_dir / "calls").open("a") as calls:
        calls.write(" ".join([command, *rest]) + "\n")
    if command == "start":
        return _start(state_dir, Path(prefix))
    if command == "stop":
        return _stop(state_dir)
    if command == "restart":
        _stop(state_dir)
        return _start(state_dir, Path(prefix))
    if command == "is-active":
        return 0 if _running(state_dir / "pid") else 3
    return 0  # daemon-reload, enable, is-enabled: nothing to do without systemd


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
