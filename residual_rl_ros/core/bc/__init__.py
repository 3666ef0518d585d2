"""Action-chunking behavior cloning: train a base policy from demonstrations and export it.

`train_bc(episodes, config, seed)` returns a `BCPolicy` module that takes robot-unit inputs and returns a
(B, K, A) chunk in robot units; `export_onnx` / `export_torchscript` write it in the contract that
`residual_rl_ros.core.base_policy.load_base_policy` reads.
"""
from residual_rl_ros.core.bc.config import BCConfig
from residual_rl_ros.core.bc.data import ChunkDataset, build_chunk_dataset
from residual_rl_ros.core.bc.export import as_base_policy, export_onnx, export_torchscript
from residual_rl_ros.core.bc.models import BCPolicy, build_policy
from residual_rl_ros.core.bc.trainer import train_bc

__all__ = ['BCConfig', 'as_base_policy', 'BCPolicy', 'ChunkDataset', 'build_chunk_dataset', 'build_policy',
           'export_onnx', 'export_torchscript', 'train_bc']
