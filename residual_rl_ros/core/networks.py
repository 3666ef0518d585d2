"""Networks of the residual learner: image encoder, residual actor and a fused critic ensemble.

Conventions: images are uint8 (B, H, W, 3) per camera; `state` is the standardized proprio + task
state (B, S); actions are normalized to [-1, 1] (B, A); `phase` is the int64 index inside the base
policy's action chunk (B,). The actor sees detached encoder features; only the critic trains the encoder.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from residual_rl_ros.core.recipe import NetworkRecipe


@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """Task dimensions the networks are built for (JSON-ready)."""

    state_dim: int                     # proprio + task_state
    action_dim: int
    chunk_length: int
    camera_names: tuple[str, ...] = ()
    image_hw: tuple[int, int] = (84, 84)

    def __post_init__(self) -> None:
        object.__setattr__(self, 'camera_names', tuple(self.camera_names))
        object.__setattr__(self, 'image_hw', tuple(int(v) for v in self.image_hw))
        if self.state_dim < 0 or self.action_dim < 1 or self.chunk_length < 1:
            raise ValueError(f'invalid PolicySpec {self}')


def phase_features(phase: torch.Tensor, chunk_length: int, encoding: str) -> torch.Tensor:
    """Encode int chunk phases (B,) as (B, 2) sin/cos of 2*pi*phase/L or a (B, L) one-hot."""
    if encoding == 'sincos':
        angle = phase.to(torch.float32).unsqueeze(-1) * (2.0 * math.pi / chunk_length)
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
    if encoding == 'onehot':
        steps = torch.arange(chunk_length, device=phase.device)
        return (phase.unsqueeze(-1) == steps).to(torch.float32)
    raise ValueError(f'phase encoding {encoding!r} is not one of sincos, onehot')


def phase_dim(chunk_length: int, encoding: str) -> int:
    return 2 if encoding == 'sincos' else chunk_length


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = True) -> nn.Sequential:
    """Linear -> LayerNorm (unless `layer_norm` is False) -> ReLU per hidden width, then a linear output layer."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width)] + ([nn.LayerNorm(width)] if layer_norm else []) + [nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class RandomShift(nn.Module):
    """DrQ random-shift augmentation: replicate-pad by `pad` px, then crop back at a random integer offset."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = pad

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """images: float (B, C, H, W); returns the same shape, each sample shifted independently."""
        if self.pad == 0:
            return images
        b, _, h, w = images.shape
        padded = F.pad(images, (self.pad,) * 4, mode='replicate')
        shift = torch.randint(0, 2 * self.pad + 1, (b, 2), generator=generator).to(images.device)
        rows = torch.arange(h, device=images.device).view(1, h, 1) + shift[:, 0].view(b, 1, 1)
        cols = torch.arange(w, device=images.device).view(1, 1, w) + shift[:, 1].view(b, 1, 1)
        flat = rows * (w + 2 * self.pad) + cols                                  # (B, H, W)
        index = flat.view(b, 1, h * w).expand(-1, images.shape[1], -1)
        return padded.flatten(2).gather(2, index).view_as(images)


class CameraEncoder(nn.Module):
    """Small conv net for one camera: uint8 (B, H, W, 3) -> (B, feature_dim)."""

    def __init__(self, image_hw: tuple[int, int], channels: int, num_layers: int, feature_dim: int) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        in_ch = 3
        for i in range(num_layers):
            convs += [nn.Conv2d(in_ch, channels, 3, stride=2 if i == 0 else 1), nn.ReLU(inplace=True)]
            in_ch = channels
        self.convs = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, *image_hw)).shape[1]
        self.project = nn.Sequential(nn.Linear(flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels: float (B, 3, H, W) scaled to [-0.5, 0.5].

        The convolutions run channels-last (oneDNN's fast layout on CPU: ~25% less CPU time per update).
        """
        return self.project(self.convs(pixels.contiguous(memory_format=torch.channels_last)))


class ImageEncoder(nn.Module):
    """One `CameraEncoder` per camera; features concatenated in `camera_names` order."""

    def __init__(self, spec: PolicySpec, recipe: NetworkRecipe) -> None:
        super().__init__()
        self.camera_names = spec.camera_names
        self.cameras = nn.ModuleDict({
            name: CameraEncoder(spec.image_hw, recipe.encoder_channels, recipe.encoder_layers,
                                recipe.encoder_feature_dim) for name in spec.camera_names})
        self.shift = RandomShift(recipe.random_shift_pad_px)
        self.out_dim = recipe.encoder_feature_dim * len(spec.camera_names)

    def forward(self, images: Mapping[str, torch.Tensor], augment: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor | None:
        """images: camera -> uint8 (B, H, W, 3); returns (B, out_dim), or None without cameras."""
        features = []
        for name in self.camera_names:
            pixels = images[name].permute(0, 3, 1, 2).to(torch.float32) / 255.0 - 0.5
            if augment:
                pixels = self.shift(pixels, generator)
            features.append(self.cameras[name](pixels))
        return torch.cat(features, dim=-1) if features else None


def _inputs(features: torch.Tensor | None, *parts: torch.Tensor) -> torch.Tensor:
    """Concatenate network inputs along features, skipping absent image features."""
    return torch.cat(([features] if features is not None else []) + list(parts), dim=-1)


def residual_bound(recipe: NetworkRecipe, action_dim: int) -> np.ndarray:
    """(A,) float64 residual bound per action dimension: `action_scale_per_dim`, or `action_scale`
    everywhere. Noise levels are fractions of it, computed in float64 as from a scalar scale."""
    per_dim = list(recipe.action_scale_per_dim)
    if not per_dim:
        return np.full(action_dim, float(recipe.action_scale))
    if len(per_dim) != action_dim:
        raise ValueError(f'network.action_scale_per_dim has {len(per_dim)} values; the action has '
                         f'{action_dim} dimensions')
    return np.asarray(per_dim, np.float64)


class ResidualActor(nn.Module):
    """Deterministic residual: tanh(MLP(features, state, base_action, phase)) * bound (per dimension).

    The output layer is zero-initialised, so the residual is exactly 0 until the actor learns. The bound is
    rebuilt from the recipe (a non-persistent buffer), so state dicts do not depend on it.
    """

    def __init__(self, spec: PolicySpec, recipe: NetworkRecipe, feature_dim: int) -> None:
        super().__init__()
        self.chunk_length, self.phase_encoding = spec.chunk_length, recipe.phase_encoding
        self.bound_values = residual_bound(recipe, spec.action_dim)
        self.register_buffer('bound', torch.as_tensor(self.bound_values, dtype=torch.float32), persistent=False)
        in_dim = feature_dim + spec.state_dim + spec.action_dim + phase_dim(spec.chunk_length,
                                                                              recipe.phase_encoding)
        self.net = mlp(in_dim, recipe.actor_hidden_sizes, spec.action_dim, recipe.layer_norm)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, features: torch.Tensor | None, state: torch.Tensor, base_action: torch.Tensor,
                phase: torch.Tensor) -> torch.Tensor:
        phase_f = phase_features(phase, self.chunk_length, self.phase_encoding)
        return torch.tanh(self.net(_inputs(features, state, base_action, phase_f))) * self.bound


