"""BC networks: an MLP and an ACT-style transformer, behind one module that speaks robot units.

`BCPolicy.forward(proprio, task_state[, images])` follows the exported model contract of
`residual_rl_ros.core.base_policy`: float32 robot-unit inputs, uint8 images (B, C, H, W, 3), output
(B, K, A) float32 robot-unit actions. Input standardization and action scaling are buffers inside the
module, so they travel in the state dict and in every exported file.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from residual_rl_ros.core.base_policy import ModelMetadata
from residual_rl_ros.core.bc.config import BCConfig


class ImageEncoder(nn.Module):
    """Small conv net shared by all cameras: uint8 (B, C, H, W, 3) -> feature maps (B, C, F, h, w)."""

    def __init__(self, features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, features, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, c, h, w = images.shape[0], images.shape[1], images.shape[2], images.shape[3]
        x = images.reshape(b * c, h, w, 3).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        x = self.net(x)
        return x.reshape(b, c, x.shape[1], x.shape[2], x.shape[3])


class MLPBackbone(nn.Module):
    """Flat state (+ mean-pooled image features per camera) -> K x A normalized actions."""

    def __init__(self, state_dim: int, image_dim: int, config: BCConfig, action_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = state_dim + image_dim
        for _ in range(config.num_layers):
            layers += [nn.Linear(width, config.hidden_dim), nn.LayerNorm(config.hidden_dim), nn.GELU()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = config.hidden_dim
        layers.append(nn.Linear(width, config.chunk_length * action_dim))
        self.net = nn.Sequential(*layers)
        self.chunk_length, self.action_dim = config.chunk_length, action_dim

    def forward(self, state: torch.Tensor, image_maps: torch.Tensor | None) -> torch.Tensor:
        if image_maps is not None:
            state = torch.cat([state, image_maps.mean(dim=(3, 4)).flatten(1)], dim=1)
        return self.net(state).reshape(-1, self.chunk_length, self.action_dim)


class Attention(nn.Module):
    """Multi-head attention written out (exports cleanly to ONNX, no fused fast path)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f'BCConfig.d_model={dim} is not divisible by num_heads={heads}')
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(context)), split(self.v(context))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
        y = (self.drop(weights) @ v).transpose(1, 2)
        return self.out(y.reshape(y.shape[0], y.shape[1], self.heads * self.head_dim))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, config: BCConfig, cross: bool):
        super().__init__()
        d, p = config.d_model, config.dropout
        self.norm1, self.self_attn = nn.LayerNorm(d), Attention(d, config.num_heads, p)
        self.norm2 = nn.LayerNorm(d) if cross else None
        self.cross_attn = Attention(d, config.num_heads, p) if cross else None
        self.norm3 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, config.ff_dim), nn.GELU(), nn.Dropout(p), nn.Linear(config.ff_dim, d))
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.self_attn(h, h))
        if self.cross_attn is not None and self.norm2 is not None and memory is not None:
            x = x + self.drop(self.cross_attn(self.norm2(x), memory))
        return x + self.drop(self.ff(self.norm3(x)))


