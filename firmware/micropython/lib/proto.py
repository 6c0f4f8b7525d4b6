"""Protocol v1 on the device: topics and payloads, mirroring ``greeniot.protocol``.

docs/protocol.md is the contract; tests/firmware/test_parity.py feeds every payload built here
to the backend's ``greeniot.protocol.decode`` and requires zero rejections. Payloads are compact
JSON with keys in the documented order, units in the names, ``null`` never sent (the field is
left out), and values outside the documented ranges either clamped (angles) or left out (a
broken temperature sensor must not make the whole reading invalid).
"""

import json

ROOT = "greeniot/v1"
VERSION = 1
FW_VERSION = "0.1.0"
#: The last will and a clean "offline" status (retained on the status topic).
OFFLINE = b'{"v":1,"state":"offline"}'
BATCH_HEAD = b'{"v":1,"batch":['
BATCH_SEP = b","
BATCH_TAIL = b"]}"
#: The channel table's names (src/greeniot/protocol/channels.py), mirrored; the parity test
#: keeps them equal (per-site channels such as ``forecast`` come from the backend only).
#: Up: device → backend; down: backend → device.
UP_CHANNELS = ("soil", "tilt", "weather", "valve", "status", "ack", "flow")
DOWN_CHANNELS = ("cmd", "config", "stored")
#: Channels whose payload may be a batch (docs/protocol.md "Batches").
READING_CHANNELS = ("soil", "tilt", "weather", "valve", "flow")
SEQ_MOD = 1 << 32
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
_CMD_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
_CMD_FIELDS = ("v", "id", "ts_ms", "deadline_ms", "op", "max_run_s")


def valid_id(value):
    """Site/device id rule ``[a-z0-9][a-z0-9_-]{0,63}`` (MicroPython's re has no ``{m,n}``)."""
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        return False
    if value[0] in "_-":
        return False
    return all(c in _ID_CHARS for c in value)


