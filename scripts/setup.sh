#!/usr/bin/env bash
# Idempotent set-up on Debian 12: system services (not started), a virtualenv with greeniot.
# Usage: scripts/setup.sh   (re-running does only what is missing)
# Python packages are pinned by constraints.txt (refresh it with scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${GREENIOT_VENV:-.venv}

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v influxd >/dev/null 2>&1 || need_apt+=(influxdb)
# PostgreSQL: the registry suite runs on it too (tests start their own server).
command -v postgres >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 ||
  need_apt+=(postgresql)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# Browser tests (tests/crew): headless Chromium driven by selenium through chromium-driver, and
# a CJK font so that screenshots of the Chinese pages show text rather than boxes.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_apt+=(fonts-wqy-zenhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian's packages enable system-wide services; greeniot runs its own instances instead.
  for svc in mosquitto influxdb postgresql; do
    (command -v systemctl >/dev/null && $SUDO systemctl disable --now "$svc" >/dev/null 2>&1) || true
  done
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.greeniot-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing greeniot and its dependencies into $VENV"
  log="$VENV/setup-pip.log"
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip &&
         "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: pip install failed (log above, kept in $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
echo "setup: ok ($("$VENV/bin/python" --version), mosquitto $(/usr/sbin/mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), $(influxd version 2>/dev/null | awk '{print $2}'))"
