"""The ResFiT recipe: every knob of the residual learner, with defaults from the paper's released code.

Defaults follow Ankile et al. 2025 ("Residual Off-Policy RL for Finetuning Behavior Cloning Policies")
and its `residual_td3` config: actor lr 1e-6, critic lr 1e-4, tau 0.005, action scale 0.1, a zero-init
last actor layer, a 10-head LayerNorm critic ensemble with a min-of-2 target, n-step 3 returns,
UTD 4 and 10k critic-only warm-up updates. All actions here are normalized to [-1, 1].
"""
from __future__ import annotations

import dataclasses

from residual_rl_ros.core.config_fields import param, validate


@dataclasses.dataclass
class NetworkRecipe:
    """Architecture of the residual actor, the critic ensemble and the image encoder."""

    actor_hidden_sizes: list = param([1024, 1024], 'Hidden layer widths of the residual actor MLP',
                                     low=1, high=65536)
    critic_hidden_sizes: list = param([1024, 1024], 'Hidden layer widths of each critic head',
                                      low=1, high=65536)
    num_critic_heads: int = param(10, 'Critic ensemble size (REDQ-style)', low=2, high=64)
    num_target_heads: int = param(2, 'Heads drawn at random whose minimum forms the TD target',
                                  low=1, high=64)
    action_scale: float = param(0.1, 'Residual bound: residual = tanh(.) * action_scale, normalized units',
                                low=1e-4, high=2.0)
    action_scale_per_dim: list = param([], 'Per-dimension residual bounds (normalized units), one per action '
                                           'dimension, replacing action_scale for the residual; empty = '
                                           'action_scale on every dimension (e.g. a larger bound on a gripper '
                                           'channel the base leaves open)', low=1e-4, high=2.0)
    layer_norm: bool = param(True, 'LayerNorm after each hidden layer of the actor and every critic head '
                                   '(False only for ablations)', choices=(True, False))
    phase_encoding: str = param('sincos', 'How the chunk phase enters the networks',
                                choices=('sincos', 'onehot'))
    encoder_channels: int = param(32, 'Conv channels of each per-camera image encoder', low=1, high=512)
    encoder_layers: int = param(4, 'Conv layers per camera (first has stride 2)', low=1, high=8)
    encoder_feature_dim: int = param(64, 'Feature width per camera after the projection', low=1, high=4096)
    random_shift_pad_px: int = param(4, 'Random-shift augmentation padding in pixels (0 = off)',
                                     low=0, high=32)


@dataclasses.dataclass
class LearnerRecipe:
    """Optimisation: TD3-style updates with an n-step, ensemble-min target."""

    critic_lr: float = param(1e-4, 'Critic (and image encoder) AdamW learning rate', low=0.0, high=1.0)
    actor_lr: float = param(1e-6, 'Residual actor AdamW learning rate', low=0.0, high=1.0)
    weight_decay: float = param(0.01, 'AdamW weight decay of both optimizers', low=0.0, high=1.0)
    grad_clip_norm: float = param(1.0, 'Gradient norm clip of both optimizers (0 = off)', low=0.0, high=1e6)
    fused_optimizer: bool = param(True, 'AdamW with the fused kernel (~12x less CPU per step at the paper\'s '
                                  'sizes); false = the per-tensor loop (same maths, different last bits)')
    target_tau: float = param(0.005, 'Polyak rate of the target critic, encoder and actor', low=0.0, high=1.0)
    gamma: float = param(0.99, 'Per-step discount', low=0.0, high=1.0)
    n_step: int = param(3, 'n of the n-step return (stops at episode ends)', low=1, high=100)
    batch_size: int = param(256, 'Transitions per update batch', low=1, high=65536)
    critic_updates_per_env_step: int = param(4, 'Critic updates per environment step (UTD ratio)',
                                             low=1, high=128)
    actor_update_interval: int = param(4, 'One actor update per this many critic updates', low=1, high=1024)
    critic_warmup_updates: int = param(10_000, 'Critic-only updates before the actor starts training',
                                       low=0, high=10_000_000)
    exploration_noise_std: float = param(0.5, 'Exploration noise std as a fraction of action_scale '
                                              '(0.5 * 0.1 = 0.05 normalized, as in the paper)',
                                         low=0.0, high=10.0)
    target_noise_std: float = param(0.2, 'Target policy smoothing noise std, fraction of action_scale',
                                    low=0.0, high=10.0)
    target_noise_clip: float = param(0.3, 'Target policy smoothing noise clip, fraction of action_scale',
                                     low=0.0, high=10.0)
    residual_penalty: float = param(0.0, 'Weight of mean((residual / action_scale)^2) in the actor loss, next '
                                         'to -Q / mean|Q| (TD3+BC-style scaling); 0 = the paper\'s plain -Q',
                                    low=0.0, high=1e6)


@dataclasses.dataclass
class ReplayRecipe:
    """Replay memory and the demo / online / intervention mix of each batch."""

    online_capacity_steps: int = param(300_000, 'Online buffer capacity in stored steps', low=2,
                                       high=100_000_000)
    intervention_capacity_steps: int = param(50_000, 'Intervention buffer capacity in stored steps', low=2,
                                             high=100_000_000)
    memory_budget_bytes: int = param(0, 'If > 0, cap each online-type buffer to fit this many bytes',
                                     low=0, high=2**50)
    demo_fraction: float = param(0.5, 'Share of each batch drawn from demonstrations', low=0.0, high=1.0)
    intervention_fraction: float = param(0.0, 'Share of each batch drawn from operator interventions',
                                         low=0.0, high=1.0)


@dataclasses.dataclass
class NormalizerRecipe:
    """Normalization statistics floors (from the paper's offline-data safeguards)."""

    min_action_range: float = param(0.1, 'Floor on each demo action dimension range, robot units',
                                    low=1e-9, high=1e9)
    min_state_std: float = param(0.1, 'Floor on each proprio/state standard deviation', low=1e-9, high=1e9)


@dataclasses.dataclass
class ResidualRecipe:
    """Everything the ResFiT learner needs besides the task's dimensions."""

    network: NetworkRecipe = param(NetworkRecipe(), 'Actor, critic and encoder architecture')
    learner: LearnerRecipe = param(LearnerRecipe(), 'Optimisation knobs')
    replay: ReplayRecipe = param(ReplayRecipe(), 'Replay buffers and batch mix')
    normalizer: NormalizerRecipe = param(NormalizerRecipe(), 'Normalization floors')
    seed: int = param(0, 'Seed of every random draw of the learner', low=0, high=2**63 - 1)

    def __post_init__(self) -> None:
        validate(self)
        if self.network.num_target_heads > self.network.num_critic_heads:
            raise ValueError(f'network.num_target_heads={self.network.num_target_heads} exceeds '
                             f'network.num_critic_heads={self.network.num_critic_heads}')
        if self.replay.demo_fraction + self.replay.intervention_fraction > 1.0:
            raise ValueError('replay.demo_fraction + replay.intervention_fraction must be <= 1, got '
                             f'{self.replay.demo_fraction + self.replay.intervention_fraction}')
