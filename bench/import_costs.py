"""What each library costs a process that already runs FastAPI + Uvicorn: RSS and import time.

    .venv/bin/python bench/import_costs.py [--python PATH] [--runs 3]

Each figure is from a fresh interpreter (``--python``, default this one; use
``build/runtime-venv/bin/python``, which bench/startup_memory.py makes, for a Pi's set): it
imports FastAPI and Uvicorn, reads its RSS and the clock, imports the library, and reads them
again. Medians of ``--runs``. (psutil, which does the reading, cannot be measured this way.)
The figures behind docs/performance.md's "Start-up and idle memory".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

LIBRARIES = {
    "python-kasa": ["kasa"],
    "SQLAlchemy async ORM": ["sqlalchemy.ext.asyncio", "sqlalchemy.orm"],
    "aiohttp (in python-kasa)": ["aiohttp"],
    "cryptography (in python-kasa)": [
        "cryptography.hazmat.primitives.ciphers",
        "cryptography.hazmat.primitives.asymmetric.rsa",
    ],
    "PyJWT (with cryptography, gone)": ["jwt"],
    "structlog": ["structlog"],
    "httpx": ["httpx"],
    "pydantic-settings": ["pydantic_settings"],
    "aiosqlite": ["aiosqlite"],
    "PyYAML": ["yaml"],
}

_CHILD = """
import importlib, json, sys, time
import psutil
import fastapi, uvicorn
process = psutil.Process()
rss, started = process.memory_info().rss, time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps([(process.memory_info().rss - rss) / 2**20, time.perf_counter() - started]))
"""


def _one(python: str, modules: list[str]) -> tuple[float, float] | None:
    done = subprocess.run(
        [python, "-c", _CHILD, *modules], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None  # not installed in that interpreter
    mb, seconds = json.loads(done.stdout)
    return float(mb), float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.python}: added to FastAPI + Uvicorn, medians of {args.runs}")
    for label, modules in LIBRARIES.items():
        runs = [_one(args.python, modules) for _ in range(args.runs)]
        measured = [run for run in runs if run is not None]
        if not measured:
            print(f"  {label:34s} not installed")
            continue
        mb = statistics.median(m for m, _ in measured)
        ms = statistics.median(s for _, s in measured) * 1000
        print(f"  {label:34s} {mb:5.1f} MB  {ms:5.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
