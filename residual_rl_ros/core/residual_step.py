"""One control tick of the residual policy: base action in, executed action out (before safety).

Modes: `deterministic` (evaluation), `explore` (Gaussian noise of `explore_std_fraction * action_scale`,
clipped to the residual bound) and `warmup` (the base action plus U(-warmup_noise, warmup_noise), the
recipe's data-collection warm-up). Before any weights arrive the residual is zero: the robot runs the
base policy, clamped to the normalizer's range when one is known.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from residual_rl_ros.core.actor_export import LoadedActor
from residual_rl_ros.core.types import Observation

MODES = ('deterministic', 'explore', 'warmup')


@dataclasses.dataclass(frozen=True)
class ResidualDecision:
    residual: np.ndarray        # robot units: executed - base
    executed: np.ndarray        # robot units, before the safety stage
    policy_version: int
    exploration: bool


def decide(actor: LoadedActor | None, observation: Observation, base_action: np.ndarray, phase: int,
           mode: str, rng: np.random.Generator, explore_std_fraction: float = 0.5,
           warmup_noise: float = 0.2) -> ResidualDecision:
    """The executed action for one tick; never raises on a finite base action."""
    base_action = np.asarray(base_action, np.float64)
    if actor is None:
        return ResidualDecision(np.zeros_like(base_action), base_action.copy(), 0, False)
    normalizer = actor.action_normalizer
    base_norm = normalizer.normalize(base_action)
    scale = actor.policy.actor.bound_values
    if mode == 'warmup':
        residual = rng.uniform(-warmup_noise, warmup_noise, size=base_norm.shape)
    else:
        residual = np.asarray(actor.residual(observation, base_norm.astype(np.float32), phase), np.float64)
        if mode == 'explore':
            noise = rng.normal(0.0, explore_std_fraction * scale, size=residual.shape)
            residual = np.clip(residual + noise, -scale, scale)
    executed_norm = np.clip(base_norm + residual, -1.0, 1.0)
    executed = normalizer.denormalize(executed_norm)
    return ResidualDecision(executed - base_action, executed, actor.version, mode != 'deterministic')
