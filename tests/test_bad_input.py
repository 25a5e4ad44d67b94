"""Every command refuses bad input before any work: exit status 2, one line on stderr naming what
is wrong, no traceback, and nothing written under the output folder."""

from __future__ import annotations

import os

import pytest

from commands import COMMANDS, entry_point

ARTIFACT = "{artifact}"  # replaced by a real random-subset artifact of mnist-tiny
FILE = "{file}"  # replaced by a path to an existing regular file

CASES = [  # (command, argv, a fragment of the one-line error)
    ("distill", ["--distiller", "dmm"], "Did you mean 'dm'"),
    ("distill", ["--distiller", "random", "--dataset", "fashon-mnist"], "'fashion-mnist'"),
    ("distill", ["--distiller", "dm", "--real-batch", "0"], "--real-batch: expected a whole number >= 1, got 0"),
    ("distill", ["--distiller", "dm", "--checkpoint-every", "0"], "--checkpoint-every"),
    ("distill", ["--distiller", "dm", "--iterations", "0"], "--iterations"),
    ("distill", ["--distiller", "dm", "--iterations", "-3"], "got -3"),
    ("distill", ["--distiller", "dm", "--ipc", "a"], "--ipc: expected a whole number >= 1, got 'a'"),
    ("distill", ["--distiller", "random", "--dataset", "mnist-tiny", "--imbalance", "5"], "long-tailed datasets only"),
    ("distill", ["--distiller", "random", "--dataset", "mnist-tiny", "--ipc", "50"], "--ipc 20 or less"),
    ("distill", ["--distiler", "dm"], "Did you mean '--distiller'"),
    ("distill", ["--distiller", "random", "--output", "/proc/no-such-folder"], "cannot write to the output folder"),
    ("distill", ["--distiller", "random", "--output", FILE + "/below"], "cannot write to the output folder"),
    ("evaluate", ["--synset", ARTIFACT, "--seeds", "0"], "--seeds"),
    ("evaluate", ["--synset", ARTIFACT, "--seeds", "-2"], "got -2"),
    ("evaluate", ["--synset", ARTIFACT, "--epochs", "0"], "--epochs"),
    ("evaluate", ["--synset", ARTIFACT, "--protocol", "quik"], "Did you mean 'quick'"),
    ("evaluate", ["--synset", ARTIFACT, "--archs", "resnet81"], "'resnet18'"),
    ("evaluate", ["--synset", "/no/such/set.safetensors"], "does not exist"),
    ("pretrain", ["--count", "0"], "--count"),
    ("pretrain", ["--budget", "papr"], "Did you mean 'paper'"),
    ("pretrain", ["--epochs", "0"], "--epochs"),
    ("pretrain", ["--arch", "convnt"], "Did you mean 'convnet'"),
    ("pretrain", ["--imbalance", "5"], "long-tailed datasets only"),
    ("transfer", ["--distiller", "dm", "--synset", ARTIFACT], "not both"),
    ("agreement-page", ["--page", "agreement.txt"], "--page must name a markdown file"),
    ("transfer", ["--profile", "quik"], "Did you mean 'quick'"),
    ("transfer", ["--seeds", "0"], "--seeds"),
    ("transfer", ["--full-epochs", "-1"], "--full-epochs: expected a whole number >= 0"),
    ("transfer", ["--archs", "alexnett"], "'alexnet'"),
    ("transfer", ["--distiller", "ncfm", "--set", "num_freq=64"], "Did you mean 'num_freqs'"),
    ("transfer", ["--distiller", "ncfm", "--set", "num_freqs=0"], "setting 'num_freqs' must be a whole number from 16 to 10000000, a multiple of 16, got 0"),
    ("transfer", ["--distiller", "csdm", "--set", "kernel=cauchy"], "setting 'kernel' must be one of gaussian, laplace, got 'cauchy'"),
    ("transfer", ["--synset", ARTIFACT, "--set", "num_freqs=64"], "cannot apply to --synset"),
    ("cl", ["--memory", "0"], "--memory"),
    ("cl", ["--workers", "-1"], "--workers: expected a whole number >= 0, got -1"),
    ("cl", ["--baselines", "gdumbb"], "unknown baseline 'gdumbb'"),
    ("cl", ["--distillers", "herding"], "baseline memory"),
    ("cl", ["--dataset", "mnist-tiny", "--steps", "3", "--no-progress"], "does not split 10 classes evenly"),
    ("nas", ["--cells", "0"], "--cells"),
    ("nas", ["--search-protocol", "cpuu"], "Did you mean 'cpu'"),
    ("nas", ["--ground-truth", "trian"], "Did you mean 'train'"),
    ("nas", ["--archs", "20"], "--archs is now --cells"),
    ("nas", ["--gt-budget", "cpu"], "measured under cpu-decay-4x, not cpu: add --ground-truth train"),
    ("distill", ["--distiller", "dm", "--output", "set.safetensors"], "use --artifact PATH"),
    ("distill", ["--distiller", "dm", "--budget", "quik"], "Did you mean 'quick'"),
    ("nas-truth", ["--cells", "0"], "--cells"),
    ("nas-truth", ["--gt-budget", "cpuu"], "Did you mean 'cpu'"),
    ("debias", ["--methods", "ed+lable"], "Did you mean 'ed+label'"),
    ("debias", ["--split", "train"], "invalid choice"),
    ("debias", ["--seeds", "0"], "--seeds"),
    ("debias", ["--set", "real_sampling=grop"], "Did you mean 'group'"),
    ("sweep", ["--distillers", "dm", "--ipc", "a"], "--ipc"),
    ("sweep", ["--distillers", "dm", "--ipc", "0"], "--ipc"),
    ("sweep", ["--distillers", "random", "--datasets", "mnist-tiny", "--ipc", "99999"], "--ipc 20 or less"),
    ("sweep", ["--distillers", "dm", "--datasets", "mnsit"], "Did you mean 'mnist'"),
    ("sweep", ["--distillers", "dm", "--executor", "slurm"], "srun"),
    ("sweep", ["--grid", FILE], "must hold a YAML mapping"),
    ("sweep", ["--grid", "/no/such/grid.yaml"], "cannot read the grid"),
    ("bench", ["--only", "distil"], "Did you mean 'distill'"),
    ("bench", ["--repeats", "0"], "--repeats"),
    ("report", ["--title"], "expected one argument"),
    ("validate", ["/no/such/set.safetensors"], "does not exist"),
    ("import", ["/no/such/set.pt", "--dataset", "mnist"], "does not exist"),
    ("ls", ["--bogus"], "unknown flag --bogus"),
    ("agree", ["--code", "ncfm", "--authors", "/no/such/checkout"], "no such folder"),
    ("agree", ["--code", "ncf", "--authors", "."], "invalid choice: 'ncf'"),
    # checks that need the data's numbers, made from the registered class counts before anything is read
    ("distill", ["--distiller", "random", "--dataset", "mnist-tiny-lt", "--imbalance", "50"], "use a number from 1 to 20"),
    ("distill", ["--distiller", "herding", "--dataset", "mnist-tiny-lt", "--ipc", "5"], "use --ipc 1 or less"),
    ("distill", ["--distiller", "random", "--artifact", "/"], "is an existing folder"),
    ("transfer", ["--distiller", "ncfm", "--dataset", "mnist-tiny", "--ipc", "6"], "random-decoded takes 24 real images"),
    ("transfer", ["--distiller", "random", "--dataset", "mnist-tiny", "--ipc", "5", "--references", "1"],
     "the reference rows draw 10 x IPC = 50"),
    ("cl", ["--dataset", "mnist-tiny", "--memory", "21"], "--memory 21 is larger than class"),
    ("cl", ["--dataset", "mnist-tiny", "--distillers", "ncfm", "--memory", "6"], "use --memory 5 or less"),
    ("nas", ["--ipc", "7000"], "--ipc 7000 is larger than class"),
    ("nas", ["--nb201-file", FILE], "--ground-truth official only"),
    ("nas-truth", ["--dataset", "fashon-mnist"], "Did you mean 'fashion-mnist'"),
    ("debias", ["--dataset", "colored-mnist-spurious-tiny", "--ipc", "195"], "is larger than class"),
    ("debias", ["--dataset", "colored-mnist-spurious-tiny", "--set", "arch=convnt"], "Did you mean 'convnet'"),
    ("pretrain", ["--dataset", "mnist-tiny", "--classes", "10"], "--classes 10 not in mnist-tiny"),
    ("pretrain", ["--dataset", "mnist-tiny", "--images", "201"], "more than mnist-tiny's 200 training images"),
    ("sweep", ["--distillers", "herding", "--datasets", "mnist-lt", "--ipc", "100"], "use --ipc 54 or less"),
    ("bench", ["--only", "all", "distill"], "or all alone"),
    ("evaluate", ["--synset", ARTIFACT, "--dataset", "mnsit"], "Did you mean 'mnist'"),
    ("evaluate", ["--synset", ARTIFACT, "--first-seed", "4294967295", "--seeds", "2"], "past the last 32-bit seed"),
    ("import-pool", ["/no/such/pool", "--dataset", "mnist-tiny"], "is not a folder"),
    ("import-pool", [FILE, "--dataset", "mnist-tiny"], "is not a folder"),
    ("import-pool", ["/", "--dataset", "mnist-tiny", "--arch", "convnt"], "Did you mean 'convnet'"),
]


