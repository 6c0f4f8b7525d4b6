#!/usr/bin/env bash
# Live demo: local Mosquitto + InfluxDB as child processes in ./demo-data, ingest, analytics,
# actions, API and a simulated estate playing a typhoon and a drought. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/greeniot demo "$@"
