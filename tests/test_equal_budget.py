"""Equal-budget controls for multi-formation sets, one draw per seed, and check_ipc's warning
below rho^2 x IPC (issue 20), on the real ``mnist-tiny`` subset (20 images per class)."""

import pytest
import torch

from distillers import RunContext, create_distiller
from distillers._formation import decode, encode
from distillers._runner import distil
from distillers.equal_budget import equal_budget_controls
from harness.errors import HarnessError
from harness.evaluation import evaluate_synset, read_synset
from harness.protocol import PROTOCOLS
from harness.records import RecordStore
from harness.synset import decoded_per_class

RUN = RunContext(progress=False, log=lambda s: None)


def test_random_packed_is_ncfm_without_the_distillation(tiny):
    packed = create_distiller("random-packed").distil(tiny, 2, RUN)
    ncfm = create_distiller("ncfm", {"iterations": 0, "extractor": "random", "num_freqs": 64}).distil(tiny, 2, RUN)
    assert torch.equal(packed.images, ncfm.images) and torch.equal(packed.labels, ncfm.labels)
    assert decoded_per_class(packed) == 8 and packed.ipc == 2 and packed.meta["multi_formation"] == 2


def test_random_decoded_holds_the_real_images_random_packed_packs(tiny):
    decoded = create_distiller("random-decoded").distil(tiny, 2, RUN)
    packed = create_distiller("random-packed").distil(tiny, 2, RUN)
    assert decoded.labels.bincount().tolist() == [8] * 10 and decoded_per_class(decoded) == 8
    real = tiny.normalised()
    assert all((real == image).flatten(1).all(1).any() for image in decoded.images)  # unaltered real images
    assert torch.allclose(decode(encode(decoded.images, 2), 2), packed.images, atol=1e-5)


def test_baselines_of_a_multi_formation_set_hold_storage_and_decoded_count_equal(tiny):
    ncfm_like = create_distiller("random-packed").distil(tiny, 2, RUN)  # manifest meta as NCFM's
    dm_like = create_distiller("random").distil(tiny, 2, RUN)
    assert [name for name, _, _ in equal_budget_controls(dm_like)] == ["random"]
    controls = equal_budget_controls(ncfm_like)
    assert [name for name, _, _ in controls] == ["random", "random-packed", "random-decoded"]
    for name, settings, _ in controls:
        made = create_distiller(name, settings).distil(tiny, 2, RUN)
        assert decoded_per_class(made) == (2 if name == "random" else 8)


def test_each_seed_draws_its_own_baseline_set():
    draws = {}
    for name in ("random", "random-decoded"):
        for seed in (0, 1):
            path = distil(name, "mnist-tiny", 2, seed, progress=False, log=lambda s: None)
            synset, _ = read_synset(path, "mnist-tiny")
            assert synset.meta["seed"] == seed
            draws[name, seed] = synset.images
        assert not torch.equal(draws[name, 0], draws[name, 1])
        assert distil(name, "mnist-tiny", 2, 1, progress=False, log=lambda s: None) == path  # cached


def test_records_say_how_many_images_per_class_a_set_decodes(tiny, tmp_path):
    path = distil("random-decoded", "mnist-tiny", 1, 0, progress=False, log=lambda s: None)
    synset, sha = read_synset(path)
    (record,) = evaluate_synset(synset, sha, ["convnet"], [0], PROTOCOLS.get("smoke"), RecordStore(tmp_path / "r.jsonl"),
                                progress=False)
    assert record["ipc"] == 1 and record["extra"]["images_per_class"] == 4


def test_check_init_warns_below_what_multi_formation_initialises_from(tiny):
    ncfm = create_distiller("ncfm", {"real_batch": 8})  # a batch the class holds: no real-batch warning
    assert ncfm.check_init(tiny, 5) == []  # 4 x 5 = 20 = the class size
    (first, *_) = ncfm.check_init(tiny, 6)  # 4 x 6 = 24 > 20
    assert "has 20 real images < the 24 the initialisation draws" in first
    assert create_distiller("csdm").check_init(tiny, 6) and create_distiller("dm", {"real_batch": 8}).check_init(tiny, 6) == []
    with pytest.raises(HarnessError, match="takes 24 real images per class.*use --ipc 5 or less"):
        create_distiller("random-decoded").check_init(tiny, 6)
