"""``python -m greeniot.simulators``: play a scenario against a broker, print the ground truth."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys

from greeniot.simulators.engine import SimOptions
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import Progress, run_sync
from greeniot.simulators.scenarios import SCENARIOS, get_scenario

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``48h``, ``2d`` → seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 48h, 2d)")
    return float(m.group(1)) * _UNITS_S[m.group(2) or "s"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m greeniot.simulators", description=__doc__)
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="typhoon")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--span", type=duration_s, help="simulated span (default: the scenario's)")
    p.add_argument("--speed", type=float, default=None,
                   help="simulated seconds per wall second (default: as fast as acked)")
    p.add_argument("--wall", type=duration_s,
                   help="wall time for the run; sets --speed = span / wall")
    p.add_argument("--step", type=duration_s, default=60.0, help="simulation step (default 60s)")
    p.add_argument("--sites", type=int, default=1)
    p.add_argument("--trees", type=int, default=20, help="trees per site")
    p.add_argument("--zones", type=int, default=4, help="irrigation zones per site")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--site-id", action="append", dest="site_ids",
                   help="site id (repeat once per site)")
    p.add_argument("--external-valve", action="append", default=[], metavar="DEVICE",
                   help="valve device served by a real node (repeatable)")
    p.add_argument("--uncapped-external", action="store_true",
                   help="water an external valve's zone for as long as it reports open "
                        "(default: at most the zone's max_run_s simulated seconds per opening)")
    p.add_argument("--no-burst", action="store_true", help="no sway bursts in tilt readings")
    p.add_argument("--print-fleet", action="store_true",
                   help="print the fleet's registry records as JSON and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fleet = Fleet.generate(args.sites, args.trees, args.zones, args.seed, site_ids=args.site_ids)
    if args.print_fleet:
        json.dump(fleet.registry(), sys.stdout, indent=1)
        print()
        return 0
    span = args.span or get_scenario(args.scenario).default_span_s
    speed = span / args.wall if args.wall else args.speed

    def progress(p: Progress) -> None:
        print(f"\r{args.scenario}: {100 * p.fraction:5.1f} %  {p.published} sent, "
              f"{p.acked} acked", end="", file=sys.stderr, flush=True)

    result = run_sync(args.scenario, fleet, host=args.host, port=args.port, span_s=span,
                      speed=speed, step_s=args.step, on_progress=progress,
                      options=SimOptions(burst=not args.no_burst),
                      external_valves=args.external_valve,
                      cap_external_runs=not args.uncapped_external, username=args.username,
                      password=args.password)
    print(file=sys.stderr)
    json.dump({"published": result.published, "wall_s": round(result.wall_s, 2),
               "truth": result.truth.as_dict()}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
