"""Provisioned credentials and ACLs on the real Mosquitto: everything a device must not do is
refused, and the legitimate device still works (plain and TLS)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from greeniot.provision.acl import DeviceId
from greeniot.provision.bundle import Bundle, listener_block, provision
from greeniot.provision.passwd import hash_password, verify_password
from greeniot.services import MosquittoProcess
from greeniot.services.process import free_port
from tests.helpers import Observer, poll

pytestmark = pytest.mark.services

A1 = DeviceId("estate-a", "valve-1", "valve")
A2 = DeviceId("estate-a", "soil-2", "soil")
B1 = DeviceId("estate-b", "valve-1", "valve")  # same device id, other site


def test_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "u", "s3cret"], check=True)
    theirs = pw.read_text().strip().split(":", 1)[1]
    assert theirs.startswith("$7$101$")
    assert verify_password("s3cret", theirs) and not verify_password("other", theirs)
    _, _, _, salt, _ = theirs.split("$")
    import base64

    assert hash_password("s3cret", salt=base64.b64decode(salt)) == theirs


class Broker:
    def __init__(self, root: Path, bundle: Bundle, device_port: int, tls_port: int | None):
        self.proc = MosquittoProcess(root / "broker")
        self.backend_port = self.proc.port
        self.device_port = device_port
        self.tls_port = tls_port
        conf = [
            "per_listener_settings true",
            f"listener {self.backend_port} 127.0.0.1",
            "allow_anonymous true",
            listener_block(device_port, bundle.out, tls=None, bind="127.0.0.1"),
        ]
        if tls_port is not None:
            conf.append(listener_block(tls_port, bundle.out, tls=bundle.tls, bind="127.0.0.1"))
        conf += ["persistence false", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            conf.append("user root")
        self.proc.conf_path.write_text("\n".join(conf) + "\n")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, Bundle]]:
    root = tmp_path_factory.mktemp("acl")
    device_port, tls_port = free_port(), free_port()
    bundle = provision(root / "provision", [A1, A2, B1], mqtt_host="127.0.0.1",
                       mqtt_port=device_port, tls=True, tls_hosts=["127.0.0.1", "localhost"])
    broker = Broker(root, bundle, device_port, tls_port)
    broker.proc.start()
    yield broker, bundle
    broker.proc.stop()


def connect(port: int, username: str | None, password: str | None, client_id: str = "",
            *, tls_ca: Path | None = None) -> tuple[paho.Client, str]:
    """(client, connack reason as text)."""
    done = threading.Event()
    result: list[str] = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    clean_session=not client_id, protocol=paho.MQTTv311)
    if username is not None:
        c.username_pw_set(username, password)
    if tls_ca is not None:
        c.tls_set(ca_certs=str(tls_ca), cert_reqs=ssl.CERT_REQUIRED)

    def on_connect(_c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        result.append(str(rc))
        done.set()

    def on_disconnect(_c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        if not done.is_set():
            result.append(f"disconnected: {rc}")
            done.set()

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.reconnect_delay_set(30, 60)
    try:
        c.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError) as err:
        return c, f"socket: {err}"
    c.loop_start()
    done.wait(10)
    return c, result[0] if result else "no answer"


def close(c: paho.Client) -> None:
    c.disconnect()
    c.loop_stop()


def test_anonymous_and_wrong_password_are_refused(rig: tuple[Broker, Bundle]) -> None:
    broker, bundle = rig
    for user, pw in ((None, None), (A1.username, "wrong"), ("nobody", "x"),
                     (A1.username, bundle.credentials[A2.username])):
        c, rc = connect(broker.device_port, user, pw)
        close(c)
        assert rc != "Success", (user, rc)
    c, rc = connect(broker.device_port, A1.username, bundle.credentials[A1.username])
    close(c)
    assert rc == "Success"


def test_a_device_speaks_only_for_itself(rig: tuple[Broker, Bundle]) -> None:
    broker, bundle = rig
    obs = Observer(broker.backend_port, ["greeniot/v1/#"])
    dev, rc = connect(broker.device_port, A1.username, bundle.credentials[A1.username])
    assert rc == "Success"
    forbidden = [
        "greeniot/v1/estate-b/valve-1/valve",  # cross-site, same device id
        "greeniot/v1/estate-a/soil-2/soil",  # cross-device
        "greeniot/v1/estate-a/valve-1/cmd",  # down channels and backend outputs
        "greeniot/v1/estate-a/valve-1/config",
        "greeniot/v1/estate-a/valve-1/stored",
        "greeniot/v1/estate-a/alerts",
        "greeniot/v1/_dead/invalid",
        "greeniot/v1/estate-a/valve-1/soil",  # a channel of another kind
    ]
    for t in forbidden:
        dev.publish(t, b"forged", qos=1).wait_for_publish(5)
    dev.publish("greeniot/v1/estate-a/valve-1/valve", b"mine", qos=1).wait_for_publish(5)
    poll(lambda: obs.on("/valve-1/valve"), what="the legitimate publish")
    time.sleep(0.2)  # same connection, in order: anything forbidden would have come first
    got = sorted(m.topic for m in obs.messages)
    close(dev)
    obs.close()
    assert got == ["greeniot/v1/estate-a/valve-1/valve"]


def test_client_id_takeover_is_refused_and_commands_still_arrive(
        rig: tuple[Broker, Bundle]) -> None:
    broker, bundle = rig
    got: list[bytes] = []
    victim, rc = connect(broker.device_port, A1.username, bundle.credentials[A1.username],
                         client_id=A1.username)
    assert rc == "Success"
    subscribed = threading.Event()
    victim.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    victim.on_subscribe = lambda *a: subscribed.set()
    victim.subscribe("greeniot/v1/estate-a/valve-1/cmd", qos=1)
    assert subscribed.wait(5)
    lost: list[object] = []
    victim.on_disconnect = lambda *a: lost.append(a)
    # Another device logs in with the victim's client id (and tries to read its commands).
    intruder, rc = connect(broker.device_port, A2.username, bundle.credentials[A2.username],
                           client_id=A1.username)
    assert rc == "Success"
    stolen: list[bytes] = []
    intruder.on_message = lambda _c, _u, m: stolen.append(bytes(m.payload))
    intruder.subscribe("greeniot/v1/estate-a/valve-1/cmd", qos=1)
    time.sleep(0.3)
    backend = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    backend.connect("127.0.0.1", broker.backend_port)
    backend.loop_start()
    backend.publish("greeniot/v1/estate-a/valve-1/cmd", b"open", qos=1).wait_for_publish(5)
    poll(lambda: got, what="the command at the legitimate device")
    time.sleep(0.2)
    kicked = list(lost)
    for c in (victim, intruder, backend):
        close(c)
    assert got == [b"open"] and stolen == [] and kicked == []


def test_tls_listener_serves_the_ca_it_was_made_with(rig: tuple[Broker, Bundle]) -> None:
    broker, bundle = rig
    assert broker.tls_port is not None and bundle.tls is not None
    c, rc = connect(broker.tls_port, A1.username, bundle.credentials[A1.username],
                    tls_ca=bundle.tls.ca_cert)
    close(c)
    assert rc == "Success"
    c, rc = connect(broker.tls_port, A1.username, bundle.credentials[A1.username])
    close(c)
    assert rc != "Success"  # plain MQTT to the TLS port gets nowhere


def test_cli_provisions_every_registry_device(tmp_path: Path) -> None:
    from greeniot.config import Settings
    from greeniot.registry.context import seed
    from greeniot.registry.db import make_engine, migrate, session_factory

    s = Settings(data_dir=tmp_path / "data")
    s.data_dir.mkdir(parents=True)
    engine = make_engine(s)
    migrate(engine)
    with session_factory(engine)() as session:
        seed(session, devices=[{"site": "estate-a", "id": "soil-1", "kind": "soil"},
                               {"site": "estate-b", "id": "soil-1", "kind": "soil"}])
    engine.dispose()
    out = tmp_path / "prov"
    run = subprocess.run([sys.executable, "-m", "greeniot", "devices", "provision", "--out",
                          str(out), "--data-dir", str(s.data_dir), "--mqtt-port", "8883"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users == ["estate-a.soil-1", "estate-b.soil-1"]
    assert "topic write greeniot/v1/estate-b/soil-1/soil" in (out / "acl").read_text()
    assert (out / "devices" / "estate-a" / "soil-1.json").exists()
    assert (out / "tls" / "ca.crt").exists()
    assert oct((out / "passwd").stat().st_mode & 0o777) == "0o600"


def test_shipped_deploy_config_runs_on_real_mosquitto(tmp_path: Path) -> None:
    """deploy/mosquitto/mosquitto.conf + acl with a provisioned device bundle, paths and ports
    moved into a temp folder: the backend users and a device each get only their part."""
    from greeniot.provision.passwd import password_line

    deploy = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
    cfg = tmp_path / "config"
    (tmp_path / "data").mkdir()
    bundle = provision(cfg / "devices", [A1], mqtt_host="127.0.0.1", mqtt_port=8883, tls=True,
                       tls_hosts=["127.0.0.1"])
    (cfg / "acl").write_text((deploy / "acl").read_text())
    (cfg / "passwd").write_text(password_line("greeniot-ingest", "ing") + "\n")
    backend, devices = free_port(), free_port()
    conf = ((deploy / "mosquitto.conf").read_text()
            .replace("/mosquitto/config/", f"{cfg}/").replace("/mosquitto/data/",
                                                               f"{tmp_path / 'data'}/")
            .replace("listener 1883", f"listener {backend} 127.0.0.1")
            .replace("listener 8883", f"listener {devices} 127.0.0.1"))
    if os.geteuid() == 0:
        conf += "user root\n"
    broker = MosquittoProcess(tmp_path / "broker")
    broker.conf_path.write_text(conf)
    broker.port = backend
    broker.start()
    try:
        c, rc = connect(backend, "greeniot-ingest", "ing")
        close(c)
        assert rc == "Success"
        c, rc = connect(backend, A1.username, bundle.credentials[A1.username])
        close(c)
        assert rc != "Success"  # devices have no user on the backend listener
        c, rc = connect(devices, A1.username, bundle.credentials[A1.username],
                        tls_ca=bundle.tls.ca_cert if bundle.tls else None)
        close(c)
        assert rc == "Success"
        c, rc = connect(devices, "greeniot-ingest", "ing", tls_ca=bundle.tls.ca_cert
                        if bundle.tls else None)
        close(c)
        assert rc != "Success"  # and backend users none on the device listener
    finally:
        broker.stop()


@pytest.mark.firmware
def test_firmware_node_logs_in_over_tls_with_its_provisioned_config(
        rig: tuple[Broker, Bundle], tmp_path: Path) -> None:
    import json

    from greeniot.services.firmware import FirmwareNode

    broker, bundle = rig
    assert broker.tls_port is not None and bundle.tls is not None
    cfg = json.loads(bundle.device_configs[A2.username].read_text())
    assert cfg["mqtt_user"] == A2.username and cfg["mqtt_tls"] is True
    cfg.pop("site"), cfg.pop("device"), cfg.pop("kind")
    cfg.update(mqtt_port=broker.tls_port, mqtt_ca=str(bundle.tls.ca_cert))
    obs = Observer(broker.backend_port, [f"greeniot/v1/{A2.site}/{A2.device}/#"])
    node = FirmwareNode(tmp_path / "node", site=A2.site, device=A2.device, kind="soil",
                        sleep=False, interval_s=0.3, stored_confirm=False, probe_settle_ms=0,
                        connect_timeout_s=5.0, **cfg)
    try:
        node.start()
        got = poll(lambda: obs.on("/soil"), timeout_s=30, what="a reading over TLS")
    finally:
        node.stop(timeout_s=3)
        obs.close()
    assert json.loads(got[0].payload)["v"] == 1
