"""``TapoService``: the plugs as the rest of BaluPi sees them.

It puts together the parts of this package: ``PlugStore`` (the database), ``PlugConnector`` (the
python-kasa boundary), ``PlugPoller`` with one ``PlugCoordinator`` per plug, ``LiveReadings`` and
``AlertTracker``. Routes call it; it never sees HTTP.

What happens after every poll round (``_absorb``), in this order:

1. each answering plug's reading replaces its live reading (``LiveReadings``);
2. the reading of the plug with role ``nas`` goes to ``NasLink.report_power`` — the NAS link's
   power evidence, classified by that plug's thresholds, which the service keeps on the link;
3. alerts are found and updated for every plug (``alerts.py``);
4. the round is written in one transaction: samples, changed statuses, new connection parameters,
   alert changes. If that write fails (a locked or full disk) its samples and alert changes are
   kept and written with the next round, up to ``MAX_PENDING_SAMPLES``.

Adding, re-adding, discovering and switching a plug end the same way (``_absorb`` with that one
result), so live power shows at once and a switched-off NAS plug reaches the NAS link at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from balupi.clock import Clock
from balupi.db.models import NasState
from balupi.db.models.energy import DeviceRole
from balupi.errors import PlugNotFound, PlugRefused
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger
from balupi.services.nas.link import NasLink
from balupi.services.nas.power import PowerThresholds
from balupi.services.tapo.alerts import (
    AlertChange,
    AlertRules,
    AlertTracker,
    Findings,
    nas_findings,
    not_nas_findings,
    offline_findings,
    reading_findings,
)
from balupi.services.tapo.client import (
    PlugAddress,
    PlugConnection,
    PlugConnector,
    PlugReading,
    tapo_transports,
    within,
)
from balupi.services.tapo.devices import (
    AlertRecord,
    PlugChanges,
    PlugRecord,
    PlugStatus,
    PlugStore,
)
from balupi.services.tapo.live import LivePlug, LiveReadings, PlugState
from balupi.services.tapo.poller import PlugCoordinator, PlugPoller, PollResult, PollTiming

log = get_logger(__name__)

MAX_PENDING_SAMPLES = 10_000  # about 40 h of one plug, or 4 h of ten, if writes keep failing
ALERT_HISTORY = timedelta(days=365)
# The NAS may be cut while it is in one of these states; anything else counts as awake.
NAS_MAY_BE_CUT = frozenset({NasState.SLEEPING, NasState.OFFLINE})


@dataclass(frozen=True)
class PlugView:
    """A plug as stored, with its live state."""

    record: PlugRecord
    live: LivePlug


@dataclass(frozen=True)
class DiscoveryEntry:
    host: str
    mac: str | None
    device: PlugView | None = None
    created: bool = False
    error: str | None = None


@dataclass(frozen=True)
class CurrentPower:
    plugs: list[LivePlug]
    total_power_mw: int
    at: datetime


@dataclass
class _Pending:
    """What a failed write left for the next one."""

    samples: list[tuple[int, PlugReading]]
    alerts: list[AlertChange]


class TapoService(Lifecycle):
    """Plugs: add, change, remove, switch, discover; polled in the background while opened."""

    def __init__(
        self,
        store: PlugStore,
        connector: PlugConnector,
        nas_link: NasLink,
        clock: Clock,
        *,
        timing: PollTiming,
        rules: AlertRules,
        discovery_target: str = "255.255.255.255",
        poll: bool = True,
    ) -> None:
        self._store = store
        self._connector = connector
        self._nas_link = nas_link
        self._clock = clock
        self._timing = timing
        self._discovery_target = discovery_target
        self._poll = poll
        self.live = LiveReadings()
        self._alerts = AlertTracker(rules)
        self._poller = PlugPoller(timing, self._absorb, clock)
        # One round's findings and write at a time (a toggle's too), and no deletion between a
        # round's check for its plugs and its write: no sample or alert for a deleted plug.
        self._round_lock = asyncio.Lock()
        self._pending = _Pending([], [])

    # -- lifecycle ------------------------------------------------------------------------------
    async def _open(self) -> None:
        self._alerts = AlertTracker(self._alerts.rules, await self._store.active_alerts())
        for record in await self._store.all():
            self._register(PlugCoordinator(record, self._connector, self._clock, self._timing))
        self._sync_nas_thresholds()
        if self._poll:
            await self._poller.start()  # the first round runs at once: live power right after start

    async def _close(self) -> None:
        await self._poller.aclose()  # no round runs any more ...
        await self._poller.close_connections()  # ... so every plug's connection can close

    def _check_open(self) -> None:
        if not self.is_open:
            raise RuntimeError(f"the Tapo service is {self.lifecycle_state.value}")

    # -- reading --------------------------------------------------------------------------------
    async def devices(self) -> list[PlugView]:
        return [self._view(record) for record in await self._store.all()]

    async def device(self, device_id: int) -> PlugView:
        return self._view(await self._store.get(device_id))

    def current(self) -> CurrentPower:
        """Live power per plug and in total, from memory (never blank between writes)."""
        return CurrentPower(self.live.plugs(), self.live.total_power_mw(), self._clock.now())

    async def alerts(self, *, active_only: bool = True, limit: int = 100) -> list[AlertRecord]:
        return await self._store.alerts(active_only=active_only, limit=limit)

    # -- changing -------------------------------------------------------------------------------
    async def add(self, address: PlugAddress) -> tuple[PlugView, bool]:
        """Connect to the plug at ``address`` and store it, matched by MAC; True if new.

        The connection parameters are negotiated afresh (a re-add is also how a plug whose
        firmware changed transport is repaired).
        """
        self._check_open()
        # Each known transport may be tried once, each with its own login.
        timeout_s = self._timing.timeout_s * len(tapo_transports())
        connection = await within(timeout_s, address, self._connector.connect(address))
        return await self._adopt(connection)

    async def discover(
        self, target: str | None = None, wait_s: float = 5.0
    ) -> list[DiscoveryEntry]:
        """Find plugs by python-kasa's UDP discovery; add (or update) each one that logs in."""
        self._check_open()
        entries: list[DiscoveryEntry] = []
        for found in await self._connector.discover(
            target or self._discovery_target, wait_s=wait_s
        ):
            if found.connection is None:
                entries.append(DiscoveryEntry(found.host, found.mac, error=str(found.error)))
                continue
            view, created = await self._adopt(found.connection)
            entries.append(DiscoveryEntry(found.host, view.record.mac, view, created))
        return entries

    async def change(self, device_id: int, changes: PlugChanges) -> PlugView:
        self._check_open()
        record = await self._store.change(device_id, changes)
        coordinator = self._poller.get(device_id)
        if coordinator is None:
            return self._view(record)
        coordinator.record = record
        self.live.put(coordinator.snapshot())
        self._sync_nas_thresholds()
        if record.role is DeviceRole.NAS and coordinator.last_update_success and coordinator.data:
            # The NAS link hears the new NAS plug's (or new thresholds') latest reading now,
            # not one interval later.
            await self._absorb([PollResult(device_id, coordinator.data)])
        return self._coordinator_view(coordinator)

    async def remove(self, device_id: int) -> None:
        """Forget the plug: its row (with samples and alerts) and its connection."""
        self._check_open()
        async with self._round_lock:
            await self._store.delete(device_id)
            coordinator = self._poller.pop(device_id)
            self.live.drop(device_id)
            self._alerts.forget(device_id)
        if coordinator is not None:
            await coordinator.close()
        self._sync_nas_thresholds()

    async def switch(
        self, device_id: int, *, on: bool | None = None, force: bool = False
    ) -> PlugView:
        """Switch the plug ``on``/off, or over when ``on`` is None.

        The NAS plug is not switched off while the NAS is awake (a hard power-off of a running
        RAID box) unless ``force``: ``PlugRefused``.
        """
        self._check_open()
        coordinator = self._poller.get(device_id)
        if coordinator is None:
            raise PlugNotFound(device_id)

        def choose(is_on: bool) -> bool:
            target = (not is_on) if on is None else on
            if is_on and not target and not force:
                self._refuse_cutting_an_awake_nas(coordinator.record)
            return target

        result = await coordinator.switch(choose)
        await self._absorb([result])
        return self._coordinator_view(coordinator)

    def _refuse_cutting_an_awake_nas(self, record: PlugRecord) -> None:
        if record.role is not DeviceRole.NAS:
            return
        state = self._nas_link.state
        if state not in NAS_MAY_BE_CUT:
            raise PlugRefused(
                f"the NAS is {state.value}: switching its plug off would cut its power while it "
                "runs; shut it down or let it sleep first, or pass force=true to cut it anyway"
            )

    async def poll_round(self) -> list[PollResult]:
        """One round now (the background loop calls the same)."""
        self._check_open()
        return await self._poller.poll_round()

    async def prune_alerts(self) -> int:
        """Drop alerts cleared more than a year ago (a nightly job of the app's scheduler)."""
        return await self._store.prune_alerts(cleared_before=self._clock.now() - ALERT_HISTORY)

    # -- internals ------------------------------------------------------------------------------
    def _register(self, coordinator: PlugCoordinator) -> None:
        self._poller.add(coordinator)
        self.live.put(coordinator.snapshot())

    def _view(self, record: PlugRecord) -> PlugView:
        coordinator = self._poller.get(record.id)
        if coordinator is not None:
            return self._coordinator_view(coordinator)
        # Stored but not polled yet (the instant of an add): as stored, not asked yet.
        live = LivePlug(
            record.id, record.name, record.role, record.status.is_online, PlugState.PENDING, None
        )
        return PlugView(record, live)

    @staticmethod
    def _coordinator_view(coordinator: PlugCoordinator) -> PlugView:
        record = replace(coordinator.record, status=coordinator.status())
        return PlugView(record, coordinator.snapshot())

    async def _adopt(self, connection: PlugConnection) -> tuple[PlugView, bool]:
        """Store the plug behind ``connection`` (upsert by MAC) and poll through it from now on."""
        try:
            record, created = await self._store.upsert(
                connection.identity,
                connection.address,
                connection.connection_params,
                seen_at=self._clock.now(),
            )
        except BaseException:
            await connection.close()
            raise
        coordinator = self._poller.get(record.id)
        if coordinator is None:
            coordinator = PlugCoordinator(record, self._connector, self._clock, self._timing)
            self._poller.add(coordinator)
        result = await coordinator.adopt(record, connection)
        log.info(
            "plug added" if created else "plug re-added",
            plug=record.name,
            mac=record.mac,
            address=str(record.address),
        )
        await self._absorb([result])
        self._sync_nas_thresholds()
        return self._coordinator_view(coordinator), created

    def _nas_coordinator(self) -> PlugCoordinator | None:
        return next((c for c in self._poller if c.record.role is DeviceRole.NAS), None)

    def _sync_nas_thresholds(self) -> None:
        """Keep the NAS link classifying power by the NAS plug's own thresholds."""
        nas = self._nas_coordinator()
        thresholds = nas.record.thresholds if nas is not None else None
        self._nas_link.thresholds = thresholds or PowerThresholds()

    async def _absorb(self, results: list[PollResult]) -> None:
        """Everything that follows a round (see the module docstring)."""
        async with self._round_lock:
            now = self._clock.now()
            fresh = {result.device_id: result for result in results}
            changes: list[AlertChange] = []
            for coordinator in self._poller:
                self.live.put(coordinator.snapshot())
                result = fresh.get(coordinator.device_id)
                findings = await self._findings(coordinator, result, now)
                changes.extend(self._alerts.update(coordinator.device_id, findings, now))
            await self._write(results, changes)

    async def _findings(
        self, coordinator: PlugCoordinator, result: PollResult | None, now: datetime
    ) -> Findings:
        record = coordinator.record
        rules = self._alerts.rules
        unseen_since = coordinator.last_seen_at or record.created_at
        findings = offline_findings(
            rules, online=coordinator.online, unseen_since=unseen_since, now=now
        )
        reading = result.reading if result is not None else None
        if reading is None:
            return findings  # no news about power this round: those alerts stay as they are
        findings |= reading_findings(rules, reading, power_limit_mw=record.power_limit_mw)
        if record.role is not DeviceRole.NAS:
            return findings | not_nas_findings()
        if reading.power_w is None:
            return findings
        link = self._nas_link
        before = link.state
        try:
            await link.report_power(reading.power_w)
        except Exception:  # the link's trouble (its history write) must not cost the samples
            log.exception("the NAS link did not take the NAS plug's reading")
        power_class = link.thresholds.classify(reading.power_w)
        return findings | nas_findings(
            reading.power_w, power_class, before=before, after=link.state
        )

    async def _write(self, results: list[PollResult], changes: list[AlertChange]) -> None:
        """Store the round with whatever an earlier failed write left (under the round lock)."""
        pending = self._pending
        pending.samples.extend(
            (result.device_id, result.reading)
            for result in results
            if result.reading is not None and result.reading.power_mw is not None
        )
        pending.alerts.extend(changes)
        registered = {coordinator.device_id: coordinator for coordinator in self._poller}
        samples = [(i, reading) for i, reading in pending.samples if i in registered]
        alerts = [change for change in pending.alerts if change.device_id in registered]
        statuses: dict[int, PlugStatus] = {
            device_id: status
            for device_id, coordinator in registered.items()
            if (status := coordinator.status()) != coordinator.persisted
        }
        params: dict[int, dict[str, Any]] = {
            result.device_id: result.connection_params
            for result in results
            if result.connection_params is not None and result.device_id in registered
        }
        try:
            await self._store.write_round(
                samples=samples, statuses=statuses, connection_params=params, alerts=alerts
            )
        except (SQLAlchemyError, OSError):
            log.exception("energy round not stored; kept for the next round")
            self._pending = _Pending(samples[-MAX_PENDING_SAMPLES:], alerts)
            return
        self._pending = _Pending([], [])
        for device_id, status in statuses.items():
            registered[device_id].persisted = status