def valid_cmd_id(value):
    """Command id rule ``^[A-Za-z0-9][A-Za-z0-9_.:-]*$``, at most 64 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        return False
    if value[0] in "_.:-":
        return False
    return all(c in _CMD_ID_CHARS for c in value)


def topic(site, device, channel):
    return "%s/%s/%s/%s" % (ROOT, site, device, channel)


def _num(x, ndigits):
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return round(x, ndigits)


def _in(x, lo, hi, ndigits):
    """``x`` rounded, or None (field left out) when missing or outside ``lo..hi``."""
    if x is None or x != x or not lo <= x <= hi:
        return None
    return round(x, ndigits)


def _clamp(x, lo, hi, ndigits):
    x = _num(x, ndigits)
    return lo if x < lo else hi if x > hi else x


def obj(pairs):
    """Compact JSON object from ``(key, value)`` pairs, in order, skipping ``None`` values."""
    out = []
    for key, value in pairs:
        if value is not None:
            out.append('"%s":%s' % (key, json.dumps(value)))
    return ("{" + ",".join(out) + "}").encode()


def soil(seq, ts_ms, vwc_pct, raw=None, temp_c=None, bat_v=None):
    """``SoilReading``: ``vwc_pct`` [%] is clamped to 0..100, ``raw`` is the ADC u16 value."""
    return obj((("v", VERSION), ("seq", seq % SEQ_MOD), ("ts_ms", int(ts_ms)),
                ("vwc_pct", _clamp(vwc_pct, 0.0, 100.0, 1)),
                ("temp_c", _in(temp_c, -60.0, 100.0, 1)),
                ("bat_v", _in(bat_v, 0.0, 15.0, 2)),
                ("raw", None if raw is None else max(0, min(65535, int(raw))))))


def _floats(buf, values, start, stop, ndigits):
    fmt = b"%." + str(ndigits).encode() + b"f"
    for i in range(start, stop):
        if i > start:
            buf.extend(b",")
        v = values[i]
        v = -90.0 if v < -90.0 else 90.0 if v > 90.0 else v
        buf.extend(fmt % v)


def tilt(seq, ts_ms, pitch_deg, roll_deg, n=None, temp_c=None, bat_v=None, burst=None):
    """``TiltReading``; ``burst`` is ``(hz, pitch_array, roll_array, start, stop)`` or None.

    Burst samples are written straight into one bytearray (no list of float objects).
    """
    head = obj((("v", VERSION), ("seq", seq % SEQ_MOD), ("ts_ms", int(ts_ms)),
                ("pitch_deg", _clamp(pitch_deg, -90.0, 90.0, 3)),
                ("roll_deg", _clamp(roll_deg, -90.0, 90.0, 3)),
                ("temp_c", _in(temp_c, -60.0, 100.0, 1)),
                ("bat_v", _in(bat_v, 0.0, 15.0, 2)),
                ("n", n)))
    if not burst or burst[4] <= burst[3]:
        return head
    hz, pitch, roll, start, stop = burst
    buf = bytearray(head[:-1])
    buf.extend(b',"burst":{"hz":')
    buf.extend(json.dumps(_num(float(hz), 3)).encode())
    buf.extend(b',"pitch_deg":[')
    _floats(buf, pitch, start, stop, 3)
    buf.extend(b'],"roll_deg":[')
    _floats(buf, roll, start, stop, 3)
    buf.extend(b"]}}")
    return bytes(buf)


def valve_event(seq, ts_ms, state, cause, cmd_id=None, open_s=None, flow_l=None):
    """``ValveEvent``: ``state`` open|closed, ``cause`` cmd|max_run|boot|manual; ``flow_l``
    the litres of the run a close ends (with a flow meter)."""
    return obj((("v", VERSION), ("seq", seq % SEQ_MOD), ("ts_ms", int(ts_ms)),
                ("state", state), ("cause", cause), ("cmd_id", cmd_id),
                ("open_s", None if open_s is None else _num(max(0.0, open_s), 1)),
                ("flow_l", _in(flow_l, 0.0, 1000000.0, 2))))


def flow(seq, ts_ms, flow_l_min, total_l, valve, window_s=None, bat_v=None):
    """``FlowReading``: mean flow [L/min] over the last ``window_s`` s, litres since the
    valve's last state change, the valve state (open|closed)."""
    return obj((("v", VERSION), ("seq", seq % SEQ_MOD), ("ts_ms", int(ts_ms)),
                ("flow_l_min", _clamp(flow_l_min, 0.0, 10000.0, 2)),
                ("total_l", _clamp(total_l, 0.0, 1000000.0, 2)), ("valve", valve),
                ("window_s", _in(window_s, 0.1, 86400.0, 1)),
                ("bat_v", _in(bat_v, 0.0, 15.0, 2))))


def ack(seq, ts_ms, cmd_id, ok, state=None, reason=None):
    """``Ack`` echoing the command ``id``; ``reason`` only when refused."""
    if reason is not None and len(reason) > 200:
        reason = reason[:200]
    return obj((("v", VERSION), ("id", cmd_id), ("seq", seq % SEQ_MOD), ("ts_ms", int(ts_ms)),
                ("ok", bool(ok)), ("state", state), ("reason", reason)))


def status(state, ts_ms=None, kind=None, bat_v=None, rssi_dbm=None, uptime_s=None,
           outbox=None, next_ms=None):
    """Retained ``Status``: online | offline | sleeping | shutdown; ``next_ms`` is the next
    scheduled wake-up (sleeping), so the backend does not take the silence for a fault."""
    rssi = None if rssi_dbm is None or not -150 <= rssi_dbm <= 0 else int(rssi_dbm)
    return obj((("v", VERSION), ("state", state),
                ("ts_ms", None if ts_ms is None else int(ts_ms)),
                ("next_ms", None if next_ms is None else int(next_ms)), ("kind", kind),
                ("fw", FW_VERSION), ("bat_v", _in(bat_v, 0.0, 15.0, 2)), ("rssi_dbm", rssi),
                ("uptime_s", None if uptime_s is None else max(0, int(uptime_s))),
                ("outbox", outbox)))


