"""Training from a live stream of transitions (the trainer node's core), with the in-process run's rules.

The graph delivers transitions whenever the robot acts; this class stores them, owes the recipe's UTD
updates for every stored env step after the warm-up, and pays them in bounded time slices so the node
stays responsive. Checkpoints (learner, online replay, counters) make a restart lose nothing already
stored; `actor_latest.safetensors` is what the residual node or a deploy run loads. Transitions rebuilt
from action records carry their (episode_id, tick, stamp); the stored keys are checkpointed, so replaying the
recorded bags after a restart adds exactly the transitions stored since the checkpoint (bags/replay.py).
"""
from __future__ import annotations

import collections
import io
import json
import time
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np

from residual_rl_ros.core.actor_export import ActorWeights, actor_weights, save_actor_weights
from residual_rl_ros.core.checkpoint import load_checkpoint, read_run_state, save_checkpoint
from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.learner import ResidualLearner
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.replay import MixedSampler, ReplayBuffer, make_buffers
from residual_rl_ros.core.serialization import atomic_write
from residual_rl_ros.core.training.loop import fit_normalizers
from residual_rl_ros.core.training.rollout import demo_transitions
from residual_rl_ros.core.types import BasePolicy, Episode, Transition

CHECKPOINT_DIR = 'checkpoint'
STATE_WARMUP, STATE_CRITIC_WARMUP, STATE_TRAINING, STATE_PAUSED = 'warmup', 'critic_warmup', 'training', 'paused'


