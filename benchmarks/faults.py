"""The fault suite at 1M readings per fault (twin of tests/ingest/test_fault_suite.py).

    .venv/bin/python benchmarks/faults.py                      # all faults, 1M readings each
    .venv/bin/python benchmarks/faults.py --readings 200000 --faults broker_kill worker_kill

Each fault runs on its own Mosquitto, InfluxDB and ``greeniot ingest`` processes in a temp
folder: ingest kill -9 x3, broker kill -9 (no SIGUSR1 checkpoint), broker restart, InfluxDB
down for --outage-s (60 s), one of two shared-subscription workers kill -9. Prints lost and
duplicated points counted by (device, seq) in InfluxDB; exits 1 if any is non-zero. With
--control it first runs the broker kill with a sender that trusts the broker's PUBACK.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.faultkit import FAULTS, Rig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=1_000_000)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--faults", nargs="*", default=list(FAULTS), choices=FAULTS)
    ap.add_argument("--outage-s", type=float, default=60.0)
    ap.add_argument("--resend-s", type=float, default=10.0)
    ap.add_argument("--control", action="store_true")
    args = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="greeniot-faults-") as tmp:
        if args.control:
            with Rig(Path(tmp) / "control", fault="broker_kill", resend_s=None) as rig:
                r = rig.run(args.readings, devices=args.devices, timeout_s=1800, progress=print)
            print("control (trusts PUBACK, no resend):", r.line(), flush=True)
        for fault in args.faults:
            with Rig(Path(tmp) / fault, fault=fault, outage_s=args.outage_s,
                     resend_s=args.resend_s) as rig:
                r = rig.run(args.readings, devices=args.devices, timeout_s=1800, progress=print)
            print(r.line(), flush=True)
            bad += r.lost != 0 or r.duplicated != 0
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
