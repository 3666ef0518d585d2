"""The in-process ResFiT run: warm-up, training episodes with UTD updates, evaluation, checkpoints, resume.

`ResFiTRun` owns a `Task`, a `ChunkExecutor` around the frozen base policy, the `ResidualLearner` and the
demo / online replay buffers. Step rules live in `rollout`; this module only schedules:

1. normalizers are fitted on the demos (actions widened by 1 + action_scale, state std floored) and the
   demo buffer is filled with relabelled demos;
2. `warmup_env_steps` steps act with base + U(-warmup_noise, warmup_noise), no updates;
3. optionally one block of `critic_warmup_updates` critic-only updates, then every env step does the
   recipe's UTD updates (the actor starts once the critic warm-up count is reached);
4. at episode ends: evaluation (deterministic residual, fixed fresh seeds) logged to `metrics.jsonl`,
   progress lines, and resumable checkpoints (learner safetensors + online replay + loop state).

Training episode i resets with seed `seed * 10**6 + i` and all noise comes from seeded generators that
are checkpointed, so a resumed run continues exactly as an uninterrupted one. Episodes always run to
their end, so a run may stop up to one episode past `total_env_steps`.
"""
from __future__ import annotations

import collections
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from residual_rl_ros.core.checkpoint import load_checkpoint, read_run_state, save_checkpoint
from residual_rl_ros.core.chunking import ChunkExecutor, ChunkingConfig
from residual_rl_ros.core.exploration import HeldNoise
from residual_rl_ros.core.learner import ResidualLearner, configure_cpu
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.normalizers import ActionNormalizer, StateNormalizer
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.replay import MixedSampler, ReplayBuffer, make_buffers
from residual_rl_ros.core.serialization import atomic_write
from residual_rl_ros.core.training.config import ResFiTRunConfig
from residual_rl_ros.core.training.rollout import EpisodeResult, demo_transitions, run_episode, zero_residual
from residual_rl_ros.core.types import BasePolicy, Episode, Task, Transition

CHECKPOINT_DIR = 'checkpoint'
METRICS_FILE = 'metrics.jsonl'
Printer = Callable[[str], None]


def fit_normalizers(demos: Sequence[Episode], recipe: ResidualRecipe) -> tuple[StateNormalizer, ActionNormalizer]:
    """State (proprio + task_state) and action normalizers from demo episodes, with the recipe's floors."""
    states = np.concatenate([np.concatenate([ep.proprio, ep.task_state], axis=1) for ep in demos])
    actions = np.concatenate([ep.actions for ep in demos])
    return (StateNormalizer.fit(states, recipe.normalizer.min_state_std),
            ActionNormalizer.fit(actions, recipe.network.action_scale, recipe.normalizer.min_action_range))