class LiveTrainer:
    """Owns the learner and buffers of a live run; see the module docstring."""

    def __init__(self, run_dir: str | Path, learner: ResidualLearner, demos: Sequence[Episode],
                 base_policy: BasePolicy, max_episode_steps: int, warmup_env_steps: int,
                 max_backlog_env_steps: int = 2000) -> None:
        self.run_dir = Path(run_dir)
        self.learner = learner
        self.warmup_env_steps = warmup_env_steps
        self.max_backlog = max_backlog_env_steps
        executor = ChunkExecutor(base_policy)
        demo_steps = sum(len(ep.actions) + 1 for ep in demos) + 1
        self.buffers, self.sampler = make_buffers(learner.recipe, learner.spec, demo_steps)
        for episode in demos:
            for transition in demo_transitions(episode, executor, learner.action_normalizer, max_episode_steps):
                self.buffers['demo'].add(transition)
            self.buffers['demo'].end_episode()
        self.owed_env_steps = 0
        self.skipped_env_steps = 0
        self.stored = 0
        self.stored_keys: set[tuple[int, int, int]] = set()   # sources of stored transitions
        self.episodes: list[dict] = []
        self.recent = collections.deque(maxlen=20)          # training episodes' outcomes
        self.eval_recent = collections.deque(maxlen=10)     # evaluation episodes' outcomes
        self.metrics: dict[str, float] = {}
        self.paused = False     # operator pause: transitions are still stored, no update is made
        self._episode_log: TextIO | None = None

    @classmethod
    def create(cls, run_dir: str | Path, demos: Sequence[Episode], base_policy: BasePolicy, recipe: ResidualRecipe,
               camera_names: Sequence[str], max_episode_steps: int, warmup_env_steps: int,
               max_backlog_env_steps: int = 2000) -> 'LiveTrainer':
        """A fresh run, or the checkpointed one in run_dir/checkpoint when there is one."""
        folder = Path(run_dir) / CHECKPOINT_DIR
        if (folder / 'learner.safetensors').exists():
            return cls.resume(run_dir, demos, base_policy, max_episode_steps, warmup_env_steps, max_backlog_env_steps)
        usable = [ep for ep in demos if ep.success] or list(demos)
        state_norm, action_norm = fit_normalizers(usable, recipe)
        image_hw = next((tuple(f.shape[1:3]) for f in usable[0].images.values()), (84, 84))
        spec = PolicySpec(state_dim=state_norm.dim, action_dim=action_norm.dim,
                          chunk_length=int(base_policy.chunk_length), camera_names=tuple(camera_names),
                          image_hw=image_hw)
        learner = ResidualLearner(recipe, spec, state_norm, action_norm)
        return cls(run_dir, learner, usable, base_policy, max_episode_steps, warmup_env_steps, max_backlog_env_steps)

    @property
    def env_steps(self) -> int:
        return self.stored

    @property
    def state(self) -> str:
        if self.paused:
            return STATE_PAUSED
        if self.stored < self.warmup_env_steps:
            return STATE_WARMUP
        return STATE_TRAINING if self.learner.actor_training else STATE_CRITIC_WARMUP

    def add(self, transition: Transition) -> bool:
        """Store one executed step (operator interventions in their own buffer, mixed into batches at
        replay.intervention_fraction); after the warm-up it owes the recipe's updates (not while paused or
        before the buffers can be sampled, so nothing waiting on the debt can stall). Returns False (and
        stores nothing) when a transition with the same source (episode_id, tick, stamp) is stored already."""
        if not self._claim(transition):
            return False
        self.buffers['intervention' if transition.intervention else 'online'].add(transition)
        self._count_stored()
        return True

    def add_many(self, transitions: Sequence[Transition]) -> list[Transition]:
        """`add` for a batch (e.g. one episode's steps from a bag), written to the buffers in one vectorized
        call each; returns the transitions stored (those whose source was not stored yet)."""
        fresh = [t for t in transitions if self._claim(t)]
        for name, intervention in (('online', False), ('intervention', True)):
            part = [t for t in fresh if t.intervention == intervention]
            if part:
                self.buffers[name].add_many(part)
        for _ in fresh:
            self._count_stored()
        return fresh

    def _claim(self, transition: Transition) -> bool:
        """Record the transition's source; False when it is stored already."""
        if transition.source is not None:
            if transition.source in self.stored_keys:
                return False
            self.stored_keys.add(transition.source)
        return True

    def _count_stored(self) -> None:
        """One more stored env step: after the warm-up, one more step's updates are owed."""
        self.stored += 1
        if self.stored > self.warmup_env_steps and not self.paused and self.sampler_ready():
            if self.owed_env_steps >= self.max_backlog:
                self.skipped_env_steps += 1      # learning cannot keep up: these steps' updates are not paid
            self.owed_env_steps = min(self.owed_env_steps + 1, self.max_backlog)
        else:
            self.learner.counters['env_steps'] += 1

    def end_episode(self, episode_id: int, success: bool | None, evaluation: bool = False) -> None:
        """Close the episode in the buffers and log it; an evaluation episode's outcome (deterministic
        residual) counts in `eval_success_rate`, a training episode's in `success_rate`."""
        self.buffers['online'].end_episode()
        self.buffers['intervention'].end_episode()
        if success is not None:
            (self.eval_recent if evaluation else self.recent).append(bool(success))
        self.episodes.append({'episode_id': episode_id, 'success': success, 'env_steps': self.stored,
                              'policy_version': int(self.learner.counters['policy_version']),
                              'evaluation': bool(evaluation), 'wall_time': time.time()})
        if self._episode_log is None:
            self._episode_log = open(self.run_dir / 'episodes.jsonl', 'a')     # kept open: one line per episode
        self._episode_log.write(json.dumps(self.episodes[-1]) + '\n')
        self._episode_log.flush()

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.recent)) if self.recent else float('nan')

    @property
    def eval_success_rate(self) -> float:
        return float(np.mean(self.eval_recent)) if self.eval_recent else float('nan')

    def train_for(self, budget_s: float) -> int:
        """Pay owed updates for at most `budget_s` seconds; returns env steps' worth of updates done."""
        done, deadline = 0, time.monotonic() + budget_s
        if self.paused:
            return 0
        while self.owed_env_steps > 0 and time.monotonic() < deadline and self.sampler_ready():
            self.metrics.update(self.learner.update(self.sampler, env_steps=1))
            self.owed_env_steps -= 1
            done += 1
        return done

    def sampler_ready(self) -> bool:
        """Demo and online data present; interventions join the mix once there are some."""
        return all(self.buffers[name].can_sample() for name, share in self.sampler.fractions.items()
                   if share > 0 and name != 'intervention')

    def weights(self) -> ActorWeights:
        return actor_weights(self.learner)

    def checkpoint(self) -> Path:
        """Learner, online replay and counters under run_dir/checkpoint (state file written last)."""
        folder = self.run_dir / CHECKPOINT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        save_checkpoint(folder / 'learner.safetensors', self.learner)
        self.buffers['online'].save(folder / 'online.npz')
        save_actor_weights(self.run_dir / 'actor_latest.safetensors', self.weights())
        keys = io.BytesIO()
        np.save(keys, np.array(sorted(self.stored_keys), np.int64).reshape(-1, 3))
        atomic_write(folder / 'stored_keys.npy', keys.getvalue())     # a kill mid-write leaves the old file
        state = {'stored': self.stored, 'owed_env_steps': self.owed_env_steps,
                 'recent': list(self.recent), 'eval_recent': list(self.eval_recent),
                 'env_steps': int(self.learner.counters['env_steps'])}
        atomic_write(folder / 'live_state.json', json.dumps(state).encode())
        return folder

    @classmethod
    def resume(cls, run_dir: str | Path, demos: Sequence[Episode], base_policy: BasePolicy,
               max_episode_steps: int, warmup_env_steps: int, max_backlog_env_steps: int = 2000) -> 'LiveTrainer':
        folder = Path(run_dir) / CHECKPOINT_DIR
        state = read_run_state(folder, 'live_state.json')
        learner = load_checkpoint(folder / 'learner.safetensors')
        usable = [ep for ep in demos if ep.success] or list(demos)
        trainer = cls(run_dir, learner, usable, base_policy, max_episode_steps, warmup_env_steps, max_backlog_env_steps)
        trainer.buffers['online'] = ReplayBuffer.load(folder / 'online.npz')
        trainer.sampler = MixedSampler(trainer.buffers, trainer.sampler.fractions)
        trainer.stored, trainer.owed_env_steps = state['stored'], state['owed_env_steps']
        trainer.recent.extend(state['recent'])
        trainer.eval_recent.extend(state.get('eval_recent', []))
        if (folder / 'stored_keys.npy').exists():
            trainer.stored_keys = {tuple(map(int, key)) for key in np.load(folder / 'stored_keys.npy')}
        return trainer
