"""The node: measure or actuate, keep readings in the outbox, and talk to the broker.

Two ways to run, chosen by kind and ``cfg["sleep"]``:

- *Wake cycle* (sensor nodes with sleep on): measure once, append to the outbox, connect,
  publish status ``online``, flush the outbox, publish ``sleeping``, disconnect, deep-sleep.
  Without a broker the reading simply stays in the outbox for the next wake.
- *Loop* (valves, and sensors with sleep off): one main loop that never blocks for long —
  valve safety timer first, then the scheduled measurement, then one bounded network step
  (connect with capped exponential backoff, poll, flush one batch at a time).

Outbox entries are published as they were stored (original ``ts_ms`` and ``seq``): one entry
as a plain reading, several as ``{"v":1,"batch":[...]}``. With ``stored_confirm`` (default) a
batch leaves the outbox only when the backend's ``stored`` confirmation covers every seq in it
— ingest holds it durably, not merely the broker's memory — and is published again when none
came within ``stored_timeout_s`` after the PUBACK (docs/architecture.md). Without it, the
PUBACK retires the batch.
"""

import gc
import time

import config
from lib import proto
from lib.log import Logger
from lib.mqtt import MQTTClient
from lib.outbox import Outbox
from lib.store import Seq, read_json, write_json

_LOOP_MS = 100  # longest wait in one main-loop turn


