# The two commands of the README. Both set up (or update) the venv first; see scripts/setup_venv.sh.
VENV ?= .venv
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export MUJOCO_GL ?= egl

.PHONY: setup train test
setup:
	@bash scripts/setup_venv.sh

train: setup
	@$(VENV)/bin/python -m residual_rl_ros.apps.humanoid_train $(ARGS)

test: setup
	@bash scripts/run_tests.sh $(ARGS)
