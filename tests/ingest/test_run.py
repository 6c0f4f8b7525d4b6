"""``greeniot ingest`` as the CLI runs it (ingest/run.py): a lean process that tags readings
of bound devices with their tree or zone from the registry, which it reads but does not
migrate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time

from sqlalchemy import inspect

from greeniot.config import Settings
from greeniot.ingest.run import DEVICES, read_bindings, run_ingest
from greeniot.protocol import TiltReading, encode
from greeniot.registry import crud
from greeniot.registry.db import make_engine, open_registry
from greeniot.registry.models import Device
from greeniot.registry.schemas import DeviceCreate, SiteCreate, TreeCreate, ZoneCreate
from tests.helpers import Publisher, apoll
from tests.ingest.test_service import influx_rows
from tests.ingest.test_service import run_ingest as session_ready

#: What the ingest process must not load: the ORM and its models, alembic and its templates,
#: the analytics stack, the API. Each costs megabytes of resident memory (the benchmark's
#: peak RSS target of 100 MB, docs/architecture.md "The ingest hot path").
HEAVY = ("sqlalchemy.orm", "alembic", "mako", "greeniot.registry.models", "numpy", "scipy",
         "pandas", "greeniot.analytics", "greeniot.runtime", "greeniot.actions", "fastapi",
         "greeniot.api")


def test_the_ingest_process_imports_none_of_the_heavy_modules() -> None:
    code = ("import sys, json, greeniot.cli, greeniot.ingest.run\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    loaded = set(json.loads(out.stdout))
    assert "greeniot.ingest.service" in loaded and "sqlalchemy" in loaded  # it did import
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_the_devices_table_ingest_reads_is_the_registry_model() -> None:
    model = Device.__table__
    assert DEVICES.name == model.name
    assert set(DEVICES.c.keys()) <= set(model.c.keys())


def test_an_unmigrated_registry_binds_nothing_and_stays_unmigrated(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings)
    try:
        assert read_bindings(engine) == {}
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []  # ingest migrates nothing
    finally:
        engine.dispose()


def test_readings_of_bound_devices_carry_their_tree_and_zone(settings: Settings,
                                                              site_id: str) -> None:
    engine, sessions = open_registry(settings)  # as the api or analytics process does
    with sessions() as s:
        crud.create_site(s, data=SiteCreate(id=site_id), now_ms=0)
        crud.create_tree(s, data=TreeCreate(site=site_id, id="t1"), now_ms=0)
        crud.create_zone(s, data=ZoneCreate(site=site_id, id="z1", name="lawn"))
        crud.create_device(s, data=DeviceCreate(site=site_id, id="tilt-1", kind="tilt",
                                                tree_id="t1"), now_ms=0)
        crud.create_device(s, data=DeviceCreate(site=site_id, id="valve-1", kind="valve",
                                                zone_id="z1"), now_ms=0)
        crud.create_device(s, data=DeviceCreate(site=site_id, id="tilt-2", kind="tilt"),
                           now_ms=0)
        s.commit()
    engine.dispose()
    engine = make_engine(settings)
    try:
        assert read_bindings(engine) == {(site_id, "tilt-1"): {"tree": "t1"},
                                         (site_id, "valve-1"): {"zone": "z1"}}
    finally:
        engine.dispose()

    asyncio.run(session_ready(settings, lambda: True))  # ingest's persistent session first
    now = int(time.time() * 1000)
    pub = Publisher(settings.mqtt.port)
    for dev in ("tilt-1", "tilt-2"):
        pub.publish(f"greeniot/v1/{site_id}/{dev}/tilt",
                    encode(TiltReading(seq=1, ts_ms=now, pitch_deg=1.5, roll_deg=-0.5)))

    async def go() -> list[dict[str, object]]:
        task = asyncio.create_task(run_ingest(settings))
        try:
            def two() -> list[dict[str, object]]:
                rows = influx_rows(settings, "SELECT pitch_deg, tree, device FROM tilt")
                return rows if len(rows) == 2 else []

            return await apoll(two, thread=True, timeout_s=60, what="two tilt rows")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        rows = asyncio.run(go())
    finally:
        pub.close()
    assert sorted((r["device"], r["tree"], r["pitch_deg"]) for r in rows) == [
        ("tilt-1", "t1", 1.5), ("tilt-2", None, 1.5)]
