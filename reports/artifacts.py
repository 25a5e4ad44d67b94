"""Find the synthetic-set artifacts that records refer to, by path or by checksum.

A record names its set by ``synset_sha256`` (top level, or in ``extra``) and, optionally, a path in
``extra`` (``synset``, ``synset_path`` or ``artifact``). When the path is missing or stale, the
manifests (``*.json`` with a ``sha256``) under the search roots (default ``<output>/synsets``)
are matched by checksum.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.synset import manifest_defect

PATH_KEYS = ("synset", "synset_path", "artifact")


def record_sha(row: pd.Series) -> str | None:
    sha = row.get("synset_sha256")
    if isinstance(sha, str) and sha:
        return sha
    extra = row.get("extra")
    return extra.get("synset_sha256") if isinstance(extra, dict) else None


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path`` (its ``.json``) if well-formed (:func:`harness.synset.manifest_defect`), else None."""
    try:
        manifest = json.loads(path.with_suffix(".json").read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON
        return None
    return manifest if manifest_defect(manifest) is None else None


def manifest_sha(artifact: Path) -> str | None:
    """The checksum a well-formed manifest names when its tensors are beside it, else None."""
    manifest = read_manifest(artifact)
    return manifest["sha256"] if manifest and artifact.with_suffix(".safetensors").is_file() else None


def record_path(row: pd.Series, sha: str) -> Path | None:
    """The path the record names, if the artifact there still has the record's checksum."""
    extra = row.get("extra")
    if not isinstance(extra, dict):
        return None
    for key in PATH_KEYS:
        if isinstance(extra.get(key), str) and manifest_sha(Path(extra[key])) == sha:
            return Path(extra[key]).with_suffix(".safetensors")
    return None


def manifest_index(roots: list[Path]) -> dict[str, Path]:
    """sha256 -> artifact path for every readable manifest under the roots."""
    index = {}
    for root in roots:
        for manifest in sorted(Path(root).rglob("*.json")) if Path(root).is_dir() else []:
            sha = manifest_sha(manifest)
            if sha:
                index.setdefault(sha, manifest.with_suffix(".safetensors"))
    return index


def resolve_artifacts(records: pd.DataFrame, roots: list[Path]) -> dict[str, Path]:
    """sha256 -> artifact path for every set the records name and that can be found."""
    found: dict[str, Path] = {}
    missing = set()
    for _, row in records.iterrows():
        sha = record_sha(row)
        if not sha or sha in found:
            continue
        path = record_path(row, sha)
        if path is not None:
            found[sha] = path
        else:
            missing.add(sha)
    missing -= set(found)
    if missing:
        index = manifest_index(roots)
        found.update({sha: index[sha] for sha in missing if sha in index})
    return found
