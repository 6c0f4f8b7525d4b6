"""Node configuration: the defaults below, overridden by the site's ``config.json``.

As in mqtt_as, the code ships defaults and each node gets a small JSON file (written by
``greeniot.services.firmware.FirmwareNode`` in tests and the demo, or copied with mpremote on a
real node). Unknown keys are refused with an error naming the key, so a typo never silently
falls back to a default. README.md in this folder documents every key.
"""

import json

from lib.proto import valid_id

KINDS = ("soil", "tilt", "valve")

DEFAULTS = {
    # identity and broker
    "site": "estate-a",
    "device": "node-1",
    "kind": "soil",  # soil | tilt | valve
    "mqtt_host": "127.0.0.1",
    "mqtt_port": 1883,
    "mqtt_user": None,
    "mqtt_password": None,
    "mqtt_tls": False,  # TLS to the broker's device listener (greeniot devices provision)
    "mqtt_ca": None,  # CA certificate file (PEM) that signed the broker's certificate
    "keepalive_s": 30,
    "connect_timeout_s": 2.0,
    "resend_s": 10.0,  # resend an unacknowledged QoS 1 PUBLISH after this long
    "reconnect_min_s": 1.0,
    "reconnect_max_s": 30.0,
    "wifi_ssid": "",
    "wifi_password": "",
    "wifi_timeout_s": 15.0,
    # schedule
    "interval_s": 300.0,  # between readings (sensor nodes)
    "sleep": True,  # sensor nodes deep-sleep between readings; valves never sleep
    "awake_max_s": 20.0,  # a sleeping node gives up on the network after this long
    # soil probe
    "soil_dry_raw": 47000,  # ADC u16 in dry soil / air  -> 0 %
    "soil_wet_raw": 21000,  # ADC u16 in saturated soil  -> 100 %
    "soil_samples": 8,
    "probe_settle_ms": 100,
    # tilt
    "accel": "auto",  # auto | mpu6050 | adxl345
    "accel_addr": None,
    "tilt_samples": 32,
    # Sway bursts, on by default: each reading starts with a look of burst_look_s; if the sway
    # RMS in it reaches burst_trigger_deg the burst runs to burst_s and the node reports every
    # windy_interval_s while it lasts; in calm the look's mean is the static reading.
    "burst_s": 60.0,  # 0 = no sway burst
    "burst_hz": 10.0,
    "burst_look_s": 3.0,
    "burst_trigger_deg": 0.05,  # 0 = always the whole burst
    "windy_interval_s": 120.0,  # never below interval_s / 3 (the backend's offline limit)
    # samples per axis: bounds RAM (2 x 4 bytes each); 3000 = 300 s at 10 Hz, the burst a
    # 0.05-0.1 Hz tree needs (set burst_s 300 for large trees)
    "burst_max": 3000,
    "burst_chunk": 200,  # samples per reading (payload ~3 kB), so a long burst fits the heap
    # valve
    "max_run_s": 1800,  # hard cap: a valve never stays open longer, whatever a command says
    "valve_active_high": True,
    # pulse flow meter on the valve line (drivers/flow.py): K-factor in pulses per litre
    # (YF-S201: 450); 0 = no meter. A flow reading every flow_report_s while open, and while
    # closed whenever pulses came (a leak or a stuck valve).
    "flow_k_per_l": 0.0,
    "flow_report_s": 10.0,
    # outbox and flushing
    "outbox_max": 500,
    "outbox_bytes": 65536,
    "batch_max": 50,
    "batch_bytes": 8192,
    # end-to-end confirmation: keep a batch until ingest says its seqs are stored, resend
    # after stored_timeout_s (docs/architecture.md); off = trust the broker's PUBACK
    "stored_confirm": True,
    "stored_timeout_s": 60.0,
    # platform
    "hal": "unix",  # unix | esp32
    "state_dir": "state",
    "log_level": "info",  # debug | info | warning | error
    "wdt_s": 0,  # ESP32 hardware watchdog (0 = off)
    "pins": {"soil_adc": 34, "bat_adc": 35, "probe_power": 25, "i2c_scl": 22, "i2c_sda": 21,
             "valve": 26, "flow": 27},
    "bat_divider": 2.0,
    # unix simulation inputs; a running node re-reads <state_dir>/sim.json over these
    "sim": {},
    # unix only: the node's clocks (UTC, ticks, sleeps, poll timeouts) run time_scale x real
    # time, reading time_start_ms at the real instant time_origin_ms (None: the first boot;
    # time_start_ms None: the real time then). Timeouts that wait on the network are on the
    # same clock: give them time_scale x their real length.
    "time_scale": 1.0,
    "time_origin_ms": None,
    "time_start_ms": None,
}