class ResidualPolicy(nn.Module):
    """Encoder + actor: everything needed to act; what is checkpointed, exported and shipped."""

    def __init__(self, spec: PolicySpec, recipe: NetworkRecipe) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = ImageEncoder(spec, recipe)
        self.actor = ResidualActor(spec, recipe, self.encoder.out_dim)

    def forward(self, images: Mapping[str, torch.Tensor], state: torch.Tensor, base_action: torch.Tensor,
                phase: torch.Tensor) -> torch.Tensor:
        return self.actor(self.encoder(images), state, base_action, phase)


def _select(param: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor:
    return param if heads is None else param.index_select(0, heads)


class EnsembleLinear(nn.Module):
    """`heads` independent linear layers applied in one batched matmul: (H, B, in) -> (H, B, out).

    `forward(x, heads)` runs only the given heads (x: (len(heads), B, in)).
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)            # nn.Linear's default init, per head
        self.weight = nn.Parameter(torch.empty(heads, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(heads, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, heads: torch.Tensor | None = None) -> torch.Tensor:
        return torch.baddbmm(_select(self.bias, heads), x, _select(self.weight, heads))


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over features with a separate affine per head: (H, B, D) -> (H, B, D)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(heads, 1, dim))
        self.bias = nn.Parameter(torch.zeros(heads, 1, dim))

    def forward(self, x: torch.Tensor, heads: torch.Tensor | None = None) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:]) * _select(self.weight, heads) + _select(self.bias, heads)


class CriticEnsemble(nn.Module):
    """Q-ensemble on (features, state, phase, base action, executed action); all heads fused."""

    def __init__(self, spec: PolicySpec, recipe: NetworkRecipe, feature_dim: int) -> None:
        super().__init__()
        self.num_heads, self.num_target_heads = recipe.num_critic_heads, recipe.num_target_heads
        self.chunk_length, self.phase_encoding = spec.chunk_length, recipe.phase_encoding
        in_dim = (feature_dim + spec.state_dim + 2 * spec.action_dim
                  + phase_dim(spec.chunk_length, recipe.phase_encoding))
        layers: list[nn.Module] = []
        for width in recipe.critic_hidden_sizes:
            layers += [EnsembleLinear(in_dim, width, self.num_heads), EnsembleLayerNorm(width, self.num_heads),
                       nn.ReLU(inplace=True)]
            in_dim = width
        layers.append(EnsembleLinear(in_dim, 1, self.num_heads))
        if not recipe.layer_norm:            # ablation: the same critic without LayerNorm
            layers = [layer for layer in layers if not isinstance(layer, EnsembleLayerNorm)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor | None, state: torch.Tensor, phase: torch.Tensor,
                base_action: torch.Tensor, action: torch.Tensor, heads: torch.Tensor | None = None) -> torch.Tensor:
        """Q-values of every head, (H, B); of the given head indices only, (len(heads), B)."""
        phase_f = phase_features(phase, self.chunk_length, self.phase_encoding)
        x = _inputs(features, state, phase_f, base_action, action)
        x = x.unsqueeze(0).expand(self.num_heads if heads is None else len(heads), -1, -1)
        for layer in self.net:
            x = layer(x, heads) if isinstance(layer, (EnsembleLinear, EnsembleLayerNorm)) else layer(x)
        return x.squeeze(-1)

    def draw_target_heads(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """`num_target_heads` distinct head indices drawn at random (one draw per batch)."""
        return torch.randperm(self.num_heads, generator=generator)[:self.num_target_heads]

    def target(self, q_all: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Min over `num_target_heads` heads drawn at random (one draw per batch): (H, B) -> (B,)."""
        heads = self.draw_target_heads(generator)
        return q_all[heads.to(q_all.device)].min(dim=0).values

    def target_value(self, features: torch.Tensor | None, state: torch.Tensor, phase: torch.Tensor,
                     base_action: torch.Tensor, action: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Same value and random draw as `target(self(...), generator)`, evaluating only the drawn heads."""
        heads = self.draw_target_heads(generator)
        if len(heads) == self.num_heads:          # every head: the min does not depend on their order
            return self(features, state, phase, base_action, action).min(dim=0).values
        heads = heads.to(state.device)
        return self(features, state, phase, base_action, action, heads).min(dim=0).values

