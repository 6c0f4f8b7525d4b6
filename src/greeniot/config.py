"""The one settings object. Built once by the CLI (or a test) and passed down explicitly.

Every value comes from ``GREENIOT_*`` environment variables (nested with ``__``, e.g.
``GREENIOT_MQTT__PORT=1884``) or CLI options; there is no module-level instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: Client-id prefix; each component appends its role (``greeniot-ingest``...).
    client_id: str = "greeniot"
    #: Join a shared subscription group so several ingest workers split the load.
    share_group: str | None = None


class InfluxSettings(BaseModel):
    url: str = "http://127.0.0.1:8086"
    database: str = "greeniot"
    #: ``v1``: ``/write`` + ``/query`` (InfluxDB 1.x, 2.x via DBRP, 3.x). ``v2``: ``/api/v2/write``.
    api: Literal["v1", "v2"] = "v1"
    username: str | None = None
    password: str | None = None
    org: str | None = None
    bucket: str | None = None
    token: str | None = None
    batch_size: int = Field(5000, ge=1, le=100_000)
    flush_interval_s: float = Field(0.5, gt=0, le=60)
    #: Compress write bodies. None: only when InfluxDB is not on this host (on loopback,
    #: compressing costs both sides CPU and saves no bandwidth that matters).
    gzip: bool | None = None
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> InfluxSettings:
        if self.api == "v2" and not (self.org and self.bucket):
            raise ValueError("GREENIOT_INFLUX__API=v2 requires GREENIOT_INFLUX__ORG and "
                             "GREENIOT_INFLUX__BUCKET")
        return self


class IngestSettings(BaseModel):
    # No client-side in-flight cap: MQTT 3.1.1 has no receive-maximum, so the window toward
    # ingest is the broker's max_inflight_messages (deploy/mosquitto/mosquitto.conf).
    #: How far ahead of the backend clock a device timestamp may be [s].
    max_future_s: float = Field(300.0, ge=0)
    #: How old a buffered reading may be and still be stored [days].
    max_age_days: float = Field(400.0, gt=0)
    #: Publish ``greeniot/v1/{site}/{device}/stored`` confirmations (which seqs are durable)
    #: that devices and simulators keep their outbox for (docs/architecture.md).
    confirm: bool = True
    #: The broker's ``max_queued_bytes`` (per client) as shipped in deploy/mosquitto [bytes].
    broker_queue_bytes: int = Field(268_435_456, ge=1)
    #: Alert when the broker holds this fraction of ``broker_queue_bytes`` (ingest/lag.py).
    lag_alert_fraction: float = Field(0.5, gt=0, le=1)
    #: Watch the broker's ``$SYS`` store size for the lag alert.
    lag_monitor: bool = True
    #: While a backlog streams in (a batch was taken in the last second), wait this long for
    #: the inbox to fill before taking a batch that is not full yet [s]: fewer, larger batches
    #: (one fsync, one InfluxDB write, one dead-letter publish per reason each) where the
    #: pump would otherwise take whatever the network thread had read. A lone live reading
    #: after a quiet second is taken at once. 0: never wait.
    batch_linger_s: float = Field(0.02, ge=0, le=1)


class AnalyticsSettings(BaseModel):
    #: Seconds of event time between detector ticks.
    tick_s: float = Field(60.0, gt=0)
    #: Samples kept per device in the ring buffers.
    window: int = Field(512, ge=16)
    #: This process's name in a group of analytics shards (each owns a set of sites, by
    #: rendezvous hashing over the live shards); empty: one process owns every site.
    shard: str = Field("", pattern=r"^([a-z0-9][a-z0-9_-]{0,63})?$")
    #: How often the process publishes its liveness (runtime/liveness.py) [s]; a reader calls
    #: it stale after 3 of these.
    health_every_s: float = Field(10.0, gt=0, le=3600)
    #: Take tilt a second time on a session of its own (clean, QoS 0), so a live reading of a
    #: fallen tree reaches the urgent lane without queueing behind routine traffic
    #: (runtime/feed.py ``peek``); false: tilt waits for its turn with everything else.
    lookout: bool = True


class IrrigationSettings(BaseModel):
    """The daily watering decision (actions/watering.py, docs/irrigation.md)."""

    #: Water a zone when P(Dr + today's ETc ≥ RAW) reaches this, from the balance's own
    #: spread. Higher: fewer openings before the zone needs water, more days past RAW first.
    #: A management choice; benchmarks/irrigation_quality.py prints the trade-off.
    need_confidence: float = Field(0.7, ge=0.5, lt=1.0)  # watering.NEED_CONFIDENCE
    #: Local hour of the daily decision (before sunrise: least wind and evaporation).
    decision_hour_local: float = Field(5.0, ge=0.0, lt=24.0)  # DECISION_HOUR_LOCAL


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)


class MetricsSettings(BaseModel):
    """Prometheus exposition of ``greeniot ingest`` and ``analytics`` (the API serves
    ``/metrics`` on its own port). ``port`` 0 = no metrics server."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)


