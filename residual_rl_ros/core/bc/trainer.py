"""Train an action-chunking BC policy from episodes (CPU-friendly, deterministic for a seed)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from residual_rl_ros.core.base_policy import ModelMetadata
from residual_rl_ros.core.bc.config import BCConfig
from residual_rl_ros.core.bc.data import ChunkDataset, build_chunk_dataset, mean_std
from residual_rl_ros.core.bc.models import BCPolicy, build_policy
from residual_rl_ros.core.config_fields import validate
from residual_rl_ros.core.types import Episode

ProgressFn = Callable[[dict[str, float]], None]


def train_bc(episodes: Sequence[Episode], config: BCConfig | None = None, seed: int = 0,
             progress: ProgressFn | None = None) -> BCPolicy:
    """Fit a BCPolicy to predict the next K executed actions; returns it in eval mode on CPU.

    `progress`, when given, is called every `config.log_every` steps and at the end with
    {'step', 'epoch', 'loss', 'lr'} (loss: mean over the steps since the last report).
    """
    config = validate(config or BCConfig())
    if config.arch == 'transformer' and config.d_model % config.num_heads:
        raise ValueError(f'BCConfig.d_model={config.d_model} is not divisible by num_heads={config.num_heads}')
    if config.successful_only:
        episodes = [ep for ep in episodes if ep.success]
        if not episodes:
            raise ValueError('no successful episodes to train on (set successful_only=False to use all)')
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = build_chunk_dataset(episodes, config.chunk_length)
    model = build_policy(config, _metadata(data), mean_std(data.proprio, config.min_std),
                         mean_std(data.task_state, config.min_std),
                         mean_std(data.actions[data.valid], config.min_std))
    tensors = _to_tensors(data)
    target = (tensors['actions'] - model.action_mean) / model.action_std
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, config))
    model.train()
    running, count = 0.0, 0
    for step in range(1, config.num_steps + 1):
        idx = torch.from_numpy(rng.integers(len(data), size=min(config.batch_size, len(data))))
        images = tensors['images'][idx] if 'images' in tensors else None
        if images is not None and config.image_shift_px > 0:
            images = random_shift(images, config.image_shift_px, rng)
        pred = model.normalized(tensors['proprio'][idx], tensors['task_state'][idx], images)
        loss = _chunk_loss(pred, target[idx], tensors['valid'][idx], config.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip_norm)
        optimizer.step()
        schedule.step()
        running, count = running + loss.item(), count + 1
        if progress is not None and (step % config.log_every == 0 or step == config.num_steps):
            progress({'step': step, 'epoch': step * config.batch_size / len(data), 'loss': running / count,
                      'lr': optimizer.param_groups[0]['lr']})
            running, count = 0.0, 0
    return model.eval()


def evaluate_loss(model: BCPolicy, episodes: Sequence[Episode], loss: str = 'l1') -> float:
    """Mean normalized-action loss of `model` over every sample of `episodes` (eval mode, no grad)."""
    data = build_chunk_dataset(episodes, model.chunk_length)
    tensors = _to_tensors(data)
    model.eval()
    with torch.no_grad():
        pred = model.normalized(tensors['proprio'], tensors['task_state'], tensors.get('images'))
        target = (tensors['actions'] - model.action_mean) / model.action_std
        return float(_chunk_loss(pred, target, tensors['valid'], loss))


def random_shift(images: torch.Tensor, pad: int, rng: np.random.Generator) -> torch.Tensor:
    """DrQ-style augmentation: pad by replication and crop back at a random offset per sample.

    images: uint8 (B, C, H, W, 3); every camera of a sample gets its own offset.
    """
    b, c, h, w = images.shape[:4]
    x = images.reshape(b * c, h, w, 3).permute(0, 3, 1, 2).float()
    x = F.pad(x, (pad, pad, pad, pad), mode='replicate').permute(0, 2, 3, 1)     # (BC, H+2p, W+2p, 3)
    dy = torch.from_numpy(rng.integers(0, 2 * pad + 1, size=b * c))
    dx = torch.from_numpy(rng.integers(0, 2 * pad + 1, size=b * c))
    rows = (torch.arange(h)[None] + dy[:, None])[:, :, None]                     # (BC, H, 1)
    cols = (torch.arange(w)[None] + dx[:, None])[:, None, :]                     # (BC, 1, W)
    out = x[torch.arange(b * c)[:, None, None], rows, cols]                      # (BC, H, W, 3)
    return out.to(torch.uint8).reshape(b, c, h, w, 3)


def _chunk_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, kind: str) -> torch.Tensor:
    err = (pred - target).abs() if kind == 'l1' else (pred - target).square()
    mask = valid[..., None].to(err.dtype)
    return (err * mask).sum() / (mask.sum() * err.shape[-1]).clamp(min=1.0)


def _lr_factor(step: int, config: BCConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.num_steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


def _metadata(data: ChunkDataset) -> ModelMetadata:
    return ModelMetadata(chunk_length=data.chunk_length, action_dim=data.actions.shape[2],
                         proprio_dim=data.proprio.shape[1], task_state_dim=data.task_state.shape[1],
                         camera_names=list(data.camera_names),
                         image_shape=list(data.images.shape[2:4]) if data.images is not None else None)


def _to_tensors(data: ChunkDataset) -> dict[str, torch.Tensor]:
    tensors = {'proprio': torch.from_numpy(data.proprio), 'task_state': torch.from_numpy(data.task_state),
               'actions': torch.from_numpy(data.actions), 'valid': torch.from_numpy(data.valid)}
    if data.images is not None:
        tensors['images'] = torch.from_numpy(data.images)
    return tensors
