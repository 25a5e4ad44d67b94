"""The agreement page pairs the authors' and the harness's evaluations of the same files by seed,
and says a harness cell agrees only when the paired difference is small and its interval holds 0."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.records import records_frame
from reports.agreement import CELLS, EarlierRun, agreement_cells, agreement_page, cell_table

SEEDS = range(5)


def _records(shift_harness_sets: float, shift_harness_eval: float, code: str = "dm"):
    """Authors' files a<seed> and harness artifacts h<seed> (prefixed by ``code`` but for dm), each
    authors' record naming its distillation command; harness sets score ``shift_harness_sets``
    higher, the harness evaluation ``shift_harness_eval`` higher, plus a seed-to-seed wobble."""
    records, manifests = [], {}
    for seed in SEEDS:
        wobble = (-1) ** seed * 0.2 * seed
        prefix = "" if code == "dm" else code
        for maker, file_sha in (("authors", f"{prefix}a{seed}"), ("harness", f"{prefix}h{seed}")):
            base = 80 + seed + (shift_harness_sets if maker == "harness" else 0)
            records.append({"task": "authors-eval", "code": code, "set_sha256": file_sha, "set_maker": maker,
                            "set_seed": seed, "seed": 0, "authors_evaluation": "evaluate_synset E=300",
                            "metrics": {"accuracy": base}, "extra": {"distill_argv": [f"{code}_main.py", "--ipc", "10"]}})
            artifact = f"imported-{file_sha}" if maker == "authors" else file_sha
            manifests[artifact] = {"sha256": artifact, "origin": {"sha256": file_sha}} if maker == "authors" else {
                "sha256": artifact, "config": {"iterations": 100}}
            records.append({"task": "evaluate", "synset_sha256": artifact, "protocol_name": "dm-authors-300",
                            "protocol_fingerprint": "abc", "metrics": {"accuracy": base + shift_harness_eval + wobble}})
    for error in (1e-7, 1e-13):  # a rerun's record replaces the earlier one
        records.append({"task": "agree", "code": "dm", "check": "dm: image gradient", "dtype": "float64",
                        "authors_files_sha256": "f00", "git_commit": "c0ffee",
                        "metrics": {"max_rel_error": error, "tolerance": 1e-6, "agrees": True}})
    records.append({"task": "evaluate", "synset_sha256": "unrelated", "protocol_name": "quick",
                    "protocol_fingerprint": "x", "metrics": {"accuracy": 10.0}})
    return records_frame(records), manifests


def test_cells_are_matched_through_the_imported_origin_and_unrelated_sets_left_out():
    frame, manifests = _records(0.0, 0.0)
    cells = agreement_cells(frame, manifests)
    assert len(cells) == 4 * len(SEEDS)
    assert cell_table(cells.query("set_seed < 4")).agrees.isna().all()  # fewer than 5 seeds: shown, not judged
    assert set(cells.groupby(["maker", "evaluator"]).size()) == {len(SEEDS)}
    assert 10.0 not in set(cells.accuracy)


def test_agreement_needs_a_small_difference_whose_interval_holds_zero():
    frame, manifests = _records(0.0, 0.0)
    table = cell_table(agreement_cells(frame, manifests)).set_index(["set made by", "evaluated by"])
    assert table.loc[("harness", "authors"), "agrees"]  # identical values: difference 0
    assert table.loc[("authors", "harness"), "agrees"]  # a seed-to-seed wobble of mean +0.2 points
    frame, manifests = _records(3.0, 0.0)
    table = cell_table(agreement_cells(frame, manifests)).set_index(["set made by", "evaluated by"])
    assert not table.loc[("harness", "authors"), "agrees"]
    assert round(table.loc[("harness", "authors"), "diff_mean"], 6) == 3.0
    assert pd.isna(table.loc[("authors", "authors")].get("agrees"))  # the reference cell is not judged


def test_page_names_every_cell_and_the_command_that_regenerates_it():
    frame, manifests = _records(0.0, 5.0)
    page = agreement_page(frame, manifests, "python -m harness agreement-page")
    assert "python -m harness agreement-page" in page and "## dm: 2 x 2 cross-evaluation" in page
    assert page.count("| authors | harness |") == 1 and "**no**" in page  # the +5 harness evaluation disagrees
    assert "dm-authors-300 (abc)" in page and "iterations=100" in page
    assert "| dm | dm: image gradient | float64 | 1.0e-13 |" in page and "1.0e-07" not in page


def test_an_earlier_run_is_shown_under_its_code_after_the_current_cells():
    current, manifests = _records(0.0, 0.0)
    before, before_manifests = _records(0.0, 5.0)
    page = agreement_page(current, manifests, "regenerate",
                          (EarlierRun("before-the-fix", "The harness evaluated otherwise.", before, before_manifests),))
    now, then = page.split("## dm:")[1].split("## One-step")[0].split("### Earlier run: before-the-fix")
    assert "**no**" not in now and "The harness evaluated otherwise." in then and "**no**" in then
    assert all(f"| {maker} | {evaluator} |" in then for maker, evaluator in CELLS)


def test_an_earlier_run_without_its_about_note_is_refused(tmp_path, capsys):
    from commands import entry_point

    folder = tmp_path / "earlier" / "first"
    (folder / "records").mkdir(parents=True)
    (tmp_path / "records").mkdir()
    line = '{"schema": 1, "key": "k", "task": "authors-eval", "metrics": {"accuracy": 1.0}}\n'
    for records in (tmp_path / "records", folder / "records"):
        (records / "authors-eval.jsonl").write_text(line)
    with pytest.raises(SystemExit) as exit_:
        entry_point("agreement-page", ["--output", str(tmp_path), "--page", str(tmp_path / "page.md")])
    assert exit_.value.code == 2 and "has no about.md" in capsys.readouterr().err
    assert not (tmp_path / "page.md").exists()


def test_each_code_section_names_only_its_own_authors_command():
    frames = [_records(0.0, 0.0, code) for code in ("dm", "ncfm")]
    page = agreement_page(pd.concat([f for f, _ in frames]), {**frames[0][1], **frames[1][1]}, "regenerate")
    for code, other in (("dm", "ncfm"), ("ncfm", "dm")):
        section = page.split(f"## {code}:")[1].split("## ")[0]
        assert f"- authors' distillation: `{code}_main.py --ipc 10`" in section and f"{other}_main.py" not in section


def test_the_teacher_pool_both_sides_load_is_named_with_its_files():
    frame, manifests = _records(0.0, 0.0)
    pool = {"recipe": {"name": "imported-4aaf6081591a", "models": 2, "source": "their pretrain_script.py",
                       "files": [["premodel0_init.pth.tar", "67aa65ee330c6001"], ["premodel0_trained.pth.tar", "a0a7ac58f964"]]},
            "networks": [{"seed": 0, "test_accuracy": 76.41}, {"seed": 1, "test_accuracy": 76.0}]}
    for seed in SEEDS:
        manifests[f"h{seed}"]["pretraining"] = pool
    page = agreement_page(frame, manifests, "python -m harness agreement-page")
    assert ("- teacher pool (both sides): `imported-4aaf6081591a`, 2 networks, test accuracy 76.41 / 76.00 %: "
            "their pretrain_script.py; files premodel0_init.pth.tar (67aa65ee330c), premodel0_trained.pth.tar "
            "(a0a7ac58f964)") in page


def test_the_committed_page_is_what_the_committed_records_give(tmp_path, monkeypatch):
    """docs/agreement.md is generated, never typed: regenerating it from the records and manifests
    shipped beside it (docs/agreement-data) gives the same page, byte for byte."""
    from commands import entry_point

    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the page names the folder as typed
    entry_point("agreement-page", ["--output", "docs/agreement-data", "--page", str(tmp_path / "agreement.md")])
    page = (tmp_path / "agreement.md").read_text()
    assert page == Path("docs/agreement.md").read_text()
    for code in ("dm", "ncfm"):  # the shipped folder holds manifests only, no tensors: every cell is still matched
        section = page.split(f"## {code}:")[1].split("## ")[0]
        assert all(f"| {maker} | {evaluator} |" in section for maker, evaluator in CELLS), code
