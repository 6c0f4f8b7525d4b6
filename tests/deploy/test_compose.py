"""deploy/docker-compose.yml and deploy/Dockerfile, checked without a Docker engine.

No engine runs here, so these tests check what would break a ``docker compose up`` that we can
see from the files: bind mounts of paths that are not in the repository, config files that the
services' own configurations expect but nothing mounts, ``GREENIOT_*`` variables that are no
Settings field (pydantic-settings ignores an unknown one silently), commands and options the
CLI does not have, and MQTT users the broker's ACL does not know.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from greeniot.cli import app
from greeniot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
GREENIOT_SERVICES = ("ingest", "analytics", "api")

_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` (a required variable
    missing from ``env`` gets a placeholder, as a filled-in ``.env`` would give)."""
    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            return f"test-{name.lower()}"
        return ""
    return _VAR.sub(sub, text)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), env or {}))


def mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, source, target) of every volume entry, short or long syntax."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append((v["type"], str(v.get("source", "")), v["target"]))
            continue
        source, target = v.split(":")[:2]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def covered_by(path: str, service: dict[str, Any]) -> tuple[str, str] | None:
    """The mount (kind, source) that provides ``path`` inside the container: the deepest
    target that is ``path`` or one of its parents."""
    p = PurePosixPath(path)
    best: tuple[int, tuple[str, str]] | None = None
    for kind, source, target in mounts(service):
        t = PurePosixPath(target)
        if (p == t or t in p.parents) and (best is None or len(t.parts) > best[0]):
            best = (len(t.parts), (kind, source))
    return best[1] if best else None


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def settings_field(var: str) -> bool:
    """Is ``GREENIOT_A__B`` a field path ``a.b`` of Settings?"""
    parts = var.removeprefix("GREENIOT_").lower().split("__")
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        ann = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                return False
            model = ann
    return True


# -- the file as a whole ------------------------------------------------------------------------
def test_services_and_images() -> None:
    services = compose()["services"]
    assert {"mosquitto", "influxdb", "grafana", *GREENIOT_SERVICES} <= services.keys()
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2.")
    assert services["influxdb"]["image"].startswith("influxdb:1.8.")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    for name in GREENIOT_SERVICES:
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == \
            DEPLOY / "Dockerfile"
        for dep in services[name].get("depends_on", []):
            assert dep in services, (name, dep)