class TransformerBackbone(nn.Module):
    """ACT-style: observation tokens -> encoder; K learned chunk queries -> decoder -> actions."""

    def __init__(self, proprio_dim: int, task_state_dim: int, image_tokens: int, image_dim: int,
                 config: BCConfig, action_dim: int):
        super().__init__()
        d = config.d_model
        self.proprio_dim = proprio_dim
        self.proprio_token = nn.Linear(proprio_dim, d)
        self.task_token = nn.Linear(task_state_dim, d) if task_state_dim > 0 else None
        self.image_proj = nn.Linear(image_dim, d) if image_tokens else None
        n_tokens = 1 + (task_state_dim > 0) + image_tokens
        self.token_pos = nn.Parameter(torch.randn(1, n_tokens, d) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, config.chunk_length, d) * 0.02)
        self.encoder = nn.ModuleList(Block(config, cross=False) for _ in range(config.encoder_layers))
        self.decoder = nn.ModuleList(Block(config, cross=True) for _ in range(config.decoder_layers))
        self.memory_norm, self.out_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.head = nn.Linear(d, action_dim)

    def forward(self, state: torch.Tensor, image_maps: torch.Tensor | None) -> torch.Tensor:
        tokens = [self.proprio_token(state[:, :self.proprio_dim])[:, None]]
        if self.task_token is not None:
            tokens.append(self.task_token(state[:, self.proprio_dim:])[:, None])
        if image_maps is not None and self.image_proj is not None:
            b, c, f = image_maps.shape[0], image_maps.shape[1], image_maps.shape[2]
            flat = image_maps.reshape(b, c, f, -1).permute(0, 1, 3, 2).reshape(b, -1, f)   # (B, C*h*w, F)
            tokens.append(self.image_proj(flat))
        memory = torch.cat(tokens, dim=1) + self.token_pos
        for block in self.encoder:
            memory = block(memory)
        memory = self.memory_norm(memory)
        x = self.queries.expand(state.shape[0], -1, -1)
        for block in self.decoder:
            x = block(x, memory)
        return self.head(self.out_norm(x))


class BCPolicy(nn.Module):
    """Robot units in, robot units out: standardize -> backbone -> unnormalize actions."""

    def __init__(self, config: BCConfig, metadata: ModelMetadata, proprio_stats: tuple[np.ndarray, np.ndarray],
                 task_stats: tuple[np.ndarray, np.ndarray], action_stats: tuple[np.ndarray, np.ndarray]):
        super().__init__()
        self.metadata = metadata
        self.chunk_length = int(config.chunk_length)
        for name, (mean, std) in (('proprio', proprio_stats), ('task_state', task_stats), ('action', action_stats)):
            self.register_buffer(f'{name}_mean', torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer(f'{name}_std', torch.as_tensor(std, dtype=torch.float32))
        p, s, a = metadata.proprio_dim or 0, metadata.task_state_dim or 0, metadata.action_dim or 0
        self.image_encoder = ImageEncoder(config.image_features) if metadata.camera_names else None
        image_tokens = 0
        if self.image_encoder is not None:
            h, w = metadata.image_shape or (0, 0)
            with torch.no_grad():
                maps = self.image_encoder(torch.zeros(1, len(metadata.camera_names), h, w, 3, dtype=torch.uint8))
            image_tokens = maps.shape[1] * maps.shape[3] * maps.shape[4]
        n_cameras = len(metadata.camera_names)
        if config.arch == 'mlp':
            self.backbone: nn.Module = MLPBackbone(p + s, n_cameras * config.image_features, config, a)
        else:
            self.backbone = TransformerBackbone(p, s, image_tokens, config.image_features, config, a)

    def normalized(self, proprio: torch.Tensor, task_state: torch.Tensor,
                   images: torch.Tensor | None = None) -> torch.Tensor:
        """The chunk in normalized action units (what the training loss compares)."""
        state = torch.cat([(proprio - self.proprio_mean) / self.proprio_std,
                           (task_state - self.task_state_mean) / self.task_state_std], dim=1)
        maps = self.image_encoder(images) if self.image_encoder is not None and images is not None else None
        return self.backbone(state, maps)

    def forward(self, proprio: torch.Tensor, task_state: torch.Tensor,
                images: torch.Tensor | None = None) -> torch.Tensor:
        """(B, P), (B, S)[, (B, C, H, W, 3) uint8] robot units -> (B, K, A) robot-unit actions."""
        return self.normalized(proprio, task_state, images) * self.action_std + self.action_mean


def build_policy(config: BCConfig, metadata: ModelMetadata, proprio_stats: tuple[np.ndarray, np.ndarray],
                 task_stats: tuple[np.ndarray, np.ndarray],
                 action_stats: tuple[np.ndarray, np.ndarray]) -> BCPolicy:
    """A freshly initialised BCPolicy for the given dims (from `metadata`) and normalization statistics."""
    return BCPolicy(config, metadata, proprio_stats, task_stats, action_stats)