def batch_parts(items):
    """Parts of ``{"v":1,"batch":[item,...]}`` to hand to ``MQTTClient.publish`` unjoined."""
    parts = [BATCH_HEAD]
    for i, item in enumerate(items):
        if i:
            parts.append(BATCH_SEP)
        parts.append(item)
    parts.append(BATCH_TAIL)
    return parts


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def parse_command(payload):
    """Check a ``Command`` like the backend's model does.

    Returns ``(cmd, None)`` with ``cmd`` a dict, or ``(cmd_id_or_None, reason)`` when refused
    (``cmd_id`` is known when the id itself was readable, so the refusal can be acked).
    """
    try:
        cmd = json.loads(payload)
    except ValueError:
        return None, "invalid: not JSON"
    if not isinstance(cmd, dict):
        return None, "invalid: not a JSON object"
    cid = cmd.get("id")
    if not valid_cmd_id(cid):
        return None, "invalid: id"
    if cmd.get("v") != VERSION:
        return cid, "bad_version"
    for key in cmd:
        if key not in _CMD_FIELDS:
            return cid, "invalid: unknown field " + key
    for key in ("ts_ms", "deadline_ms"):
        if not _is_int(cmd.get(key)):
            return cid, "invalid: " + key
    op = cmd.get("op")
    if op not in ("open", "close"):
        return cid, "invalid: op"
    run_s = cmd.get("max_run_s")
    if run_s is not None and not (_is_int(run_s) and 1 <= run_s <= 86400):
        return cid, "invalid: max_run_s"
    if op == "open" and run_s is None:
        return cid, "invalid: op 'open' requires max_run_s"
    return cmd, None


#: ``DeviceConfig`` fields (backend -> device, retained) and their bounds.
_CONFIG_FIELDS = {"interval_s": (1, 86400), "max_run_s": (1, 86400), "burst_s": (0, 600),
                  "burst_hz": (0.1, 200), "sleep": None}


def parse_device_config(payload):
    """Check a retained ``DeviceConfig`` like the backend's model does.

    Returns ``(settings, None)`` with the settings as a dict (without ``v``), or
    ``(None, reason)``.
    """
    try:
        obj = json.loads(payload)
    except ValueError:
        return None, "invalid: not JSON"
    if not isinstance(obj, dict):
        return None, "invalid: not a JSON object"
    if obj.get("v", VERSION) != VERSION:
        return None, "bad_version"
    out = {}
    for key in obj:
        if key == "v":
            continue
        if key not in _CONFIG_FIELDS:
            return None, "invalid: unknown field " + key
        value = obj[key]
        bounds = _CONFIG_FIELDS[key]
        if bounds is None:
            if not isinstance(value, bool):
                return None, "invalid: " + key
        elif key == "burst_hz":
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and bounds[0] <= value <= bounds[1]):
                return None, "invalid: " + key
        elif not (_is_int(value) and bounds[0] <= value <= bounds[1]):
            return None, "invalid: " + key
        out[key] = value
    return out, None


_SEQ_KEY = b'"seq":'


def seq_of(payload):
    """The ``seq`` of an encoded reading or ack (bytes), or None if it has none."""
    i = payload.find(_SEQ_KEY)
    if i < 0:
        return None
    i += len(_SEQ_KEY)
    n = 0
    start = i
    while i < len(payload) and 48 <= payload[i] <= 57:
        n = n * 10 + payload[i] - 48
        i += 1
    return n if i > start else None


def parse_stored(payload):
    """``[[first, last], ...]`` from the backend's ``stored`` confirmation, or None if bad."""
    try:
        obj = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("v") != VERSION:
        return None
    ranges = obj.get("seqs")
    if not isinstance(ranges, list):
        return None
    for r in ranges:
        if not (isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1])):
            return None
    return ranges


def covered(ranges, seq):
    return any(lo <= seq <= hi for lo, hi in ranges)
