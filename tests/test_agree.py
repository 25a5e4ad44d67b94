"""``python -m harness agree``: the one-step agreement with the authors' code. The checks themselves
run when ``DD_AUTHORS_NCFM`` / ``DD_AUTHORS_DM`` name a checkout (gszfwsb/NCFM,
VICO-UoE/DatasetCondensation); the error paths and the harness-side machinery always run."""

from __future__ import annotations

import os
import sys

import pytest
import torch

import agreement
from agreement import TOLERANCE, Check, run_checks
from agreement._common import authors_code, default_dtype, relative_error, synthetic_data
from commands import entry_point

CHECKOUTS = {"ncfm": "DD_AUTHORS_NCFM", "dm": "DD_AUTHORS_DM"}


@pytest.mark.parametrize("code", sorted(CHECKOUTS))
def test_the_harness_agrees_with_the_authors_code_in_float64(code):
    path = os.environ.get(CHECKOUTS[code])
    if not path:
        pytest.skip(f"{CHECKOUTS[code]} does not name a checkout of {agreement.repository(code)}")
    results = run_checks(code, path, "float64")
    assert len(results) == {"ncfm": 14, "dm": 2}[code]
    assert [r for r in results if not r.error <= TOLERANCE["float64"]] == []


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as stop:
        entry_point("agree", list(argv))
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


@pytest.mark.parametrize("code", sorted(CHECKOUTS))
def test_a_missing_or_wrong_checkout_is_one_line_and_exit_2(code, tmp_path, capsys):
    status, out, err = _run(capsys, "--code", code, "--authors", str(tmp_path / "nowhere"))
    assert (status, out) == (2, "") and err.count("\n") == 1 and "no such folder" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "README.md").write_text("not their code\n")
    status, out, err = _run(capsys, "--code", code, "--authors", str(tmp_path / "other"))
    assert (status, out) == (2, "") and err.count("\n") == 1
    assert f"is not a checkout of {agreement.repository(code)}: it has no" in err


def test_a_disagreeing_check_exits_1_naming_it(tmp_path, capsys, monkeypatch):
    for name in ("main_DM.py", "utils.py", "networks.py"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(agreement, "run_checks", lambda *a: [Check("dm: loss", 0.0), Check("dm: image gradient", 3e-4)])
    status, out, err = _run(capsys, "--code", "dm", "--authors", str(tmp_path))
    assert status == 1 and "DISAGREES" in out and "dm: image gradient" in err and "dm: loss" not in err


def test_relative_error_is_measured_against_the_tensors_scale():
    b = torch.tensor([1.0, -4.0, 1e-12])
    assert relative_error(b + torch.tensor([0.0, 0.0, 1e-3]), b) == pytest.approx(2.5e-4)
    assert relative_error([b, b], [b, 2 * b]) == pytest.approx(0.5)  # the largest over the pairs: 4 / 8
    assert relative_error([b], [b, b]) == float("inf") and relative_error(b[:2], b) == float("inf")


def test_a_checkout_is_importable_only_inside_its_block(tmp_path):
    """Two checkouts with a module of the same name (DM's utils.py, NCFM's utils/) never see each other's."""
    for name, value in (("one", 1), ("two", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "utils.py").write_text(f"VALUE = {value}\n")
    with authors_code(tmp_path / "one", ("utils.py",), "someone/one"):
        import utils

        assert utils.VALUE == 1
        with authors_code(tmp_path / "two", ("utils.py",), "someone/two"):
            import utils

            assert utils.VALUE == 2
        assert sys.modules["utils"].VALUE == 1
    assert "utils" not in sys.modules and str(tmp_path / "one") not in sys.path


def test_ncfm_official_runs_in_float64_on_a_random_pool_it_loads_itself():
    """The NCFM check's harness side: ncfm-official set up on random images and a random pool
    written where its hybrid extractor loads it (no training), every tensor in float64."""
    from agreement.ncfm import random_pool
    from distillers import RunContext, create_distiller

    data = synthetic_data("agree-test", 2, 16, 1, 28, (0.5,), (0.25,))
    before = os.environ["DD_OUTPUT"]
    with default_dtype(torch.float64):
        ncfm = create_distiller("ncfm-official", {"real_batch": 4, "pretrained": 2, "dsa": False, "num_freqs": 64})
        ncfm.classes = [0, 1]
        with random_pool(ncfm, data):
            ncfm.setup(data, 1, RunContext(progress=False, log=lambda s: None), [])
        assert os.environ["DD_OUTPUT"] == before
        loss = ncfm.step(0)
    assert loss > 0 and ncfm.images.dtype == torch.float64
    assert ncfm.extractor(0, 0).classifier.weight.dtype == torch.float64
    assert len(ncfm.extractor.pairs) == 2
