"""Tiny factories for the ResFiT core tests: a small spec and recipe, random observations, episodes."""
from __future__ import annotations

import numpy as np

from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.recipe import LearnerRecipe, NetworkRecipe, ResidualRecipe
from residual_rl_ros.core.replay import MixedSampler, ReplayBuffer
from residual_rl_ros.core.types import Observation, Transition

PROPRIO_DIM, TASK_DIM = 3, 2
SPEC = PolicySpec(state_dim=PROPRIO_DIM + TASK_DIM, action_dim=3, chunk_length=4, camera_names=('front',),
                  image_hw=(16, 16))


def small_recipe(seed: int = 0, **learner: object) -> ResidualRecipe:
    """A recipe with tiny networks so that an update takes milliseconds."""
    defaults = {'batch_size': 8, 'critic_warmup_updates': 2, 'critic_updates_per_env_step': 2,
                'actor_update_interval': 2, 'actor_lr': 1e-3}
    defaults.update(learner)
    network = NetworkRecipe(actor_hidden_sizes=[16, 16], critic_hidden_sizes=[16, 16], num_critic_heads=4,
                            encoder_channels=4, encoder_layers=2, encoder_feature_dim=8, random_shift_pad_px=2)
    return ResidualRecipe(network=network, learner=LearnerRecipe(**defaults), seed=seed)


def observation(rng: np.random.Generator, spec: PolicySpec = SPEC) -> Observation:
    return Observation(proprio=rng.normal(size=PROPRIO_DIM).astype(np.float32),
                       task_state=rng.normal(size=spec.state_dim - PROPRIO_DIM).astype(np.float32),
                       images={c: rng.integers(0, 256, (*spec.image_hw, 3), dtype=np.uint8)
                               for c in spec.camera_names})


def episode(rng: np.random.Generator, length: int, rewards: list[float] | None = None, terminated: bool = True,
            truncated: bool = False, spec: PolicySpec = SPEC) -> list[Transition]:
    """`length` chained transitions; the last one carries the given end flags."""
    rewards = rewards if rewards is not None else list(rng.normal(size=length))
    obs = [observation(rng, spec) for _ in range(length + 1)]
    base = rng.uniform(-1, 1, (length + 1, spec.action_dim)).astype(np.float32)
    steps = []
    for t in range(length):
        last = t == length - 1
        steps.append(Transition(
            observation=obs[t], base_action=base[t], chunk_phase=t % spec.chunk_length,
            action=rng.uniform(-1, 1, spec.action_dim).astype(np.float32), reward=float(rewards[t]),
            next_observation=obs[t + 1], next_base_action=base[t + 1],
            next_chunk_phase=(t + 1) % spec.chunk_length, terminated=last and terminated,
            truncated=last and truncated))
    return steps


def filled_sampler(seed: int = 0, episodes: int = 4, length: int = 6) -> MixedSampler:
    """Demo and online buffers with a few random episodes each, mixed 50/50."""
    rng = np.random.default_rng(seed)
    buffers = {}
    for name in ('demo', 'online'):
        buffers[name] = ReplayBuffer(SPEC, 64, n_step=3, gamma=0.99)
        for i in range(episodes):
            for t in episode(rng, length, terminated=i % 2 == 0, truncated=i % 2 == 1):
                buffers[name].add(t)
    return MixedSampler(buffers, {'demo': 0.5, 'online': 0.5})
