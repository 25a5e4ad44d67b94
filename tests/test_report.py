"""Reports: collation of every section (records written through RecordStore), the fingerprint split,
both renderers carrying the same content, artifact lookup for the image grids, and the command."""

from __future__ import annotations

import io
import math
import re

import matplotlib.image as mpimg
import pytest
from report_fixtures import (
    LONGER,
    SMOKE,
    add_accuracy,
    add_bench,
    add_continual,
    add_debias,
    add_everything,
    add_long_tailed,
    add_nas,
    parse_page,
    proto,
    store,
    tiny_synset,
)

from commands.report import main as report_main
from harness.metrics.stats import paired_difference, summarize
from harness.records import load_records
from reports import build_report
from reports import collate as C
from reports.sections import build_sections
from tasks import report_sections
from tasks.continual.report import continual_summary
from tasks.debias.report import debias_frame, debias_groups, debias_summary
from tasks.nas.report import nas_points, nas_summary


def sections_by_anchor(output_dir):
    return {s.anchor: s for s in build_sections(load_records(), [output_dir / "synsets"], report_sections())}


def test_overview_summary_and_gain_paired_by_seed():
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 64.0, 2: 62.0, 3: 70.0})
    add_accuracy("evaluate", "random", {0: 50.0, 1: 51.0, 2: 55.0})  # seed 3 has no random partner
    add_accuracy("evaluate", "dm", {0: 58.0})  # a re-run of seed 0 averages with the first
    s = C.accuracy_summary(load_records()).set_index("distiller")
    assert s.loc["dm", "n"] == 4 and s.loc["dm", "mean"] == pytest.approx(summarize([59.0, 64.0, 62.0, 70.0])["mean"])
    gain = paired_difference([59.0, 64.0, 62.0], [50.0, 51.0, 55.0])
    assert s.loc["dm", "gain_n"] == 3
    assert (s.loc["dm", "gain_mean"], s.loc["dm", "gain_low"]) == pytest.approx((gain["mean"], gain["ci_low"]))
    assert s.loc["random", "gain_n"] == 0 and math.isnan(s.loc["random", "gain_mean"])


def test_fingerprints_never_share_a_column(output_dir):
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 62.0}, protocol=SMOKE)
    add_accuracy("evaluate", "dm", {0: 80.0, 1: 82.0}, protocol=LONGER)
    add_accuracy("evaluate", "random", {0: 50.0, 1: 52.0}, protocol=SMOKE)
    overview = sections_by_anchor(output_dir)["overview"]
    assert len(overview.blocks) == 2  # one table per fingerprint
    by_fp = {fp: [t for t in overview.blocks if fp in t.caption] for fp in (SMOKE.fingerprint(), LONGER.fingerprint())}
    [smoke], [longer] = by_fp.values()
    assert "61.00" in smoke.rows[0][1] and not any("81.00" in c for row in smoke.rows for c in row)
    assert longer.header == ["distiller", "mnist-tiny IPC 2 convnet: accuracy (%)"]  # no random under LONGER
    note = " ".join(overview.notes)
    assert "not comparable" in note and "epochs=5" in note and "epochs=7" in note


def test_bold_only_where_the_intervals_separate(output_dir):
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 60.5, 2: 61.0})  # 95% interval 59.0..62.0
    add_accuracy("evaluate", "random", {0: 50.0, 1: 50.5, 2: 51.0})  # 49.0..52.0: below dm's, so dm is bold
    add_accuracy("evaluate", "random", {0: 70.0, 1: 72.0}, ipc=5)
    add_accuracy("evaluate", "dm", {0: 65.0, 1: 66.0}, ipc=5)
    add_accuracy("evaluate", "random", {0: 40.0, 1: 41.0}, ipc=7)  # random only: its gain column would be empty
    table = sections_by_anchor(output_dir)["overview"].blocks[0]
    assert table.header[-1] == "mnist-tiny IPC 7 convnet: accuracy (%)"
    table.header, table.rows, table.bold = table.header[:-1], [r[:-1] for r in table.rows], [b[:-1] for b in table.bold]
    rows = {r[0]: (r, b) for r, b in zip(table.rows, table.bold)}
    assert table.header[1:] == ["mnist-tiny IPC 2 convnet: accuracy (%)", "mnist-tiny IPC 2 convnet: gain over random (pp)",
                                "mnist-tiny IPC 5 convnet: accuracy (%)", "mnist-tiny IPC 5 convnet: gain over random (pp)"]
    # IPC 5: two seeds each, intervals overlap (t quantile 12.7), so nothing is bold; gains: one per column
    assert rows["dm"][1] == [False, True, False, False, False] and rows["random"][1] == [False] * 5
    assert rows["dm"][0][2].startswith("+10.00") and rows["dm"][0][4].startswith("-5.50")
    assert any("wholly above" in note for note in sections_by_anchor(output_dir)["overview"].notes)


