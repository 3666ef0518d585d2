"""Configuration of behavior-cloning training (architecture, optimisation, data)."""
from __future__ import annotations

import dataclasses

from residual_rl_ros.core.config_fields import param


@dataclasses.dataclass
class BCConfig:
    """Every knob of `train_bc`; the defaults train a small MLP on ~50 demos in about a minute on CPU."""

    arch: str = param('mlp', 'network: MLP on the flat state, or ACT-style transformer with chunk queries',
                      choices=('mlp', 'transformer'))
    chunk_length: int = param(4, 'K, number of future executed actions predicted per query', low=1, high=256)
    # MLP
    hidden_dim: int = param(256, 'MLP hidden width', low=8, high=4096)
    num_layers: int = param(3, 'MLP hidden layers', low=1, high=16)
    # Transformer
    d_model: int = param(64, 'transformer token width', low=16, high=1024)
    num_heads: int = param(4, 'attention heads (must divide d_model)', low=1, high=32)
    encoder_layers: int = param(2, 'transformer encoder layers over the observation tokens', low=0, high=12)
    decoder_layers: int = param(2, 'transformer decoder layers over the learned chunk queries', low=1, high=12)
    ff_dim: int = param(256, 'transformer feed-forward width', low=16, high=8192)
    dropout: float = param(0.1, 'dropout in the network (training only)', low=0.0, high=0.9)
    # Images
    image_features: int = param(64, 'feature width per camera from the conv encoder', low=8, high=1024)
    image_shift_px: int = param(4, 'random-shift augmentation of images during training, pixels', low=0,
                                high=64)
    # Optimisation
    loss: str = param('l1', 'regression loss on normalized actions', choices=('l1', 'mse'))
    num_steps: int = param(3000, 'gradient steps', low=1, high=10_000_000)
    batch_size: int = param(256, 'samples per gradient step', low=1, high=65536)
    learning_rate: float = param(1e-3, 'AdamW peak learning rate', low=1e-7, high=1.0)
    weight_decay: float = param(1e-4, 'AdamW weight decay', low=0.0, high=1.0)
    warmup_steps: int = param(100, 'linear learning-rate warmup steps, then cosine decay', low=0,
                              high=1_000_000)
    min_lr_ratio: float = param(0.1, 'final learning rate as a fraction of the peak', low=0.0, high=1.0)
    grad_clip_norm: float = param(1.0, 'gradient-norm clip; 0 = off', low=0.0, high=1e6)
    successful_only: bool = param(True, 'train on successful episodes only')
    min_std: float = param(1e-4, 'dimensions whose std is below this are not scaled (std set to 1)',
                           low=0.0, high=1.0)
    log_every: int = param(250, 'report progress every N steps', low=1, high=1_000_000)
