"""TD3-style residual learner (ResFiT): critic-ensemble updates, delayed actor updates, acting.

The critic scores the *executed* action clamp(base + residual, -1, 1) next to the base action; the
target is the n-step return plus the discounted min of `num_target_heads` random heads of the target
critic at a smoothed target-actor action. The actor maximises the mean Q over all heads on detached
encoder features. Every random draw comes from the learner's own torch / numpy generators, so a run
is reproducible from its seed and resumable from a checkpoint.
"""
from __future__ import annotations

import copy
import ctypes
from typing import Protocol, TypeVar

import numpy as np
import torch
from torch import nn

from residual_rl_ros.core.networks import CriticEnsemble, PolicySpec, ResidualPolicy
from residual_rl_ros.core.normalizers import ActionNormalizer, StateNormalizer, identity_normalizers
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.replay import Batch, observation_state
from residual_rl_ros.core.types import Observation

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3       # glibc mallopt parameters
ArrayT = TypeVar('ArrayT', np.ndarray, torch.Tensor)
COUNTERS = ('env_steps', 'critic_updates', 'actor_updates', 'policy_version')


def compose_action(base_action: ArrayT, residual: ArrayT) -> ArrayT:
    """Executed normalized action: clamp(base + residual, -1, 1) (numpy or torch)."""
    if isinstance(base_action, torch.Tensor):
        return torch.clamp(base_action + residual, -1.0, 1.0)
    return np.clip(np.asarray(base_action) + np.asarray(residual), -1.0, 1.0)


def configure_cpu(threads: int = 1, heap_keep_mb: int = 256) -> None:
    """Process settings for a CPU learner (call once, at start-up, in the learning process).

    `threads` torch threads (0 leaves torch's default): one thread per learner process is fastest per
    CPU-second on a shared 2-core box (the default two threads spin on each other and the other core's
    work). `heap_keep_mb`: glibc malloc serves blocks up to this size from its heap and keeps freed
    memory there, so the per-update activations and gradients (tens of MB at the paper's sizes) are not
    mapped, page-faulted and unmapped again on every update (~12% of a paper-size update); larger
    blocks (replay buffers) are still mapped lazily. No-op where glibc is absent.
    """
    if threads:
        torch.set_num_threads(threads)
    if heap_keep_mb <= 0:
        return
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    limit = int(heap_keep_mb) << 20
    libc.mallopt(_M_MMAP_THRESHOLD, limit)
    libc.mallopt(_M_TRIM_THRESHOLD, limit)


