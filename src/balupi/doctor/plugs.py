"""Every plug: does it answer and accept the Tapo account."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import SQLAlchemyError

from balupi.db.engine import create_engine, create_sessionmaker
from balupi.doctor.base import DoctorBase
from balupi.doctor.findings import Finding, Status
from balupi.doctor.helpers import (
    database_file,
    first_line,
)
from balupi.errors import PlugAuthFailed, PlugError
from balupi.services.tapo.client import PlugConnector, within
from balupi.services.tapo.devices import PlugRecord, PlugStore


class PlugChecks(DoctorBase):
    """One ``plug NAME`` line a plug."""

    # -- plugs --------------------------------------------------------------------------------
    async def check_plugs(self) -> list[Finding]:
        database = database_file(self.settings)
        if database is not None and not database.exists():
            return [Finding("plugs", Status.SKIP, "no database yet, so no plugs")]
        engine = create_engine(self.settings.resolved_database_url)
        try:
            plugs = await PlugStore(create_sessionmaker(engine)).all()
        except SQLAlchemyError as exc:
            return [Finding("plugs", Status.SKIP, f"cannot list plugs: {first_line(exc)}")]
        finally:
            await engine.dispose()
        if not plugs:
            return [Finding("plugs", Status.SKIP, "no plugs added (POST /api/tapo/devices)")]
        return list(await asyncio.gather(*(self._check_plug(plug) for plug in plugs)))

    async def _check_plug(self, plug: PlugRecord) -> Finding:
        name = f"plug {plug.name}"
        settings = self.settings
        password = settings.tapo_password.get_secret_value() if settings.tapo_password else None
        connector = PlugConnector(
            settings.tapo_username, password, request_timeout_s=self.options.timeout
        )
        try:
            connection = await within(
                self.options.timeout * 2,
                plug.address,
                connector.connect(plug.address, plug.connection_params),
            )
        except PlugAuthFailed:
            return Finding(
                name,
                Status.FAIL,
                f"{plug.address} refused the Tapo account {settings.tapo_username!r}",
                "set BALUPI_TAPO_USERNAME / BALUPI_TAPO_PASSWORD to the TP-Link account "
                "the plug is bound to",
            )
        except PlugError as exc:
            return Finding(
                name,
                Status.FAIL,
                str(exc),
                "is the plug powered and on the LAN? If its address changed, add it again "
                "(POST /api/tapo/devices)",
            )
        try:
            identity = connection.identity
        finally:
            await connection.close()
        message = f"{identity.model} at {plug.address} logs in with the Tapo account"
        if identity.mac != plug.mac:
            return Finding(
                name,
                Status.WARN,
                f"{message}, but it is {identity.mac}, not {plug.mac}",
                "another plug took the address; add the right one again",
            )
        return Finding(name, Status.OK, message)