class ResFiTRun:
    """One residual fine-tuning run on a simulated task (see the module docstring)."""

    def __init__(self, task: Task, base_policy: BasePolicy, demos: Sequence[Episode], recipe: ResidualRecipe,
                 config: ResFiTRunConfig | None = None, out_dir: str | Path | None = None,
                 chunking: ChunkingConfig | None = None, printer: Printer | None = print,
                 learner: ResidualLearner | None = None) -> None:
        self.task, self.config = task, config or ResFiTRunConfig()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.printer = printer or (lambda line: None)
        configure_cpu(self.config.torch_threads)
        self.executor = ChunkExecutor(base_policy, chunking)
        self.demos = [ep for ep in demos if ep.success or not self.config.demo_successes_only]
        if not self.demos:
            raise ValueError('no usable demo episodes (demo_successes_only drops unsuccessful ones)')
        if learner is None:
            state_norm, action_norm = fit_normalizers(self.demos, recipe)
            image_hw = next((tuple(f.shape[1:3]) for f in self.demos[0].images.values()), (84, 84))
            spec = PolicySpec(state_dim=state_norm.dim, action_dim=action_norm.dim,
                              chunk_length=self.executor.chunk_length, camera_names=tuple(task.camera_names),
                              image_hw=image_hw)
            learner = ResidualLearner(recipe, spec, state_norm, action_norm)
        self.learner = learner
        demo_steps = sum(len(ep.actions) + 1 for ep in self.demos) + 1
        self.buffers, self.sampler = make_buffers(learner.recipe, learner.spec, demo_steps)
        for episode in self.demos:
            for transition in demo_transitions(episode, self.executor, learner.action_normalizer,
                                               task.max_episode_steps):
                self.buffers['demo'].add(transition)
        self.noise_rng = np.random.default_rng([self.config.seed, 1])
        self.held_noise = {kind: HeldNoise(self.config.noise_hold_steps) for kind in ('warmup', 'explore')}
        self.episodes = 0
        self.wall_s = 0.0
        self.history: list[dict] = []
        self.recent_success: collections.deque[bool] = collections.deque(maxlen=50)
        self.last_metrics: dict[str, float] = {}
        self._next_log = self._next_eval = self._next_checkpoint = 0

    # -- properties ------------------------------------------------------------------------------

    @property
    def env_steps(self) -> int:
        return self.learner.counters['env_steps']

    @property
    def in_warmup(self) -> bool:
        return self.env_steps < self.config.warmup_env_steps

    # -- one training episode --------------------------------------------------------------------

    def _residual(self, observation, base, phase) -> np.ndarray:
        dim, rng = self.learner.spec.action_dim, self.noise_rng
        if self.in_warmup:
            bound = self.config.warmup_noise
            return self.held_noise['warmup'].sample(lambda: rng.uniform(-bound, bound, dim))
        if self.config.noise_hold_steps == 1:     # the learner's own per-step Gaussian noise
            return self.learner.act(observation, base, phase, explore=True)
        scale = self.learner.residual_bound
        std = self.learner.recipe.learner.exploration_noise_std * scale
        noise = self.held_noise['explore'].sample(lambda: rng.normal(0.0, std, dim))
        residual = self.learner.act(observation, base, phase, explore=False) + noise
        return np.clip(residual, -scale, scale).astype(np.float32)

    def _store_and_learn(self, transition: Transition) -> None:
        self.buffers['online'].add(transition)
        if self.in_warmup:
            self.learner.counters['env_steps'] += 1
            return
        warmup_updates = self.learner.recipe.learner.critic_warmup_updates
        if self.config.offline_critic_warmup and self.learner.counters['critic_updates'] == 0 and warmup_updates:
            self.critic_warmup_block(warmup_updates)
        self.last_metrics.update(self.learner.update(self.sampler, env_steps=1))

    def critic_warmup_block(self, updates: int) -> None:
        """`updates` critic-only updates on the current buffers (the paper's critic warm-up)."""
        start = time.monotonic()
        batch_size = self.learner.recipe.learner.batch_size
        for _ in range(updates):
            self.last_metrics.update(self.learner.update_critic(self.sampler.sample(batch_size, self.learner.rng)))
        self.printer(f'critic warm-up: {updates} critic-only updates in {time.monotonic() - start:.0f}s, '
                     f'critic_loss {self.last_metrics["critic_loss"]:.4f} q_mean {self.last_metrics["q_mean"]:.3f}')

    def train_episode(self) -> EpisodeResult:
        seed = self.config.seed * 10**6 + self.episodes
        for noise in self.held_noise.values():     # checkpoints fall between episodes: no held state to save
            noise.reset()
        result = run_episode(self.task, self.executor, self.learner.action_normalizer, self._residual, seed,
                             self._store_and_learn)
        self.buffers['online'].end_episode()
        self.episodes += 1
        self.recent_success.append(result.success)
        return result

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, episodes: int | None = None, residual: bool = True) -> dict[str, float]:
        """Success rate over fixed fresh seeds with the deterministic residual (or residual 0)."""
        episodes = episodes or self.config.eval_episodes
        learner, dim = self.learner, self.learner.spec.action_dim
        policy = ((lambda obs, base, phase: learner.act(obs, base, phase, explore=False)) if residual
                  else zero_residual(dim))
        results = [run_episode(self.task, self.executor, learner.action_normalizer, policy,
                               self.config.eval_seed_offset + i) for i in range(episodes)]
        return {'success_rate': float(np.mean([r.success for r in results])), 'eval_episodes': episodes,
                'eval_steps_mean': float(np.mean([r.steps for r in results])),
                'residual_abs_mean': float(np.mean([r.residual_abs_mean for r in results]))}

    def _log_eval(self, start: float) -> dict:
        record = {'env_steps': self.env_steps, **self.evaluate(),
                  'critic_loss': self.last_metrics.get('critic_loss'), 'q_mean': self.last_metrics.get('q_mean'),
                  'actor_loss': self.last_metrics.get('actor_loss'),
                  'updates': self.learner.counters['critic_updates'],
                  'actor_updates': self.learner.counters['actor_updates'], 'episodes': self.episodes,
                  'train_success_rate': float(np.mean(self.recent_success)) if self.recent_success else None,
                  'wall_s': round(self.wall_s + time.monotonic() - start, 1)}
        self.history.append(record)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / METRICS_FILE, 'a') as f:
                f.write(json.dumps(record) + '\n')
        self.printer(f'[eval] env_steps {record["env_steps"]:7d}  success {record["success_rate"]:.1%} '
                     f'({record["eval_episodes"]} ep)  updates {record["updates"]}  wall {record["wall_s"]:.0f}s')
        return record

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> list[dict]:
        """Train until `total_env_steps`; returns the evaluation history (also in metrics.jsonl)."""
        cfg, start = self.config, time.monotonic()
        if cfg.eval_at_start and not self.history:
            self._log_eval(start)
        self._next_eval = self._due(cfg.eval_interval_steps)
        self._next_checkpoint = self._due(cfg.checkpoint_interval_steps)
        self._next_log = self._due(cfg.log_interval_steps)
        while self.env_steps < cfg.total_env_steps:
            self.train_episode()
            if self.env_steps >= self._next_log:
                self._progress(start)
                self._next_log = self._due(cfg.log_interval_steps)
            if cfg.eval_interval_steps and self.env_steps >= self._next_eval:
                self._log_eval(start)
                self._next_eval = self._due(cfg.eval_interval_steps)
            if cfg.checkpoint_interval_steps and self.env_steps >= self._next_checkpoint:
                self._save(start)
                self._next_checkpoint = self._due(cfg.checkpoint_interval_steps)
        if not self.history or self.history[-1]['env_steps'] != self.env_steps:
            self._log_eval(start)
        if self.out_dir is not None:
            self._save(start)
        self.wall_s += time.monotonic() - start
        return self.history

    def _due(self, interval: int) -> int:
        """The next multiple of `interval` above the current env step count."""
        return (self.env_steps // interval + 1) * interval if interval else 2**62

    def _progress(self, start: float) -> None:
        m, c = self.last_metrics, self.learner.counters
        phase = 'warm-up' if self.in_warmup else ('actor' if self.learner.actor_training else 'critic')
        elapsed = self.wall_s + time.monotonic() - start
        train = float(np.mean(self.recent_success)) if self.recent_success else float('nan')
        self.printer(f'step {self.env_steps:7d}  ep {self.episodes:5d}  {phase:7s}  train_success(50) {train:.0%}  '
                     f'critic_loss {m.get("critic_loss", float("nan")):.4f}  q {m.get("q_mean", float("nan")):.3f}  '
                     f'updates {c["critic_updates"]}/{c["actor_updates"]}  {elapsed:.0f}s')

    # -- checkpoints -----------------------------------------------------------------------------

    def _save(self, start: float) -> Path:
        """Learner + online replay + loop state under out_dir/checkpoint (state file written last)."""
        assert self.out_dir is not None
        folder = self.out_dir / CHECKPOINT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        save_checkpoint(folder / 'learner.safetensors', self.learner)
        save_checkpoint(self.out_dir / f'learner_{self.env_steps:08d}.safetensors', self.learner)
        self.buffers['online'].save(folder / 'online.npz')
        state = {'env_steps': self.env_steps, 'episodes': self.episodes, 'history': self.history,
                 'recent_success': list(self.recent_success), 'last_metrics': self.last_metrics,
                 'noise_rng': self.noise_rng.bit_generator.state,
                 'wall_s': self.wall_s + time.monotonic() - start}
        atomic_write(folder / 'loop_state.json', json.dumps(state).encode())
        return folder

    @classmethod
    def resume(cls, out_dir: str | Path, task: Task, base_policy: BasePolicy, demos: Sequence[Episode],
               config: ResFiTRunConfig, chunking: ChunkingConfig | None = None,
               printer: Printer | None = print) -> 'ResFiTRun':
        """Continue a run from out_dir/checkpoint (same demos and base policy as the original run)."""
        folder = Path(out_dir) / CHECKPOINT_DIR
        state = read_run_state(folder, 'loop_state.json')
        learner = load_checkpoint(folder / 'learner.safetensors')
        if learner.counters['env_steps'] != state['env_steps']:
            raise ValueError(f'{folder}: learner env_steps {learner.counters["env_steps"]} != loop state '
                             f'{state["env_steps"]} (interrupted while saving?)')
        run = cls(task, base_policy, demos, learner.recipe, config, out_dir, chunking, printer, learner)
        run.buffers['online'] = ReplayBuffer.load(folder / 'online.npz')
        run.sampler = MixedSampler(run.buffers, run.sampler.fractions)
        run.episodes, run.history, run.wall_s = state['episodes'], state['history'], state['wall_s']
        run.recent_success.extend(state['recent_success'])
        run.last_metrics = state['last_metrics']
        run.noise_rng.bit_generator.state = state['noise_rng']
        # Evaluations logged after the checkpoint by the interrupted process are redone: drop them.
        atomic_write(Path(out_dir) / METRICS_FILE, ''.join(json.dumps(h) + '\n' for h in run.history).encode())
        return run
