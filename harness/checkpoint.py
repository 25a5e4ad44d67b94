"""Pickle-free checkpoints of nested state (tensors, numbers, strings, lists, dicts).

Tensors go into a safetensors file, the structure into a JSON sidecar; writes are atomic
(temporary file + rename), so an interrupted write never leaves a half checkpoint behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def _flatten(obj, prefix: str, tensors: dict):
    if torch.is_tensor(obj):
        tensors[prefix] = obj.detach().contiguous().cpu()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    return obj


def _unflatten(skeleton, tensors: dict):
    if isinstance(skeleton, dict) and "__tensor__" in skeleton:
        return tensors[skeleton["__tensor__"]]
    if isinstance(skeleton, dict) and "__dict__" in skeleton:
        return {k: _unflatten(v, tensors) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, dict) and "__list__" in skeleton:
        return [_unflatten(v, tensors) for v in skeleton["__list__"]]
    return skeleton


def _temporary(path: Path) -> Path:
    """A sibling of ``path`` owned by this process: two processes writing the same cache entry (e.g.
    worker processes pretraining one network) never write into each other's file."""
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def atomic_write_text(path: Path, text: str) -> None:
    tmp = _temporary(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_save_file(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """``safetensors.save_file`` through a temporary file: a reader sees the old file or the whole new one."""
    tmp = _temporary(Path(path))
    save_file(tensors, tmp)
    os.replace(tmp, path)


def save_state(path: Path, state: dict) -> None:
    """Write ``path`` (.safetensors) and ``path.json`` (structure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict = {}
    skeleton = _flatten(state, "s", tensors)
    atomic_save_file(tensors, path)
    atomic_write_text(path.with_name(path.name + ".json"), json.dumps(skeleton))


def load_state(path: Path, device="cpu") -> dict:
    path = Path(path)
    skeleton = json.loads(path.with_name(path.name + ".json").read_text())
    return _unflatten(skeleton, load_file(path, device=str(device)))


def state_exists(path: Path) -> bool:
    path = Path(path)
    return path.exists() and path.with_name(path.name + ".json").exists()
