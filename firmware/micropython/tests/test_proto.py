"""Payload building and command parsing (the backend-side parity check is in tests/firmware)."""

import json
from array import array

from check import eq

from lib import proto

TS = 1795510737944


def test_ids_follow_the_topic_rule(tmp):
    for good in ("a", "estate-a", "t1_2", "0" * 64):
        eq(proto.valid_id(good), True, good)
    for bad in ("", "-a", "_a", "A", "a/b", "a b", "0" * 65, None):
        eq(proto.valid_id(bad), False, repr(bad))
    eq(proto.topic("s", "d", "soil"), "greeniot/v1/s/d/soil", "topic")


def test_soil_payload_is_compact_ordered_and_clamped(tmp):
    eq(proto.soil(812, TS, 23.44, raw=2215, temp_c=17.94, bat_v=3.921),
       b'{"v":1,"seq":812,"ts_ms":1795510737944,"vwc_pct":23.4,"temp_c":17.9,"bat_v":3.92,'
       b'"raw":2215}', "soil")
    got = json.loads(proto.soil(2**32 + 5, TS, 140.0, temp_c=150.0))
    eq(got, {"v": 1, "seq": 5, "ts_ms": TS, "vwc_pct": 100.0}, "wrapped seq, clamp, omit")


def test_tilt_payload_with_burst(tmp):
    p = array("f", [0.5, 0.25, 95.0])
    r = array("f", [-0.125, 0.0, -95.0])
    got = json.loads(proto.tilt(90, TS, 0.421, -0.1104, 200, temp_c=18.0,
                                burst=(10.0, p, r, 0, 3)))
    eq(got["burst"], {"hz": 10.0, "pitch_deg": [0.5, 0.25, 90.0],
                      "roll_deg": [-0.125, 0.0, -90.0]}, "burst clamped to ±90")
    eq((got["pitch_deg"], got["roll_deg"], got["n"]), (0.421, -0.11, 200), "static")
    eq("burst" in json.loads(proto.tilt(1, TS, 0.0, 0.0, 1, burst=(10.0, p, r, 0, 0))), False,
       "empty burst left out")
    got = json.loads(proto.tilt(1, TS, 0.0, 0.0, 2, burst=(10.0, p, r, 1, 3)))
    eq(got["burst"]["pitch_deg"], [0.25, 90.0], "a chunk of the arrays")


def test_valve_ack_status_batch(tmp):
    eq(proto.valve_event(31, TS, "closed", "max_run", "c-7f3a", 600.0),
       b'{"v":1,"seq":31,"ts_ms":1795510737944,"state":"closed","cause":"max_run",'
       b'"cmd_id":"c-7f3a","open_s":600.0}', "valve")
    eq(proto.ack(32, TS, "c-7f3a", True, "open"),
       b'{"v":1,"id":"c-7f3a","seq":32,"ts_ms":1795510737944,"ok":true,"state":"open"}', "ack")
    eq(json.loads(proto.ack(1, TS, "c", False, "closed", "expired"))["reason"], "expired", "ack")
    eq(json.loads(proto.status("online", TS, "valve", 3.9, -67, 3600, 0)),
       {"v": 1, "state": "online", "ts_ms": TS, "kind": "valve", "fw": proto.FW_VERSION,
        "bat_v": 3.9, "rssi_dbm": -67, "uptime_s": 3600, "outbox": 0}, "status")
    eq(b"".join(proto.batch_parts([b"1", b"2", b"3"])), b'{"v":1,"batch":[1,2,3]}', "batch")


def _cmd(**kw):
    c = {"v": 1, "id": "c-1", "ts_ms": TS, "deadline_ms": TS + 60000, "op": "open",
         "max_run_s": 60}
    c.update(kw)
    for k in [k for k in c if c[k] is None]:
        del c[k]
    return json.dumps(c).encode()


def test_parse_command_accepts_and_refuses_like_the_backend(tmp):
    cmd, reason = proto.parse_command(_cmd())
    eq((reason, cmd["op"], cmd["max_run_s"]), (None, "open", 60), "open")
    eq(proto.parse_command(_cmd(op="close", max_run_s=None))[1], None, "close")
    eq(proto.parse_command(_cmd(max_run_s=None)), ("c-1", "invalid: op 'open' requires "
                                                          "max_run_s"), "open needs run")
    eq(proto.parse_command(_cmd(v=2)), ("c-1", "bad_version"), "version")
    eq(proto.parse_command(_cmd(op="flood")), ("c-1", "invalid: op"), "op")
    eq(proto.parse_command(_cmd(max_run_s=0)), ("c-1", "invalid: max_run_s"), "run range")
    eq(proto.parse_command(_cmd(extra=1)), ("c-1", "invalid: unknown field extra"), "extra")
    eq(proto.parse_command(_cmd(deadline_ms="soon")), ("c-1", "invalid: deadline_ms"), "type")
    eq(proto.parse_command(_cmd(id="-x")), (None, "invalid: id"), "bad id")
    eq(proto.parse_command(b"{nope"), (None, "invalid: not JSON"), "json")


def test_device_config_parsed_and_local_cap_wins(tmp):
    import config

    ok = json.dumps({"v": 1, "interval_s": 60, "burst_s": 120, "burst_hz": 10, "sleep": False,
                     "max_run_s": 9000})
    remote, reason = proto.parse_device_config(ok)
    eq(reason, None, "accepted")
    eq(remote, {"interval_s": 60, "burst_s": 120, "burst_hz": 10, "sleep": False,
                "max_run_s": 9000}, "settings")
    for bad, why in (({"v": 2}, "bad_version"), ({"interval_s": 0}, "invalid: interval_s"),
                     ({"burst_hz": 0}, "invalid: burst_hz"), ({"sleep": 1}, "invalid: sleep"),
                     ({"wifi_ssid": "x"}, "invalid: unknown field wifi_ssid")):
        eq(proto.parse_device_config(json.dumps(bad)), (None, why), why)
    local = config.merge({"max_run_s": 1800, "interval_s": 300})
    eff = config.with_remote(local, remote)
    eq((eff["max_run_s"], eff["interval_s"], eff["sleep"]), (1800, 60, False),
       "the backend may not raise the local hard cap")
    eq(config.with_remote(local, {"max_run_s": 5})["max_run_s"], 5, "but may lower it")
    eq(local["interval_s"], 300, "local config untouched")


def test_seq_of_and_stored_confirmations(tmp):
    eq(proto.seq_of(proto.soil(812, 1795510737944, 23.4)), 812)
    eq(proto.seq_of(proto.ack(7, 1795510737944, "c-1", True)), 7)
    eq(proto.seq_of(proto.status("online", 1795510737944)), None)
    ranges = proto.parse_stored(b'{"v":1,"seqs":[[1,3],[7,7]]}')
    eq(ranges, [[1, 3], [7, 7]])
    eq([s for s in range(9) if proto.covered(ranges, s)], [1, 2, 3, 7])
    for bad in (b"x", b'{"v":2,"seqs":[[1,2]]}', b'{"v":1,"seqs":[[1]]}',
                b'{"v":1,"seqs":[["1",2]]}', b'{"v":1}', b"[1]"):
        eq(proto.parse_stored(bad), None, bad)
