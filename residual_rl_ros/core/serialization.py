"""Safetensors bytes with a JSON config and a content digest in the header; atomic file writes.

Shared by learner checkpoints and actor weight messages. Only safetensors and JSON are ever parsed,
never pickle. Every way a blob can be damaged (truncation, bad header, flipped bits) is a ValueError
that names the blob and the problem.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import Any, Mapping

import safetensors.torch
import torch

from residual_rl_ros.core.atomic import atomic_file, atomic_write  # noqa: F401 (re-exported)


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of the tensors, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b'')
    return digest.hexdigest()


def pack(tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> bytes:
    """safetensors bytes whose header metadata holds `config` (JSON) and the tensors' digest."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {'config': json.dumps(config), 'tensor_sha256': tensor_digest(tensors)}
    return safetensors.torch.save(tensors, metadata=metadata)


def unpack(data: bytes, name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of `pack`: (tensors, config); ValueError naming `name` on any corruption."""
    if len(data) < 8:
        raise ValueError(f'{name}: truncated ({len(data)} bytes, no safetensors header)')
    header_len = struct.unpack('<Q', data[:8])[0]
    if 8 + header_len > len(data):
        raise ValueError(f'{name}: truncated (header claims {header_len} bytes, blob has {len(data) - 8})')
    try:
        metadata = json.loads(data[8:8 + header_len])['__metadata__']
        config = json.loads(metadata['config'])
        expected = metadata['tensor_sha256']
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'{name}: unreadable header ({exc!r})') from exc
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # safetensors raises its own exception type
        raise ValueError(f'{name}: invalid or truncated tensor data ({exc})') from exc
    if tensor_digest(tensors) != expected:
        raise ValueError(f'{name}: tensor checksum mismatch (corrupted data)')
    return tensors, config


