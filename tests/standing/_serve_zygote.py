"""A zygote for ``balupi serve``: imports BaluPi once, then forks a fresh server per start.

The SIGKILL loop starts BaluPi forty times; on a busy two-core machine the interpreter and its
imports take seconds of every start. This process does them once and then, for each port it
reads on stdin, forks a child that runs the very same ``balupi serve`` (``balupi.cli.main``)
on that port, its output appended to the log named on the command line, and answers the child's
pid on stdout. The children are separate processes: SIGKILL ends one as it would end the
service, and nothing but the child ever opens the data directory. The kernel reaps them.
"""

from __future__ import annotations

import os
import signal
import sys

import balupi.app
import balupi.server
from balupi import cli

PRELOADED = (balupi.app, balupi.server)  # imported ahead, on purpose


def _serve(port: str, log: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sink = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.environ["BALUPI_PORT"] = port
    os._exit(cli.main(["serve"]))


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            _serve(line.strip(), sys.argv[1])
        print(pid, flush=True)


if __name__ == "__main__":
    main()
