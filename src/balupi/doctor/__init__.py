"""``balupi doctor``: one line per check of a BaluPi installation, with what to do about it.

BaluPi runs for years on a Pi nobody looks at; when something is off, the doctor says what and
where in one screen: the configuration, the data path and its disk, the database and its
backups, the NAS (reachable, its API version, whether the token secret matches, the handshake
secret), Wake-on-LAN, every plug, mDNS and the clock. Each line is ``ok``, ``warn``, ``FAIL`` or
``skip`` (with the reason the check cannot apply); the exit status is 1 if any check failed.

Running the doctor is an explicit admin action, so it contacts the NAS, but it does not wake a
sleeping one where it can tell that it sleeps: it asks the NAS's whitelisted sleep status (with
``NAS_JWT_SECRET``) or the running BaluPi first, and only then ``GET /api/health`` (and a login
with ``--nas-user``), which would wake a soft-sleeping NAS; when nobody could tell, the ``nas``
line says that the request may have woken it (``sleep.py``). ``--no-nas`` leaves the NAS alone.
It changes nothing: it reads the database, it writes one probe file into ``DATA_DIR`` and
removes it.

The checks are grouped by concern (``local``, ``nas``, ``handshake``, ``network``, ``plugs``),
mixins of one ``Doctor`` (``core``) that share what earlier checks learnt (``base``).
"""

from balupi.doctor.command import run_doctor
from balupi.doctor.core import Doctor
from balupi.doctor.findings import DoctorOptions, Finding, Status, summary

__all__ = ["Doctor", "DoctorOptions", "Finding", "Status", "run_doctor", "summary"]
