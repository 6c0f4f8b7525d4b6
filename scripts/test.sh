#!/usr/bin/env bash
# Runs the whole test suite. Tests start their own Mosquitto and InfluxDB on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