def merge(overrides):
    """Defaults updated by ``overrides``; raise ValueError naming an unknown or bad key."""
    cfg = {}
    for key in DEFAULTS:
        value = DEFAULTS[key]
        cfg[key] = dict(value) if isinstance(value, dict) else value
    for key in overrides:
        if key not in DEFAULTS:
            raise ValueError("config: unknown key %r" % key)
        value = overrides[key]
        if isinstance(DEFAULTS[key], dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    check(cfg)
    return cfg


def check(cfg):
    if cfg["kind"] not in KINDS:
        raise ValueError("config: kind must be one of %s, not %r" % (KINDS, cfg["kind"]))
    for key in ("site", "device"):
        if not valid_id(cfg[key]):
            raise ValueError("config: %s %r must match [a-z0-9][a-z0-9_-]{0,63}" % (key, cfg[key]))
    if cfg["hal"] not in ("unix", "esp32"):
        raise ValueError("config: hal must be unix or esp32")
    for key in ("interval_s", "max_run_s", "keepalive_s", "connect_timeout_s", "resend_s",
                "reconnect_min_s", "reconnect_max_s", "awake_max_s", "burst_hz",
                "stored_timeout_s", "flow_report_s"):
        if not cfg[key] > 0:
            raise ValueError("config: %s must be > 0" % key)
    if cfg["soil_dry_raw"] == cfg["soil_wet_raw"]:
        raise ValueError("config: soil_dry_raw equals soil_wet_raw")
    if cfg["flow_k_per_l"] < 0:
        raise ValueError("config: flow_k_per_l must be >= 0 (0 = no flow meter)")
    for key in ("burst_s", "burst_look_s", "burst_trigger_deg"):
        if cfg[key] < 0:
            raise ValueError("config: %s must be >= 0" % key)
    if not cfg["windy_interval_s"] > 0:
        raise ValueError("config: windy_interval_s must be > 0")
    if not 0.1 <= cfg["burst_hz"] <= 200:
        raise ValueError("config: burst_hz must be 0.1..200 (the backend refuses others)")
    if not cfg["time_scale"] > 0:
        raise ValueError("config: time_scale must be > 0")
    if cfg["hal"] == "esp32" and (cfg["time_scale"] != 1 or cfg["time_start_ms"] is not None):
        raise ValueError("config: time_scale and time_start_ms are for the unix HAL only")
    if cfg["mqtt_tls"] and not cfg["mqtt_ca"]:
        raise ValueError("config: mqtt_tls needs mqtt_ca (the CA certificate file)")


def interval_s(cfg, windy=False):
    """Seconds until the next reading: ``interval_s``, or ``windy_interval_s`` while the last
    reading saw sway past the burst trigger (storm-time lean is judged from the readings of
    the last minutes). Never below a third of ``interval_s``: the backend takes a node offline
    after three of its own median intervals of silence."""
    iv = cfg["interval_s"]
    if windy:
        iv = min(iv, max(cfg["windy_interval_s"], iv / 3))
    return iv


def with_remote(cfg, remote):
    """``cfg`` with the backend's retained ``config`` applied (already validated).

    The backend may change the schedule and the burst, and may *lower* the valve's hard cap
    ``max_run_s``, never raise it above the node's own file: the local cap is the last word.
    """
    out = dict(cfg)
    for key in remote or {}:
        if key == "max_run_s":
            out[key] = min(cfg[key], remote[key])
        else:
            out[key] = remote[key]
    return out


def load(path="config.json"):
    """Read ``path`` (a missing file means all defaults) and merge it over the defaults."""
    try:
        with open(path) as f:
            overrides = json.load(f)
    except OSError:
        overrides = {}
    return merge(overrides)