def test_sections_appear_only_when_their_records_exist(output_dir):
    add_accuracy("evaluate", "dm", {0: 60.0})
    assert set(sections_by_anchor(output_dir)) == {"overview", "provenance"}
    add_continual()
    assert set(sections_by_anchor(output_dir)) == {"overview", "continual", "provenance"}


def test_minimal_records_without_optional_fields(output_dir):
    store("evaluate").append({"task": "evaluate", "distiller": "dm", "dataset": "mnist", "ipc": 1},
                             {"accuracy": 42.0})
    store("continual").append({"task": "continual", "distiller": "dm", "step": 0}, {"accuracy": 90.0})
    store("debias").append({"task": "debias", "distiller": "ed"}, {"accuracy": 70.0, "worst_group_accuracy": 30.0})
    sections = sections_by_anchor(output_dir)
    assert {"overview", "continual", "debias", "provenance"} <= set(sections)
    assert sections["overview"].blocks[0].rows == [["dm", "42.00 (n=1, no interval)"]]
    md, html = build_report(load_records(), output_dir / "reports", "minimal", task_sections=report_sections())
    assert "42.00 (n=1, no interval)" in md.read_text() and "unknown" in html.read_text()


def test_continual_nas_debias_and_long_tailed_numbers(output_dir):
    add_continual()
    add_nas()
    add_debias()
    add_long_tailed()
    add_bench()
    records = load_records()
    cl = continual_summary(records).set_index(["memory", "step"])
    assert cl.loc[("dm", 3), "mean"] == pytest.approx(30.5) and cl.loc[("dm", 3), "n"] == 2
    nas = nas_summary(nas_points(records)).set_index("distiller")
    assert nas.loc["dm", "rho"] == pytest.approx(1.0) and nas.loc["dm", "tau"] == pytest.approx(1.0)
    assert nas.loc["random", "rho"] < 0 and nas.loc["random", "top1_ground_truth"] == 60.0
    assert nas.loc["dm", "top1_ground_truth"] == nas.loc["dm", "best_ground_truth"] == 90.0 and nas.loc["dm", "k"] == 5
    bench = C.bench_summary(load_records()).set_index("distiller")
    assert sorted(bench.index) == ["dm", "ncfm"] and bench.loc["ncfm", "seconds_per_iteration"] == 0.12
    assert (bench.loc["ncfm", "dataset"], bench.loc["ncfm", "peak_memory_mb"]) == ("cifar10", 1400.0)
    groups = debias_groups(debias_frame(records)).set_index(["method", "group"])
    assert groups.loc[("ed+critics", "label=0,attr=1"), "mean"] == pytest.approx(55.5)
    shots = C.shot_group_summary(C.long_tailed_frame(records)).set_index(["distiller", "group"])
    assert shots.loc[("csdm", "few"), "mean"] == pytest.approx(50.0)
    per_class = C.per_class_summary(C.long_tailed_frame(records)).set_index(["distiller", "class_index"])
    assert per_class.loc[("random", 9), "mean"] == pytest.approx(40.0)

    sections = sections_by_anchor(output_dir)
    debias_tables = [b for b in sections["debias"].blocks if hasattr(b, "rows")]
    assert [t.caption.split(":")[0] for t in debias_tables] == [  # the summary, every seed, every group
        "Average and worst-group accuracy (%)", "Worst-group accuracy (average in brackets) per seed (%)",
        "Per-group accuracy (%)"]
    assert debias_tables[0].header[1:] == ["average", "average: median [IQR]", "worst group",
                                           "worst group: median [IQR]"]
    assert debias_tables[2].header[1:] == ["label=0,attr=0", "label=0,attr=1", "label=1,attr=0", "label=1,attr=1"]
    shot_table = [b for b in sections["long-tailed"].blocks if hasattr(b, "rows")][0]
    assert shot_table.header == ["distiller", "many-shot", "medium-shot", "few-shot"]
    assert "mnist-lt (IF 100)" in shot_table.caption


