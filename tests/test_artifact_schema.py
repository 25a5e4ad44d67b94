"""An artifact's manifest and tensors are parsed against a schema: any structural defect is one
HarnessError naming the path the user gave. Defects are generated from the schema tables
(:data:`harness.synset.MANIFEST_FIELDS`, :data:`harness.synset.TENSORS`) and from the saved
manifest itself (every field dropped, every field given a value of every other JSON kind), not
listed by hand; a defect that the schema lets through must still end in a HarnessError or a load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from harness.errors import HarnessError
from harness.synset import MANIFEST_FIELDS, TENSORS, SyntheticSet, load_synset, save_synset, sha256_file

ROOT = Path(__file__).resolve().parent.parent
VALUES = [None, True, 0, -1, 2.5, "", "text", [], [1, 2, 3], {}, {"a": 1}]  # one of every JSON kind


@pytest.fixture
def artifact(tmp_path, tiny):
    synset = SyntheticSet(torch.randn(20, 1, 28, 28), torch.arange(10).repeat(2), tiny.info, 2,
                          meta={"distiller": "test", "seed": 0, "config": {"iterations": 1},
                                "timing": {"wall_seconds": 1.0}})
    return save_synset(synset, tmp_path / "set")


def leaves(manifest: dict):
    """(outer, inner) for every field, inner None at the top level: dataset_info's fields too."""
    for name, value in manifest.items():
        yield name, None
        if isinstance(value, dict) and name in MANIFEST_FIELDS and MANIFEST_FIELDS[name].kind.fields:
            yield from ((name, inner) for inner in value)


def edited(manifest: dict, outer: str, inner: str | None, value=...) -> dict:
    """``manifest`` with a field replaced by ``value`` (``...``: dropped); no manifest checksum, so
    every check past the schema still runs (as for an artifact written before manifests had one)."""
    out = json.loads(json.dumps(manifest))
    out.pop("manifest_sha256", None)
    target = out if inner is None else out[outer]
    key = outer if inner is None else inner
    if value is ...:
        target.pop(key, None)
    else:
        target[key] = value
    return out


def expect_one_line_or_load(path: Path, given: str, required: bool = False) -> None:
    try:
        load_synset(given)
    except HarnessError as exc:
        text = str(exc)
        assert "\n" not in text and given in text, text
        return
    assert not required, "a required field's defect was accepted"


def defect_cases(manifest: dict):
    for outer, inner in leaves(manifest):
        schema = MANIFEST_FIELDS if inner is None else MANIFEST_FIELDS[outer].kind.fields
        spec = schema.get(inner or outer)
        yield f"drop {outer}.{inner}", edited(manifest, outer, inner), bool(spec and spec.required)
        for value in VALUES:
            refused = bool(spec) and not spec.kind.test(value)
            yield f"{outer}.{inner}={value!r}", edited(manifest, outer, inner, value), refused


def test_every_generated_manifest_defect_is_one_line_naming_the_given_path(artifact):
    mpath = artifact.with_suffix(".json")
    manifest = json.loads(mpath.read_text())
    cases = list(defect_cases(manifest))
    assert len(cases) > 12 * len(MANIFEST_FIELDS)  # every field, every kind
    for given in (str(artifact), str(artifact.with_suffix(""))):  # NAME.safetensors and NAME as typed
        for what, broken, must_refuse in cases:
            mpath.write_text(json.dumps(broken))
            try:
                expect_one_line_or_load(artifact, given, must_refuse)
            except AssertionError as err:
                raise AssertionError(f"{what}: {err}") from None


@pytest.mark.parametrize("shape", [[1, 2, 3], {"a": 1}, "text", 7, None, True, []])
def test_a_manifest_of_another_json_kind_is_refused(artifact, shape):
    artifact.with_suffix(".json").write_text(json.dumps(shape))
    with pytest.raises(HarnessError, match=f"{artifact}: its manifest set.json is not a synthetic-set manifest"):
        load_synset(artifact)


def tensor_cases(artifact: Path):
    """(what, tensors) with each tensor of :data:`TENSORS` dropped, given the wrong dimensions, or
    the wrong dtype; the manifest's checksum is updated so the schema, not the checksum, refuses."""
    from safetensors.torch import load_file

    good = load_file(artifact)
    soft = torch.full((len(good["labels"]), 10), 0.1)
    base = {**good, "soft_labels": soft}
    for name, (required, dims, floating) in TENSORS.items():
        if required:
            yield f"no {name}", {k: v for k, v in base.items() if k != name}
        t = base[name]
        yield f"{name} with a dimension fewer", {**base, name: t.reshape(-1) if dims > 1 else t[0]}
        yield f"{name} with an extra dimension", {**base, name: t.unsqueeze(0)}
        yield f"{name} of the other dtype", {**base, name: t.long() if floating else t.float()}
        yield f"{name} as bool", {**base, name: t.bool()}
    yield "soft labels of the wrong width", {**base, "soft_labels": soft[:, :3]}


def test_every_generated_tensor_defect_is_one_line_naming_the_given_path(artifact):
    mpath = artifact.with_suffix(".json")
    manifest = json.loads(mpath.read_text())
    manifest["label_type"] = "soft"
    del manifest["manifest_sha256"]
    for what, tensors in list(tensor_cases(artifact)):
        save_file({k: v.contiguous() for k, v in tensors.items()}, artifact)
        mpath.write_text(json.dumps({**manifest, "sha256": sha256_file(artifact)}))
        with pytest.raises(HarnessError) as exc:
            load_synset(str(artifact))
            pytest.fail(f"accepted: {what}")
        assert "\n" not in str(exc.value) and str(artifact) in str(exc.value), what


@pytest.mark.parametrize("make, message", [
    (lambda d: "", "an empty artifact path"),
    (lambda d: "   ", "an empty artifact path"),
    (lambda d: str(d), "is a folder, not an artifact"),
    (lambda d: str(d / "folder.safetensors"), "is a folder, not an artifact"),
    (lambda d: str(d / "picture.png"), "is not an artifact"),
    (lambda d: str(d / "binary.safetensors"), "is not a readable safetensors file"),
    (lambda d: str(d / "nothing-here"), "does not exist"),
    (lambda d: str(d / "bare.safetensors"), "no manifest bare.json beside it"),
    (lambda d: str(d / "notutf8.safetensors"), "is not UTF-8"),
    (lambda d: str(d / "notjson.safetensors"), "is not valid JSON"),
])
def test_paths_that_are_not_artifacts_are_named_as_given(tmp_path, artifact, make, message):
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "bare.safetensors").write_bytes(artifact.read_bytes())
    for name, manifest in (("notutf8", b"\xff\xfe{"), ("notjson", b"{not json"), ("binary", None)):
        (tmp_path / f"{name}.safetensors").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64) if manifest is None
                                                        else artifact.read_bytes())
        if manifest is not None:
            (tmp_path / f"{name}.json").write_bytes(manifest)
    binary_manifest = json.loads(artifact.with_suffix(".json").read_text())
    binary_manifest["sha256"] = sha256_file(tmp_path / "binary.safetensors")
    (tmp_path / "binary.json").write_text(json.dumps(binary_manifest))
    given = make(tmp_path)
    with pytest.raises(HarnessError) as exc:
        load_synset(given)
    text = str(exc.value)
    assert message in text and "\n" not in text
    if given.strip():
        assert given in text  # the path as typed, not one derived from it


def test_validate_command_names_the_png_it_was_given(tmp_path):
    png = tmp_path / "grid.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    done = subprocess.run([sys.executable, "-m", "harness", "validate", str(png)], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: {png} is not an artifact")