class Sampler(Protocol):
    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch: ...


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * source, for every parameter (one foreach call)."""
    targets, sources = list(target.parameters()), list(source.parameters())
    if targets:                                 # an encoder without cameras has no parameters
        with torch.no_grad():
            torch._foreach_lerp_(targets, sources, tau)


def _adamw(params: list[nn.Parameter], lr: float, weight_decay: float, fused: bool = True) -> torch.optim.AdamW:
    """AdamW with the fused kernel where torch has one for these tensors (one pass over each parameter:
    ~12x less CPU time per step than the default per-tensor loop at the paper's sizes); `fused` False
    (or no fused kernel) gives the per-tensor loop."""
    if fused:
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except RuntimeError:
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


class ResidualLearner:
    """Owns the policy (encoder + residual actor), the critic ensemble, their targets and optimizers."""

    def __init__(self, recipe: ResidualRecipe, spec: PolicySpec, state_normalizer: StateNormalizer | None = None,
                 action_normalizer: ActionNormalizer | None = None) -> None:
        self.recipe, self.spec = recipe, spec
        default_state, default_action = identity_normalizers(spec.state_dim, spec.action_dim)
        self.state_normalizer = state_normalizer or default_state
        self.action_normalizer = action_normalizer or default_action
        if self.state_normalizer.dim != spec.state_dim or self.action_normalizer.dim != spec.action_dim:
            raise ValueError(f'normalizer dims ({self.state_normalizer.dim}, {self.action_normalizer.dim}) do '
                             f'not match spec state_dim={spec.state_dim}, action_dim={spec.action_dim}')
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.seed)
            self.policy = ResidualPolicy(spec, recipe.network)
            self.critic = CriticEnsemble(spec, recipe.network, self.policy.encoder.out_dim)
        self.target_policy = copy.deepcopy(self.policy).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        lr = recipe.learner
        critic_params = list(self.policy.encoder.parameters()) + list(self.critic.parameters())
        self.critic_optim = _adamw(critic_params, lr.critic_lr, lr.weight_decay, lr.fused_optimizer)
        self.actor_optim = _adamw(list(self.policy.actor.parameters()), lr.actor_lr, lr.weight_decay,
                                  lr.fused_optimizer)
        self._optim_params = {id(o): [p for g in o.param_groups for p in g['params']]
                              for o in (self.critic_optim, self.actor_optim)}
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.rng = np.random.default_rng(recipe.seed)
        self.counters = dict.fromkeys(COUNTERS, 0)
        # noise levels as fractions of the per-dimension bound, once (multiplied in float64, as a scalar scale was)
        self._explore_std, self._target_std, self._target_clip = (
            torch.as_tensor(fraction * self.residual_bound, dtype=torch.float32)
            for fraction in (lr.exploration_noise_std, lr.target_noise_std, lr.target_noise_clip))

    @property
    def residual_bound(self) -> np.ndarray:
        """(A,) float64 bound of the residual per action dimension, normalized units."""
        return self.policy.actor.bound_values

    @property
    def actor_training(self) -> bool:
        """False during the critic-only warm-up."""
        return self.counters['critic_updates'] >= self.recipe.learner.critic_warmup_updates

    # -- acting ----------------------------------------------------------------------------------

    def normalize_state(self, state: np.ndarray) -> torch.Tensor:
        """Raw (B, S) states -> standardized float32 tensor (one code path for acting and learning)."""
        return torch.as_tensor(self.state_normalizer.normalize(state), dtype=torch.float32)

    @torch.no_grad()
    def act(self, observation: Observation, base_action: np.ndarray, phase: int, explore: bool) -> np.ndarray:
        """Residual (A,) in normalized units for one observation; Gaussian noise when `explore`."""
        images = {c: torch.as_tensor(np.asarray(observation.images[c], np.uint8))[None]
                  for c in self.spec.camera_names}
        state = self.normalize_state(observation_state(observation)[None])
        base = torch.as_tensor(np.asarray(base_action, np.float32))[None]
        residual = self.policy(images, state, base, torch.tensor([int(phase)]))
        if explore:
            bound = self.policy.actor.bound
            noise = torch.randn(residual.shape, generator=self.generator) * self._explore_std
            residual = (residual + noise).clamp(-bound, bound)
        return residual[0].numpy().astype(np.float32)

    # -- learning --------------------------------------------------------------------------------

    def _tensors(self, batch: Batch, prefix: str = '') -> tuple:
        images = getattr(batch, f'{prefix}images')
        return ({c: torch.as_tensor(images[c]) for c in self.spec.camera_names},
                self.normalize_state(getattr(batch, f'{prefix}state')),
                torch.as_tensor(getattr(batch, f'{prefix}base_action'), dtype=torch.float32),
                torch.as_tensor(getattr(batch, f'{prefix}phase'), dtype=torch.int64))

    def _target_value(self, batch: Batch) -> torch.Tensor:
        images, state, base, phase = self._tensors(batch, 'next_')
        scale = self.policy.actor.bound
        with torch.no_grad():
            features = self.target_policy.encoder(images, augment=True, generator=self.generator)
            residual = self.target_policy.actor(features, state, base, phase)
            noise = torch.randn(residual.shape, generator=self.generator) * self._target_std
            clip = self._target_clip
            residual = (residual + noise.clamp(-clip, clip)).clamp(-scale, scale)
            q_next = self.target_critic.target_value(features, state, phase, base, compose_action(base, residual),
                                                     self.generator)
            reward = torch.as_tensor(batch.reward, dtype=torch.float32)
            discount = torch.as_tensor(batch.discount, dtype=torch.float32)
            return reward + discount * q_next

    def update_critic(self, batch: Batch, metrics: bool = True) -> dict[str, float]:
        """One critic + encoder step on the n-step ensemble target; soft-updates the target critic.

        Returns loss and Q statistics, or {} when `metrics` is False (saves a few syncs and reductions).
        """
        target = self._target_value(batch)
        images, state, base, phase = self._tensors(batch)
        action = torch.as_tensor(batch.action, dtype=torch.float32)
        features = self.policy.encoder(images, augment=True, generator=self.generator)
        q_all = self.critic(features, state, phase, base, action)
        loss = (q_all - target.unsqueeze(0)).pow(2).mean()
        grad_norm = self._step(self.critic_optim, loss)
        soft_update(self.target_critic, self.critic, self.recipe.learner.target_tau)
        soft_update(self.target_policy.encoder, self.policy.encoder, self.recipe.learner.target_tau)
        self.counters['critic_updates'] += 1
        if not metrics:
            return {}
        q_all = q_all.detach()
        return {'critic_loss': loss.item(), 'q_mean': q_all.mean().item(), 'q_std': q_all.std(0).mean().item(),
                'target_mean': target.mean().item(), 'critic_grad_norm': grad_norm}

    def update_actor(self, batch: Batch, metrics: bool = True) -> dict[str, float]:
        """One actor step maximising the mean Q over heads; bumps `policy_version` ({} unless `metrics`)."""
        images, state, base, phase = self._tensors(batch)
        with torch.no_grad():
            features = self.policy.encoder(images, augment=True, generator=self.generator)
        residual = self.policy.actor(features, state, base, phase)
        self.critic.requires_grad_(False)
        try:
            q_all = self.critic(features, state, phase, base, compose_action(base, residual))
        finally:
            self.critic.requires_grad_(True)
        loss = self._actor_loss(q_all, residual)
        grad_norm = self._step(self.actor_optim, loss)
        soft_update(self.target_policy.actor, self.policy.actor, self.recipe.learner.target_tau)
        self.counters['actor_updates'] += 1
        self.counters['policy_version'] += 1
        if not metrics:
            return {}
        return {'actor_loss': loss.item(), 'residual_abs_mean': residual.detach().abs().mean().item(),
                'actor_grad_norm': grad_norm}

    def _actor_loss(self, q_all: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """-mean Q; with `residual_penalty` w > 0, -Q / mean|Q| + w * mean((residual / scale)^2): Adam moves
        the actor at its learning rate whatever the size of dQ/da, so on a nearly flat critic the plain loss
        lets the residual drift to its bound; the penalty keeps it near zero unless Q consistently pays."""
        weight = self.recipe.learner.residual_penalty
        if weight <= 0:
            return -q_all.mean()
        q_scale = q_all.detach().abs().mean().clamp_min(1e-6)
        return -q_all.mean() / q_scale + weight * (residual / self.policy.actor.bound).pow(2).mean()

    def _step(self, optim: torch.optim.Optimizer, loss: torch.Tensor) -> float:
        optim.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.recipe.learner.grad_clip_norm
        norm = torch.nn.utils.clip_grad_norm_(self._optim_params[id(optim)], clip if clip > 0 else float('inf'))
        optim.step()
        return float(norm)

    def update(self, sampler: Sampler, env_steps: int = 1) -> dict[str, float]:
        """The updates owed for `env_steps` new environment steps (UTD critic, delayed actor).

        Returns the metrics of the last critic and actor updates (actor metrics only once it trains).
        """
        lr = self.recipe.learner
        metrics: dict[str, float] = {}
        count = env_steps * lr.critic_updates_per_env_step
        last_actor = count - (self.counters['critic_updates'] + count) % lr.actor_update_interval - 1
        for i in range(count):
            batch = sampler.sample(lr.batch_size, self.rng)
            metrics.update(self.update_critic(batch, metrics=i == count - 1))
            if self.actor_training and self.counters['critic_updates'] % lr.actor_update_interval == 0:
                metrics.update(self.update_actor(batch, metrics=i >= last_actor))
        self.counters['env_steps'] += env_steps
        return metrics