class DeliverySettings(BaseModel):
    """Alert delivery (``greeniot.actions.sinks``): retries, backoff, per-recipient rate limit.

    Local operating defaults, not a standard: a storm raises dozens of alerts in minutes, and
    a crew phone that rings ten times in ten minutes gets the rest as one digest.
    """

    #: Attempts per notification before it is given up (state ``gave_up``).
    max_attempts: int = Field(8, ge=1, le=1000)
    #: Retry backoff: ``base * 2**(attempt-1)``, capped, with full jitter [s].
    backoff_base_s: float = Field(1.0, gt=0, le=3600)
    backoff_cap_s: float = Field(300.0, gt=0, le=86_400)
    #: One attempt's time limit (webhook request, apprise notify, MQTT PUBACK) [s].
    timeout_s: float = Field(10.0, gt=0, le=600)
    #: Default rate limit of a recipient: at most ``rate_max`` messages per window [s];
    #: what comes beyond goes out as one digest when the window has room again.
    rate_max: int = Field(10, ge=1, le=100_000)
    rate_window_s: float = Field(600.0, gt=0, le=86_400)
    #: Language of the texts sent to a recipient that names none (a route or roster person
    #: without ``locale`` and without a user account): the estates run in Chinese.
    locale: Literal["zh_Hans", "en"] = "zh_Hans"


class TaskSettings(BaseModel):
    """Task SLA: time to close by priority [h], and how often the SLA job looks [s]."""

    #: Local default policy (1 = now, 5 = routine), not a standard; set your estate's own.
    sla_hours: dict[int, float] = Field(
        default_factory=lambda: {1: 4.0, 2: 24.0, 3: 72.0, 4: 168.0, 5: 720.0})
    sla_check_s: float = Field(60.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _every_priority(self) -> TaskSettings:
        if sorted(self.sla_hours) != [1, 2, 3, 4, 5] or min(self.sla_hours.values()) <= 0:
            raise ValueError("GREENIOT_TASKS__SLA_HOURS needs a positive number of hours for "
                             f"each priority 1..5, got {self.sla_hours}")
        return self

    @property
    def sla_ms(self) -> dict[int, int]:
        """Priority → time to close [ms]."""
        return {p: int(h * 3_600_000) for p, h in self.sla_hours.items()}
class AuthSettings(BaseModel):
    """Accounts, tokens and the crew page (api/security.py, api/crew.py)."""

    #: Key of the crew page's CSRF tokens. Required by the API unless ``development`` is on
    #: (then a random one is made per start, and sessions end with the process).
    secret: SecretStr | None = None
    #: Development mode: allow a missing secret and a plain-HTTP session cookie.
    development: bool = False
    #: Lifetime of a login token (OAuth2 password flow and crew page cookie) [s].
    token_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    #: Mark the session cookie ``Secure`` (HTTPS only); on unless ``development``.
    cookie_secure: bool | None = None
    #: Largest photo accepted as close-out evidence [bytes].
    photo_max_bytes: int = Field(8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: Largest photo accepted [pixels], against decompression bombs.
    photo_max_pixels: int = Field(40_000_000, ge=10_000)

    @property
    def secure_cookie(self) -> bool:
        return (not self.development) if self.cookie_secure is None else self.cookie_secure


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GREENIOT_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("greeniot-data")
    #: SQLAlchemy URL of the registry; default: SQLite file in ``data_dir``.
    db_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    ingest: IngestSettings = IngestSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    irrigation: IrrigationSettings = IrrigationSettings()
    api: ApiSettings = ApiSettings()
    metrics: MetricsSettings = MetricsSettings()
    delivery: DeliverySettings = DeliverySettings()
    tasks: TaskSettings = TaskSettings()
    auth: AuthSettings = AuthSettings()

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'registry.sqlite3').resolve()}"


def unknown_env(environ: Mapping[str, str], prefix: str = "GREENIOT_") -> list[str]:
    """``GREENIOT_*`` variables that name no setting (pydantic-settings ignores them silently,
    so a typo such as ``GREENIOT_MQTT__HOSTX`` would otherwise leave the default in force)."""
    top = Settings.model_fields
    bad = []
    for key in environ:
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix):].lower().split("__")
        field = top.get(parts[0])
        if field is None:
            bad.append(key)
            continue
        model = field.annotation
        if len(parts) == 1:
            continue
        if (len(parts) != 2 or not isinstance(model, type) or not issubclass(model, BaseModel)
                or parts[1] not in model.model_fields):
            bad.append(key)
    return sorted(bad)