class Node:
    def __init__(self, hal, cfg):
        self.hal = hal
        self.local_cfg = cfg
        sd = cfg["state_dir"]
        self._remote_path = sd + "/remote.json"
        self.remote = read_json(self._remote_path, None)
        if not isinstance(self.remote, dict):
            self.remote = {}
        self.cfg = cfg = config.with_remote(cfg, self.remote)
        self.log = Logger(cfg["device"], cfg["log_level"])
        self.seq = Seq(sd + "/seq")
        self.outbox = Outbox(sd + "/outbox.dat", cfg["outbox_max"], cfg["outbox_bytes"])
        site, device = cfg["site"], cfg["device"]
        self.topics = {}
        for ch in proto.UP_CHANNELS + proto.DOWN_CHANNELS:  # the mirrored channel table
            self.topics[ch] = proto.topic(site, device, ch).encode()
        self.client = MQTTClient(
            device, cfg["mqtt_host"], cfg["mqtt_port"], keepalive_s=cfg["keepalive_s"],
            clean=False, will=(self.topics["status"], proto.OFFLINE, 1, True),
            user=cfg["mqtt_user"], password=cfg["mqtt_password"], on_message=self._on_message,
            resend_ms=int(cfg["resend_s"] * 1000), tls_ca=cfg["mqtt_ca"] if cfg["mqtt_tls"]
            else None)
        self.kind = cfg["kind"]
        self.app = None
        self._start_app()
        self._confirm = cfg["stored_confirm"]
        self._stored_ms = int(cfg["stored_timeout_s"] * 1000)
        # The outbox batch in flight: [pid, end_id, unconfirmed seqs, sent ticks]
        self._batch = None
        self.resent = 0
        self._retry_at = None
        self._backoff_ms = int(cfg["reconnect_min_s"] * 1000)
        self._t0 = time.ticks_ms()
        self._next_ms = self._t0  # next scheduled measurement (loop mode)

    def _start_app(self):
        """Build the kind's app. A sensor that is missing (unplugged, broken) is logged and
        retried at each measurement; the node still connects and reports its status."""
        try:
            self.app = self._make_app()
        except OSError as err:
            if self.kind == "valve":
                raise
            self.log.error("sensor not available: %s", err)

    def _make_app(self):
        kind, hal, cfg = self.kind, self.hal, self.cfg
        if kind == "soil":
            from app.soil import SoilApp

            return SoilApp(hal, cfg, self.log)
        if kind == "tilt":
            from app.tilt import TiltApp

            return TiltApp(hal, cfg, self.log)
        from app.valve import ValveApp

        return ValveApp(hal, cfg, self.log, self.seq, self._emit)

    # -- bookkeeping ------------------------------------------------------------------------
    def _emit(self, channel, payload):
        if not self.outbox.append(channel, payload):
            self.log.error("outbox: entry of %d bytes can never fit, dropped", len(payload))
        self._report()

    def _report(self):
        self.hal.report(connected=self.client.connected, outbox=len(self.outbox),
                        dropped=self.outbox.dropped, seq=self.seq.value)

    def _interval_ms(self):
        return int(config.interval_s(self.cfg, getattr(self.app, "windy", False)) * 1000)

    def _uptime_s(self):
        return time.ticks_diff(time.ticks_ms(), self._t0) // 1000

    def measure(self):
        """Take one reading and append it to the outbox (never raises: a node keeps going)."""
        if not self.hal.clock_valid():
            self.hal.net_up(int(self.cfg["wifi_timeout_s"] * 1000))
            if not self.hal.clock_valid():
                self.log.error("clock not set: reading skipped")
                return
        if self.app is None:
            self._start_app()
            if self.app is None:
                return
        try:
            for payload in self.app.measure(self.seq.next):
                self._emit(self.app.channel, payload)
                payload = None
                gc.collect()  # a burst chunk is a few kB: keep the heap unfragmented
        except (OSError, ValueError) as err:
            self.log.error("measurement failed: %s", err)
            self.app = None  # re-initialise the sensor next time (it may have been replugged)

    # -- network ----------------------------------------------------------------------------
    def connect(self, timeout_ms):
        """Connect, subscribe, announce ``online``. Returns True on success."""
        c = self.client
        if not self.hal.net_up(int(self.cfg["wifi_timeout_s"] * 1000)):
            self.log.warning("network down")
            return False
        t0 = time.ticks_ms()
        try:
            session = c.connect(timeout_ms)
            if self.kind == "valve":
                c.subscribe(self.topics["cmd"], 1)
            c.subscribe(self.topics["config"], 1)
            if self._confirm:
                c.subscribe(self.topics["stored"], 1)
            while c.sub_pending:  # commands are only sure to reach us after SUBACK
                if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                    raise OSError("no SUBACK from %s:%d" % (c.host, c.port))
                c.poll(20)
            self._publish_status("online")
        except OSError as err:
            self.log.warning("mqtt: %s", err)
            c.close()
            self._report()
            return False
        self.log.info("connected to %s:%d (session %s, outbox %d)", c.host, c.port,
                      "resumed" if session else "new", len(self.outbox))
        self._report()
        return True

    def _publish_status(self, state, next_ms=None):
        payload = proto.status(state, self.hal.clock_ms(), self.kind, self.hal.battery_v(),
                               self.hal.rssi_dbm(), self._uptime_s(), len(self.outbox),
                               next_ms)
        return self.client.publish(self.topics["status"], payload, qos=1, retain=True)

    def shutdown(self, budget_ms=2000):
        """A clean stop: say ``shutdown`` (retained; a planned silence, not a fault) and
        disconnect, so the broker does not publish the last will."""
        c = self.client
        if not c.connected:
            return
        t0 = time.ticks_ms()
        try:
            pid = self._publish_status("shutdown")
            while not c.acked(pid) and time.ticks_diff(time.ticks_ms(), t0) < budget_ms:
                c.poll(_LOOP_MS)
            c.disconnect()
        except OSError as err:
            self._lost(err)

    def flush(self):
        """Retire the stored (or acknowledged) batch and send the next one; resend a batch
        that stayed unconfirmed past ``stored_timeout_s`` (one batch in flight)."""
        c = self.client
        b = self._batch
        if b is not None:
            pid, end_id, pending, sent = b
            if (not pending and (self._confirm or c.acked(pid))):
                n = self.outbox.pop_through(end_id)
                self._batch = None
                self.log.debug("outbox: %d %s, %d left", n,
                               "confirmed stored" if self._confirm else "acknowledged",
                               len(self.outbox))
                self._report()
            elif (self._confirm and c.acked(pid)
                  and time.ticks_diff(time.ticks_ms(), sent) > self._stored_ms):
                self.log.warning("outbox: %d readings unconfirmed after %d ms, resending",
                                 len(pending), self._stored_ms)
                self.resent += 1
                self._batch = None  # sent again below, as the outbox has it now
        if self._batch is None and len(self.outbox) and c.can_publish():
            first_id, channel, items = self.outbox.peek(self.cfg["batch_max"],
                                                        self.cfg["batch_bytes"])
            payload = items[0] if len(items) == 1 else proto.batch_parts(items)
            pending = []
            if self._confirm:
                for item in items:
                    seq = proto.seq_of(item)
                    if seq is not None:
                        pending.append(seq)
            pid = c.publish(self.topics[channel], payload, qos=1)
            self._batch = [pid, first_id + len(items), pending, time.ticks_ms()]

    def _on_stored(self, payload):
        ranges = proto.parse_stored(payload)
        if ranges is None:
            self.log.warning("stored: bad confirmation")
            return
        b = self._batch
        if b is not None and b[2]:
            b[2] = [s for s in b[2] if not proto.covered(ranges, s)]

    def _idle(self):
        return self._batch is None and not len(self.outbox) and not self.client.inflight

    def _on_config(self, payload):
        """Apply the backend's retained ``config``; persisted for the next boots."""
        remote, reason = proto.parse_device_config(payload)
        if reason is not None:
            self.log.warning("config refused: %s", reason)
            return
        if remote == self.remote:
            return
        write_json(self._remote_path, remote)
        old = self.cfg
        self.remote = remote
        self.cfg = config.with_remote(self.local_cfg, remote)
        self.log.info("config from backend: %s", remote)
        if self.kind == "valve":
            self.app.cap_s = self.cfg["max_run_s"]
        elif old["burst_s"] != self.cfg["burst_s"] or old["burst_hz"] != self.cfg["burst_hz"]:
            self.app = None  # rebuilt with the new burst at the next measurement
            gc.collect()
        if old["interval_s"] != self.cfg["interval_s"]:
            self._next_ms = time.ticks_ms()  # measure now, then at the new interval

    def _on_message(self, topic, payload, retained):
        topic = topic.encode()
        if topic == self.topics["stored"]:
            self._on_stored(payload)
            return
        if topic == self.topics["config"]:
            self._on_config(payload)
            return
        if self.kind != "valve" or topic != self.topics["cmd"]:
            return
        try:
            ack = self.app.on_cmd(payload)
        except (ValueError, KeyError, TypeError) as err:
            self.log.error("command failed: %s", err)
            return
        if ack is not None:
            self.client.publish(self.topics["ack"], ack, qos=1)

    def _lost(self, err):
        self.log.warning("mqtt: connection lost: %s", err)
        self.client.close()
        self._report()

    def net_step(self, wait_ms):
        """One bounded network step: (re)connect when due, else poll and flush."""
        c = self.client
        now = time.ticks_ms()
        if not c.connected:
            if self._retry_at is not None and time.ticks_diff(self._retry_at, now) > 0:
                time.sleep_ms(max(0, min(wait_ms, time.ticks_diff(self._retry_at, now))))
                return
            timeout = int(self.cfg["connect_timeout_s"] * 1000)
            left = self.app.time_left_ms() if self.kind == "valve" else None
            if left is not None:
                timeout = max(100, min(timeout, left))
            if self.connect(timeout):
                self._retry_at = None
                self._backoff_ms = int(self.cfg["reconnect_min_s"] * 1000)
            else:
                self._retry_at = time.ticks_add(time.ticks_ms(), self._backoff_ms)
                self._backoff_ms = min(self._backoff_ms * 2,
                                       int(self.cfg["reconnect_max_s"] * 1000))
                return
        try:
            c.poll(wait_ms)
            self.flush()
        except OSError as err:
            self._lost(err)

    # -- run modes --------------------------------------------------------------------------
    def boot(self):
        if self.kind == "valve":
            self.app.boot()
        self._report()
        self.hal.ready()

    def run(self):
        self.boot()
        if self.kind != "valve" and self.cfg["sleep"]:
            self.wake_cycle()
        else:
            self.loop()

    def wake_cycle(self):
        """Measure, deliver what the outbox holds (bounded by ``awake_max_s``), deep-sleep."""
        self.measure()
        budget_ms = int(self.cfg["awake_max_s"] * 1000)
        if self.connect(min(budget_ms, int(self.cfg["connect_timeout_s"] * 1000))):
            try:
                while not self._idle() and time.ticks_diff(time.ticks_ms(), self._t0) < budget_ms:
                    self.client.poll(_LOOP_MS)
                    self.flush()
            except OSError as err:
                self._lost(err)
        self.sleep(budget_ms)

    def sleep(self, budget_ms):
        """Say ``sleeping`` (retained), disconnect cleanly and deep-sleep until the next
        reading is due."""
        awake_ms = time.ticks_diff(time.ticks_ms(), self._t0)
        wake_ms = self.hal.clock_ms() + max(1000, self._interval_ms() - awake_ms)
        if self.client.connected:
            try:
                pid = self._publish_status("sleeping", wake_ms)
                while (not self.client.acked(pid)
                       and time.ticks_diff(time.ticks_ms(), self._t0) < budget_ms):
                    self.client.poll(_LOOP_MS)
                self.client.disconnect()
            except OSError as err:
                self._lost(err)
        self._report()
        awake_ms = time.ticks_diff(time.ticks_ms(), self._t0)
        sleep_ms = max(1000, self._interval_ms() - awake_ms)
        self.log.info("sleeping %d ms (outbox %d)", sleep_ms, len(self.outbox))
        self.hal.deep_sleep(sleep_ms)

    def loop(self):
        """Run forever: valve safety first, then measuring, then the network.

        A sensor told by the backend to sleep leaves the loop for deep sleep.
        """
        sensor = self.kind != "valve"
        while True:
            self.hal.feed()
            wait = _LOOP_MS
            if sensor:
                if self.cfg["sleep"]:
                    self._t0 = time.ticks_ms()
                    self.sleep(int(self.cfg["awake_max_s"] * 1000))
                if time.ticks_diff(time.ticks_ms(), self._next_ms) >= 0:
                    self.measure()
                    interval_ms = self._interval_ms()
                    self._next_ms = time.ticks_add(self._next_ms, interval_ms)
                    if time.ticks_diff(time.ticks_ms(), self._next_ms) >= 0:
                        self._next_ms = time.ticks_add(time.ticks_ms(), interval_ms)  # behind
                wait = min(wait, max(0, time.ticks_diff(self._next_ms, time.ticks_ms())))
            else:
                self.app.tick()
                left = self.app.time_left_ms()
                if left is not None:
                    wait = min(wait, max(0, left))
            self.net_step(wait)
