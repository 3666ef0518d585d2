"""Parameters of every node, as dataclasses: the one source for ROS parameter declarations and YAML.

Units are in the names (`_hz`, `_s`). Each class documents one node; config/*.yaml files are keyed by
node name and hold `ros__parameters` for these fields only (unknown keys are rejected).
"""
from __future__ import annotations

import dataclasses

from residual_rl_ros.core.config_fields import param


@dataclasses.dataclass
class RewardButtonParams:
    """reward_button: the operator's success / failure / abort / start inputs as services and events."""

    source: str = param('operator', 'Source stamped on the events this node emits',
                        choices=('operator', 'auto', 'sim'))
    first_episode_id: int = param(1, 'Id given to the first episode of this run', low=1, high=2**31 - 1)
    status_period_s: float = param(1.0, 'Period of the episode-state log line (0 disables it)',
                                   low=0.0, high=3600.0)
