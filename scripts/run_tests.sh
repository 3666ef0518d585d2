#!/usr/bin/env bash
# Run the whole test suite in the venv, tier by tier (core, ros, node, graph, build).
# DDS stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) in a domain id private to this run.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${RESIDUAL_RL_ROS_VENV:-$PWD/.venv}
export AMENT_PREFIX_PATH=$VENV
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( ($$ % 90) + 5 ))}
export MUJOCO_GL=${MUJOCO_GL:-egl}
export PYTHONHASHSEED=0
echo "[tests] ROS_DOMAIN_ID=$ROS_DOMAIN_ID, discovery on localhost only"
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "[tests] pytest collected no tests: that is a failure here"
  exit 1
fi
exit $rc