def test_image_grid_finds_artifacts_by_path_and_by_checksum(output_dir):
    path, sha = tiny_synset(distiller="dm")
    other, other_sha = tiny_synset(ipc=3, distiller="herding")
    add_accuracy("evaluate", "dm", {0: 60.0}, sha=sha, extra={"synset": str(path)})
    add_accuracy("evaluate", "herding", {0: 55.0}, sha=other_sha, ipc=3)  # no path: found by its manifest
    add_accuracy("evaluate", "gone", {0: 50.0}, sha="0" * 64)
    images = sections_by_anchor(output_dir)["images"]
    assert [b.caption.split(",")[0] for b in images.blocks] == ["dm", "herding"]
    grid = mpimg.imread(io.BytesIO(images.blocks[1].png), format="png")
    assert grid.shape[0] > 100 and grid.std() > 0.05  # real digits, not a blank canvas
    assert "1 synthetic set(s) named by records were not found" in images.notes[0]


def test_markdown_and_html_carry_the_same_content(output_dir):
    add_everything()
    md_path, html_path = build_report(load_records(), output_dir / "reports", "All sections", task_sections=report_sections())
    md, html = md_path.read_text(), html_path.read_text()
    page = parse_page(html)
    assert len(page.tables) >= 12
    md_lines = set(md.replace("**", "").splitlines())
    for table in page.tables:
        for row in table:
            assert "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" in md_lines
    for cell in page.bold:
        assert f"**{cell}**" in md
    figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert re.findall(r'<section id="([^"]+)"', html) == ["overview", "images", "transfer", "continual", "nas",
                                                         "debias", "long-tailed", "efficiency", "provenance"]
    assert len(figures) == len(page.images) == 8  # grid, heatmap, curves, scatter, bars, per-class, 2 x cost
    assert all((md_path.parent / f).stat().st_size > 1000 for f in figures)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)  # self-contained
    for heading in re.findall(r"<h2>(.*?)</h2>", html):
        assert f"## {heading}" in md
    assert "rho" in md and SMOKE.fingerprint() in md and "git commit" in md