def test_every_required_variable_is_documented() -> None:
    """A ``${VAR:?...}`` the operator must set appears in deploy/README.md."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    required = {m.group("name") for m in _VAR.finditer(COMPOSE.read_text(encoding="utf-8"))
                if m.group("op") in (":?", "?")}
    assert required
    for name in required:
        assert name in readme, name


def test_bind_mounts_exist_and_named_volumes_are_declared() -> None:
    doc = compose()
    declared = set(doc.get("volumes") or {})
    binds = 0
    for name, svc in doc["services"].items():
        for kind, source, target in mounts(svc):
            if kind == "bind":
                binds += 1
                assert (DEPLOY / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
            assert target.startswith("/"), (name, target)
    assert binds == 7  # mosquitto conf + acl, influxdb conf + init, grafana x2, prometheus


def test_mosquitto_finds_every_file_its_config_names() -> None:
    svc = compose()["services"]["mosquitto"]
    assert covered_by("/mosquitto/config/mosquitto.conf", svc) == \
        ("bind", "./mosquitto/mosquitto.conf")
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    files = re.findall(r"^(password_file|acl_file|persistence_location|cafile|certfile|keyfile)"
                       r"\s+(\S+)", conf, re.MULTILINE)
    assert {k for k, _ in files} == {"password_file", "acl_file", "persistence_location",
                                     "cafile", "certfile", "keyfile"}
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for key, path in files:
        found = covered_by(path, svc)
        assert found is not None, (key, path)
        if path.startswith("/mosquitto/config/devices/"):
            # made by `greeniot devices provision` into the volume both services mount
            assert found == ("volume", "mosquitto-devices"), (key, path)
            prov = compose()["services"]["provision"]
            assert covered_by("/provision", prov) == ("volume", "mosquitto-devices")
        elif key == "acl_file":
            assert found == ("bind", "./mosquitto/acl")
        elif key == "password_file":
            # backend users, made on the volume with mosquitto_passwd (README.md), never
            # committed: a named volume must hold it, and the README must say how.
            assert found[0] == "volume", path
            assert f"mosquitto_passwd -c -b {path}" in readme
        else:
            assert found[0] == "volume", (key, path)
    assert "greeniot devices provision" in readme or "devices provision" in readme
    for port in re.findall(r"^listener\s+(\d+)", conf, re.MULTILINE):
        assert any(str(p).endswith(f":{port}") for p in svc["ports"]), port
    # The device listener binds each device's session to its username.
    device_part = conf.split("listener 8883", 1)[1]
    assert re.search(r"^use_username_as_clientid true", device_part, re.MULTILINE)


def test_influxdb_config_and_storage_are_mounted() -> None:
    svc = compose()["services"]["influxdb"]
    assert covered_by("/etc/influxdb/influxdb.conf", svc) == ("bind", "./influxdb/influxdb.conf")
    conf = (DEPLOY / "influxdb" / "influxdb.conf").read_text(encoding="utf-8")
    for d in re.findall(r'^\s*(?:dir|wal-dir)\s*=\s*"([^"]+)"', conf, re.MULTILINE):
        assert covered_by(d, svc)[0] == "volume", d  # type: ignore[index]
    port = re.search(r'^\s*bind-address\s*=\s*":(\d+)"', conf, re.MULTILINE)
    assert port is not None and port.group(1) == "8086"


def test_grafana_mounts_provisioning_where_the_provider_looks() -> None:
    svc = compose()["services"]["grafana"]
    assert covered_by("/etc/grafana/provisioning/datasources/influxdb.yaml", svc) == \
        ("bind", "./grafana/provisioning")
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/greeniot.yaml")
                              .read_text())["providers"][0]
    assert covered_by(provider["options"]["path"], svc) == ("bind", "./grafana/dashboards")
    home = env_of(svc)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DEPLOY / "grafana/dashboards" / PurePosixPath(home).name).is_file()
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/influxdb.yaml")
                        .read_text())["datasources"][0]
    host = re.match(r"http://([\w-]+):8086$", ds["url"])
    assert host is not None and host.group(1) in compose()["services"]


# -- the greeniot services ----------------------------------------------------------------------
@pytest.mark.parametrize("name", GREENIOT_SERVICES)
def test_environment_builds_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_of(compose({"GREENIOT_DB_URL": ""})["services"][name])
    greeniot_vars = {k: v for k, v in env.items() if k.startswith("GREENIOT_")}
    unknown = [k for k in greeniot_vars if not settings_field(k)]
    assert not unknown, f"{name}: not Settings fields: {unknown}"
    for k in list(os.environ):
        if k.startswith("GREENIOT_"):
            monkeypatch.delenv(k)
    for k, v in greeniot_vars.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.mqtt.host == "mosquitto" and s.mqtt.port == 1883
    assert s.influx.url == "http://influxdb:8086" and s.influx.database == "greeniot"
    assert s.data_dir == Path("/data")
    assert s.database_url == "sqlite:////data/registry.sqlite3"
    assert s.mqtt.username == env["GREENIOT_MQTT__USERNAME"]
    assert s.mqtt.password is not None and s.mqtt.password.startswith("test-")


def test_postgres_url_reaches_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://greeniot:pw@postgres:5432/greeniot"
    env = env_of(compose({"GREENIOT_DB_URL": url})["services"]["analytics"])
    for k in list(os.environ):
        if k.startswith("GREENIOT_"):
            monkeypatch.delenv(k)
    for k, v in env.items():
        if k.startswith("GREENIOT_"):
            monkeypatch.setenv(k, v)
    assert Settings().database_url == url


@pytest.mark.parametrize("name", GREENIOT_SERVICES)
def test_mqtt_user_is_in_the_broker_acl(name: str) -> None:
    acl = (DEPLOY / "mosquitto" / "acl").read_text(encoding="utf-8")
    users = set(re.findall(r"^user\s+(\S+)", acl, re.MULTILINE))
    user = env_of(compose()["services"][name])["GREENIOT_MQTT__USERNAME"]
    assert user in users, (name, user, users)


def test_cli_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in GREENIOT_SERVICES:
        assert re.search(rf"^\W*{name}\s", result.output, re.MULTILINE), name


@pytest.mark.parametrize("name", GREENIOT_SERVICES)
def test_command_parses_with_the_cli(name: str) -> None:
    """The service's command and options parse with greeniot's own CLI (not run)."""
    command = compose()["services"][name]["command"]
    assert isinstance(command, list) and command[0] == name
    group = typer.main.get_command(app)  # typer's own (vendored) click group
    sub = group.get_command(None, command[0])  # type: ignore[attr-defined]
    assert sub is not None, f"greeniot has no command {command[0]!r}"
    ctx = sub.make_context(command[0], command[1:])  # raises on an unknown option
    if name == "api":
        published = {str(p).rsplit(":", 1)[-1] for p in compose()["services"]["api"]["ports"]}
        assert str(ctx.params["port"]) in published and ctx.params["host"] == "0.0.0.0"


# -- the image ----------------------------------------------------------------------------------
def test_dockerfile_builds_from_repository_paths() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    copies = re.findall(r"^COPY\s+(.+?)\s+\S+\s*$", text, re.MULTILINE)
    assert copies
    for line in copies:
        for src in line.split():
            assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    # Every package pyproject installs is copied into the build.
    for pkg in ("src", "pyproject.toml", "README.md", "constraints.txt"):
        assert any(pkg in line.split() for line in copies), pkg
    entry = re.search(r'^ENTRYPOINT\s+\["greeniot"\]\s*$', text, re.MULTILINE)
    assert entry, "compose commands are greeniot subcommands: ENTRYPOINT must be greeniot"
    assert re.search(r"^ENV GREENIOT_DATA_DIR=/data\s*$", text, re.MULTILINE)


def test_api_is_not_published_beyond_the_host_and_needs_its_secret() -> None:
    """An unauthenticated API on 0.0.0.0 was issue 12: loopback only, and no start without
    the secret (compose refuses to start when a ``:?`` variable is unset)."""
    api = compose()["services"]["api"]
    for port in api["ports"]:
        host = str(port).rsplit(":", 2)[0] if str(port).count(":") == 2 else ""
        assert host == "127.0.0.1", port
    # interpolate() stands in "test-<name>" for a variable compose requires (``:?``)
    assert api["environment"]["GREENIOT_AUTH__SECRET"] == "test-greeniot_auth__secret"


# -- a deployment that starts -----------------------------------------------------------------
def test_images_are_pinned_to_a_release() -> None:
    """No floating tags: every image names an exact release (major.minor.patch)."""
    for name, svc in compose()["services"].items():
        image = svc["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image else "latest"
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), (name, image)


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        if "tools" in svc.get("profiles", []):
            continue  # one-shot tools (provision) run to completion, nothing waits on them
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for dep, cond in deps.items():
            assert cond == {"condition": "service_healthy"}, (name, dep, cond)
    for name in GREENIOT_SERVICES:
        assert set(services[name]["depends_on"]) == {"mosquitto", "influxdb"}, name


def test_greeniot_healthchecks_probe_what_the_service_serves() -> None:
    services = compose()["services"]
    env = env_of(services["ingest"])
    port = env["GREENIOT_METRICS__PORT"]
    for name in ("ingest", "analytics"):
        assert f"127.0.0.1:{port}/metrics" in " ".join(services[name]["healthcheck"]["test"])
    assert "127.0.0.1:8000/health" in " ".join(services["api"]["healthcheck"]["test"])


def test_secrets_are_required_not_defaulted_to_empty() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for var in ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
                "GREENIOT_INGEST_MQTT_PASSWORD", "GREENIOT_ACTIONS_MQTT_PASSWORD"):
        ops = {m.group("op") for m in _VAR.finditer(text) if m.group("name") == var}
        assert ops == {":?"}, (var, ops)


def test_influxdb_init_scripts_are_mounted_where_the_image_runs_them() -> None:
    svc = compose()["services"]["influxdb"]
    assert covered_by("/docker-entrypoint-initdb.d/retention.iql", svc) == \
        ("bind", "./influxdb/init")


def test_prometheus_scrapes_every_greeniot_service_where_it_serves_metrics() -> None:
    services = compose()["services"]
    conf = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in conf["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    port = env_of(services["ingest"])["GREENIOT_METRICS__PORT"]
    assert targets == {f"ingest:{port}", f"analytics:{port}", "api:8000"}
    assert covered_by("/etc/prometheus/prometheus.yml", services["prometheus"]) == \
        ("bind", "./prometheus/prometheus.yml")
