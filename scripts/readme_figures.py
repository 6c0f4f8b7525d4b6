#!/usr/bin/env python3
"""Regenerate the README's measured figures from real runs (never type them by hand).

    .venv/bin/python scripts/readme_figures.py demo     # runs `greeniot demo`, ~2 min
    .venv/bin/python scripts/readme_figures.py tests    # runs the whole suite, a few min
    .venv/bin/python scripts/readme_figures.py all

Each section of README.md between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` is
replaced by what the run printed, with the command and the date of the run.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
DEMO_ARGS = ["demo", "--duration", "1", "--scenario-s", "30", "--api-port", "0"]
#: Demo lines worth showing: one of each kind, then the ground truth and the summary.
SHOW = (r"TASK #\d+ remove ", r"TASK #\d+ stabilize ", r"VALVE cmd .* open ", r"VALVE ack ",
        r"ground truth ", r"summary: ", r"open tasks \(")


def replace_section(text: str, name: str, body: str, *, inline: bool = False) -> str:
    start, end = f"<!-- figures:{name} -->", f"<!-- /figures:{name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {start} ... {end} section")
    sep = "" if inline else "\n"  # inline: inside a table cell, which must stay one line
    return pattern.sub(lambda _m: f"{start}{sep}{body.strip()}{sep}{end}", text)


def demo_section() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(BIN / "greeniot"), *DEMO_ARGS, "--data-dir", tmp]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    lines = [ln.split("  ", 1)[1] if "  " in ln else ln for ln in out.splitlines()]
    picked: list[str] = []
    for pat in SHOW:
        hits = [ln for ln in lines if re.match(pat, ln)]
        keep = hits if pat.startswith("ground") else hits[:1]
        picked += [h for h in keep if h not in picked]
    return (f"A run prints lines like these (`greeniot {' '.join(DEMO_ARGS)}`, "
            f"{time.strftime('%Y-%m-%d')}, by `scripts/readme_figures.py demo`):\n\n```\n"
            + "\n".join(picked) + "\n```")


def tests_section() -> str:
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)
    wall_min = (time.monotonic() - t0) / 60
    log = ROOT / ".pytest-figures.log"  # the whole output, to see what failed
    log.write_text(proc.stdout + proc.stderr)
    tail = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    if not tail:
        raise SystemExit("pytest printed no result line:\n" + proc.stdout[-2000:])
    counts = re.sub(r"=+", "", tail[-1]).strip()
    counts = re.sub(r" in [\d.]+s.*$", "", counts)
    return f"{counts} in {wall_min:.1f} min ({time.strftime('%Y-%m-%d')}, readme_figures.py)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("demo", "tests", "all"))
    args = ap.parse_args()
    text = README.read_text()
    if args.what in ("demo", "all"):
        text = replace_section(text, "demo", demo_section())
        README.write_text(text)
    if args.what in ("tests", "all"):
        text = replace_section(text, "tests", tests_section(), inline=True)
        README.write_text(text)
    print(f"README.md updated ({args.what})")


if __name__ == "__main__":
    main()