def _files(root) -> set[str]:
    """Every file under ``root``, not following the shared data-cache links the fixture made."""
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


def test_every_command_is_covered():
    assert {c for c, _, _ in CASES} == set(COMMANDS.names())


@pytest.mark.parametrize("command, argv, fragment", CASES, ids=[f"{c}:{' '.join(a)}" for c, a, _ in CASES])
def test_bad_input_is_one_line_and_writes_nothing(command, argv, fragment, artifact, output_dir, tmp_path_factory,
                                                  capsys):
    file = tmp_path_factory.mktemp("file") / "plain.txt"
    file.write_text("a, b\n")
    argv = [a.replace(ARTIFACT, artifact).replace(FILE, str(file)) for a in argv]
    before = _files(output_dir)
    with pytest.raises(SystemExit) as stop:
        entry_point(command, argv)
    out = capsys.readouterr()
    assert stop.value.code == 2, out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.err, out.err
    assert fragment in lines[0], lines[0]
    assert _files(output_dir) == before


def test_unwritable_output_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("DD_OUTPUT", "/proc/no-such-folder")
    with pytest.raises(SystemExit) as stop:
        entry_point("transfer", ["--profile", "smoke", "--dataset", "mnist-tiny", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0 and "cannot write to the output folder /proc" in err


@pytest.mark.parametrize("value", ["fast", "0", ""])
def test_bad_compile_setting_is_refused_before_any_work(value, monkeypatch, output_dir, capsys):
    monkeypatch.setenv("DD_COMPILE", value)
    with pytest.raises(SystemExit) as stop:
        entry_point("transfer", ["--profile", "smoke", "--dataset", "mnist-tiny", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0 and "DD_COMPILE" in err and "auto, on, off" in err
    assert _files(output_dir) == set()


def test_report_folder_that_is_a_file(output_dir, capsys):
    from commands.report import main
    from harness.records import RecordStore, records_path

    RecordStore(records_path("evaluate")).append({"task": "evaluate", "distiller": "dm"}, {"accuracy": 50.0})
    (output_dir / "reports").write_text("not a folder")
    with pytest.raises(SystemExit) as stop:
        entry_point("report", [])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0 and "reports" in err
    assert main  # the command module imports without side effects
