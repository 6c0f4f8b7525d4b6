"""Log lines people can read: ISO 8601 times with zone, tracebacks only at DEBUG or in JSON."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime

from greeniot.logs import JsonFormatter, TextFormatter

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 ")


def failed_record() -> logging.LogRecord:
    try:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:1")
    except ConnectionRefusedError as err:
        return logging.LogRecord("greeniot.x", logging.ERROR, __file__, 1,
                                 "broker gone: %s", ("set GREENIOT_MQTT__PORT",), (type(err), err,
                                                                                 err.__traceback__))


def test_text_lines_carry_an_iso_time_with_zone_and_no_traceback_at_info() -> None:
    out = TextFormatter(debug=False).format(failed_record())
    assert ISO.match(out), out
    assert datetime.fromisoformat(out.split(" ")[0]).utcoffset() is not None
    assert "\n" not in out and "Traceback" not in out
    assert "set GREENIOT_MQTT__PORT" in out
    assert "ConnectionRefusedError: connection refused by 127.0.0.1:1" in out


def test_text_lines_show_the_traceback_at_debug() -> None:
    out = TextFormatter(debug=True).format(failed_record())
    assert "Traceback (most recent call last)" in out and "ConnectionRefusedError" in out


def test_json_lines_keep_the_traceback_and_an_iso_time() -> None:
    obj = json.loads(JsonFormatter().format(failed_record()))
    assert datetime.fromisoformat(obj["ts"]).utcoffset() is not None
    assert obj["level"] == "error" and obj["msg"].startswith("broker gone")
    assert "Traceback" in obj["exc"]