def test_report_command_writes_both_files(output_dir, capsys):
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 62.0})
    report_main([])
    out = capsys.readouterr().out
    assert f"markdown: {output_dir / 'reports' / 'report.md'}" in out and "report.html" in out
    assert (output_dir / "reports" / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_report_command_without_records_says_what_to_run(tmp_path, capsys):
    from commands._common import run_command

    with pytest.raises(SystemExit) as exc:
        run_command(report_main, ["--output", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "python -m harness.evaluate" in err


def test_empty_records_render_an_empty_report(tmp_path):
    md, html = build_report(load_records([]), tmp_path / "out", "Nothing yet", task_sections=report_sections())
    assert "No records to report" in md.read_text() and "No records to report" in html.read_text()


def test_sets_of_one_distiller_with_different_settings_are_not_pooled(output_dir):
    long_path, long_sha = tiny_synset(distiller="dm")
    short_path, short_sha = tiny_synset(ipc=2, distiller="dm", iterations=1, name="short")
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 62.0}, sha=long_sha)
    add_accuracy("transfer", "dm", {0: 20.0, 1: 22.0}, sha=short_sha)
    table = sections_by_anchor(output_dir)["overview"].blocks[0]
    assert [r[0] for r in table.rows] == ["dm [iterations=1]", "dm [iterations=4]"]
    assert table.rows[0][1].startswith("21.00") and table.rows[1][1].startswith("61.00")


def test_a_setting_left_at_its_default_is_labelled_with_its_value(output_dir):
    """A manifest leaves a later setting out at its default (artifact identity): the label still
    names the default's value, not 'none'."""
    _, default_sha = tiny_synset(distiller="ncfm")
    _, longer_sha = tiny_synset(distiller="ncfm", name="longer", config={"pretrain": "cpu-10epoch"})
    add_accuracy("evaluate", "ncfm", {0: 60.0}, sha=default_sha)
    add_accuracy("evaluate", "ncfm", {0: 70.0}, sha=longer_sha)
    table = sections_by_anchor(output_dir)["overview"].blocks[0]
    assert [r[0] for r in table.rows] == ["ncfm [pretrain=cpu-10epoch]", "ncfm [pretrain=cpu-2epoch]"]


def test_debias_keeps_splits_and_settings_apart(output_dir):
    s = store("debias")
    for split, weight, worst in (("val", 1.0, 0.0), ("val", 100.0, 40.0), ("test", 100.0, 30.0)):
        s.append({"task": "debias", "method": "ed+label+attr", "distiller": "ed-debias", "dataset": "d", "ipc": 10,
                  "seed": 0, "split": split, "distiller_config": {"attribute_weight": weight, "lr_images": 10.0},
                  **proto(SMOKE)}, {"accuracy": 60.0, "worst_group_accuracy": worst}, SMOKE.as_dict())
    summary = debias_summary(debias_frame(load_records()))
    worst = summary[summary["measure"] == "worst group"].set_index(["split", "method"])["mean"]
    assert worst.to_dict() == {("test", "ed+label+attr"): 30.0,  # one config in the test table
                               ("val", "ed+label+attr (attribute_weight=1.0)"): 0.0,
                               ("val", "ed+label+attr (attribute_weight=100.0)"): 40.0}
    captions = [b.caption for b in sections_by_anchor(output_dir)["debias"].blocks if hasattr(b, "rows")]
    summaries = [c for c in captions if c.startswith("Average and worst-group")]  # one summary table per split
    assert sum("val split" in c for c in summaries) == 1 and sum("test split" in c for c in summaries) == 1


def test_revisions_of_an_architecture_are_never_pooled():
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 62.0}, arch_fingerprint="aaaaaaaaaaaa")
    add_accuracy("evaluate", "dm", {0: 70.0, 1: 72.0}, arch_fingerprint="bbbbbbbbbbbb")  # e.g. after a fix
    add_accuracy("evaluate", "dm", {0: 50.0}, arch="vgg11", arch_fingerprint="cccccccccccc")
    s = C.accuracy_summary(load_records()).set_index("arch")["mean"]
    assert s.to_dict() == {"convnet [aaaaaaaaaaaa]": 61.0, "convnet [bbbbbbbbbbbb]": 71.0, "vgg11": 50.0}


def test_provenance_names_the_pretraining_recipe_beside_each_distiller(output_dir):
    """The recipe that made a set's pretrained networks is read from its manifest (issue 19)."""
    from distillers import distil
    from harness.synset import sha256_file

    path = distil("herding", "mnist-tiny", 2, progress=False, log=lambda s: None)
    add_accuracy("evaluate", "herding", {0: 70.0, 1: 71.0}, sha=sha256_file(path))
    table = next(b for b in sections_by_anchor(output_dir)["provenance"].blocks
                 if getattr(b, "caption", "").startswith("Pretrained components"))
    row = dict(zip(table.header, table.rows[0]))
    assert (row["distiller"], row["component"], row["recipe"], row["classes seen"]) == (
        "herding", "extractor / embedding", "cpu-2epoch", "all")
    assert 0 <= float(row["test accuracy (%)"]) <= 100  # the networks' accuracy, already in %


def test_provenance_says_which_loop_made_a_cfd_ed_set(output_dir):
    """cfd-ed runs in DM's loop while the paper's CFD-ED row ran in NCFM's code: the manifest's
    ``pipeline`` reaches the report's provenance notes."""
    from distillers import distil
    from harness.synset import sha256_file

    path = distil("cfd-ed", "mnist-tiny", 1, overrides={"iterations": 1, "real_batch": 4, "num_freqs": 8,
                                                        "critic_pretrain_images": 60}, progress=False, log=lambda s: None)
    add_accuracy("evaluate", "cfd-ed", {0: 50.0}, ipc=1, sha=sha256_file(path))
    notes = sections_by_anchor(output_dir)["provenance"].notes
    assert any(n.startswith("cfd-ed ran in DM's random-network loop") and "NCFM authors' code" in n for n in notes)
