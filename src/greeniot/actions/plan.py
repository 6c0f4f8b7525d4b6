"""What actions decide: valve opens, crew tasks and alerts, as frozen records with reasons.

The rules (:mod:`greeniot.actions.rules`) and the irrigation path
(:mod:`greeniot.actions.irrigation`) produce them; the executor carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from greeniot.analytics.contract import Severity

TaskKind = Literal["remove", "stabilize", "inspect", "drain", "device_check", "repair"]


@dataclass(frozen=True, slots=True)
class ValveOpen:
    """Open ``device`` (the valve of ``zone``) for ``run_s`` seconds."""

    site: str
    device: str
    zone: str
    run_s: int
    reason: str
    ts_ms: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    """A crew task to open once per ``dedup_key`` (``"{kind}:{site}:{subject}"``)."""

    site: str
    kind: TaskKind
    priority: int
    subject: str
    title: str
    severity: Severity
    ts_ms: int
    reasons: tuple[str, ...]
    tree: str | None = None
    zone: str | None = None
    device: str | None = None
    heritage: bool = False

    @property
    def dedup_key(self) -> str:
        return f"{self.kind}:{self.site}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert to record (once per ``dedup_key``) and publish; ``task_key`` links a task."""

    site: str
    kind: str
    severity: Severity
    message: str
    dedup_key: str
    ts_ms: int
    reasons: tuple[str, ...] = ()
    device: str | None = None
    tree: str | None = None
    zone: str | None = None
    value: float | None = None
    task_key: str | None = None


Action = ValveOpen | Task | Alert
