"""What a check finds, how findings print, and the doctor's options."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


_SEVERITY = {Status.SKIP: 0, Status.OK: 1, Status.WARN: 2, Status.FAIL: 3}


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: what was found, and what to do if it is not ``ok``."""

    check: str
    status: Status
    message: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status.value:<5} {self.check:<10} {self.message}"
        return f"{text}\n{'':16}→ {self.fix}" if self.fix else text


@dataclass
class Parts:
    """Findings of one check that has several parts; the worst part decides its status."""

    check: str
    status: Status = Status.OK
    messages: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, status: Status, message: str, fix: str | None = None) -> None:
        if _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status
        self.messages.append(message)
        if fix:
            self.fixes.append(fix)

    def finding(self) -> Finding:
        return Finding(self.check, self.status, "; ".join(self.messages), "; ".join(self.fixes))


@dataclass(frozen=True)
class DoctorOptions:
    nas_user: str | None = None
    nas_password: str | None = None
    contact_nas: bool = True
    timeout: float = 5.0


def summary(findings: list[Finding]) -> str:
    counts = {status: sum(f.status is status for f in findings) for status in Status}
    return (
        f"{counts[Status.OK]} ok, {counts[Status.WARN]} warn, {counts[Status.FAIL]} FAIL, "
        f"{counts[Status.SKIP]} skipped"
    )
