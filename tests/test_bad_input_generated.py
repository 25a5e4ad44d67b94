"""Bad input as a user meets it, generated rather than listed: every value-taking flag of every
command (found by introspecting the commands' parsers) and every declared ``--set`` key of every
registered distiller gets bad values (zero, negative, NaN, infinite, empty, the wrong type, huge)
and must be refused with exit status 2 and one line on stderr, before the command's output folder
is touched. In process, ``use_output`` (called by every writing command once its checks are done)
raises instead of preparing the folder, so a value that slipped through shows as "validated"
without any work being run; a representative set runs as real processes in an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands import COMMANDS, _common, entry_point
from distillers import DISTILLERS
from distillers._settings import OneOf, Range, declared
from pool_fixtures import write_pool

ROOT = Path(__file__).resolve().parents[1]
HUGE = str(10**12)
ARTIFACT, FILE, CHECKOUT, POOL = "{artifact}", "{file}", "{checkout}", "{pool}"
BASE = {  # argv that passes every check and would run the smallest work; the bad flag comes after it
    "distill": ["--distiller", "random", "--dataset", "mnist-tiny", "--ipc", "1"],
    "evaluate": ["--synset", ARTIFACT],
    "pretrain": ["--dataset", "mnist-tiny"],
    "transfer": ["--profile", "smoke", "--dataset", "mnist-tiny"],
    "cl": ["--dataset", "fashion-mnist-tiny"],
    "nas": [],
    "nas-truth": [],
    "debias": ["--dataset", "colored-mnist-spurious-tiny"],
    "sweep": ["--distillers", "random", "--datasets", "mnist-tiny", "--ipc", "1"],
    "bench": [],
    "report": [],
    "validate": [ARTIFACT],
    "ls": [],
    "import": [ARTIFACT, "--dataset", "mnist-tiny"],
    "agree": ["--code", "dm", "--authors", CHECKOUT],
    "agreement-page": [],
    "import-pool": [POOL, "--dataset", "mnist-tiny"],
}
PATHS_IN = {"--synset", "--grid", "--nb201-file", "path", "source", "--authors"}  # files the command reads
TEXT = {"--title", "--partition", "--name", "--source", "--page"}  # free text: only an empty value is wrong


class Validated(Exception):
    """Raised in place of ``use_output``: the command's checks all passed."""


class Built(Exception):
    def __init__(self, parser):
        self.parser = parser


def _files(root) -> set[str]:
    """Every file and folder under ``root``, hidden ones too, following no link."""
    return {os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files}


def parser_of(command: str):
    """The command's parser, as its ``main`` builds it (stopped at ``parse_args``)."""
    original = _common.Parser.parse_args

    def stop(self, args=None, namespace=None):
        raise Built(self)

    _common.Parser.parse_args = stop
    try:
        entry_point(command, [])
    except Built as built:
        return built.parser
    finally:
        _common.Parser.parse_args = original
    raise AssertionError(f"{command} parsed no arguments")


def bad_values(action) -> list[str]:
    """Values the flag must refuse, from its declared kind."""
    flag = action.option_strings[0] if action.option_strings else action.dest
    kind, minimum = getattr(action.type, "kind", "text"), getattr(action.type, "minimum", None)
    if action.choices is not None:
        return ["", "no-such-choice", "nan"]
    if kind == "whole":
        return ["-1", "nan", "inf", "", "abc", "1.5", HUGE] + (["0"] if minimum >= 1 else [])
    if kind == "real":
        return ["nan", "inf", "-inf", "-1", "0", "", "abc", "1e300"]
    if kind in ("names", "whole-list"):
        return ["", ",", "zz,,zz", "zz,zz", "nan", "-1", HUGE] if not getattr(action.type, "empty_ok", False) else [
            ",", "zz,,zz", "zz,zz", "nan"]
    if kind == "name":
        return ["", "nan", "no-such-name", "0", "-1"]
    if kind == "set":
        return ["", "novalue", "=1", "no_such_key=1"]
    if kind == "output":
        return ["", FILE, "/proc/no-such-folder"]
    if flag in PATHS_IN:
        return ["", "/no/such/file.safetensors"]
    if flag == "--artifact":
        return ["", "/"]
    if flag in TEXT:
        return [""]
    raise AssertionError(f"{flag} has no declared kind: give it a typed argparse type (commands/_common.py)")


FLAG_CASES = []
for _command in COMMANDS.names():
    for _action in parser_of(_command)._actions:
        if _action.nargs == 0:  # --help and switches take no value
            continue
        for _value in bad_values(_action):
            _flag = _action.option_strings[:1]
            FLAG_CASES.append((_command, [*_flag, _value] if _flag else [_value]))


def set_values(setting) -> list[str]:
    """Values the ``--set`` key must refuse, from its declaration."""
    if setting.kind is bool:
        return ["maybe", "2", ""]
    if isinstance(setting.rule, OneOf):
        return ["", "no-such-choice", "nan"]
    rule: Range = setting.rule
    below = str(rule.low if rule.open_low else rule.low - 1)
    if isinstance(setting.kind, type):  # a number
        out = [below, "nan", "inf", "-inf", "abc", "", str(rule.high * 10 + 1)]
        return out + (["1.5"] if setting.kind is int else []) + ([str(rule.low + 1)] if rule.multiple > 1 else [])
    fixed = setting.members()[1]
    return ["a,b", "nan", below] + (["", "1"] if fixed else [])  # () is every class for a class list


SET_CASES = [(name, key, set_values(s)) for name in DISTILLERS.names()
             for key, s in declared(DISTILLERS.get(name).cls.Config).items()]


@pytest.fixture
def checked(artifact, output_dir, tmp_path_factory, monkeypatch, capsys):
    """``run(command, argv) -> (status, stderr lines)`` in process, the output folder unchanged."""
    file = tmp_path_factory.mktemp("file") / "plain.txt"
    file.write_text("a, b\n")
    checkout = tmp_path_factory.mktemp("checkout")  # the files agree's dm check looks for (its checks never run here)
    for name in ("main_DM.py", "utils.py", "networks.py"):
        (checkout / name).write_text("")
    pool = write_pool(tmp_path_factory.mktemp("pool") / "pretrained")

    use_output = _common.use_output

    def validated(folder=None):
        if folder is not None:  # --output: its own checks (it is not the folder watched here)
            use_output(folder)
        raise Validated()

    monkeypatch.setattr(_common, "use_output", validated)

    def run(command, argv):
        argv = [a.replace(ARTIFACT, artifact).replace(FILE, str(file)).replace(CHECKOUT, str(checkout))
                .replace(POOL, str(pool)) for a in argv]
        before = _files(output_dir)
        try:
            entry_point(command, argv)
            status = 0
        except SystemExit as stop:
            status = stop.code
        except Validated:
            status = "validated"
        err = capsys.readouterr().err.strip().splitlines()
        assert _files(output_dir) == before, f"{command} {argv} wrote to the output folder"
        return status, err

    return run


@pytest.mark.parametrize("command", sorted(BASE))
def test_each_base_command_line_passes_the_checks(command, checked):
    """So a refusal below is the bad value's, not the base line's."""
    status, err = checked(command, BASE[command])
    assert status in ("validated", 0), err


@pytest.mark.parametrize("command, bad", FLAG_CASES, ids=[f"{c}:{' '.join(a)}" for c, a in FLAG_CASES])
def test_every_flag_refuses_bad_values(command, bad, checked):
    status, err = checked(command, BASE[command] + bad)
    assert status == 2 and len(err) == 1 and err[0].startswith("error: "), (status, err)


@pytest.mark.parametrize("name, key, values", SET_CASES, ids=[f"{n}:{k}" for n, k, _ in SET_CASES])
def test_every_declared_setting_refuses_bad_values(name, key, values, checked):
    for value in values:
        status, err = checked("distill", [*BASE["distill"], "--distiller", name, "--set", f"{key}={value}"])
        assert status == 2 and len(err) == 1 and err[0].startswith("error: ") and key in err[0], (value, status, err)


def test_every_command_and_distiller_is_generated():
    assert {c for c, _ in FLAG_CASES} >= set(COMMANDS.names()) - {"ls"}
    assert {n for n, _, _ in SET_CASES} == {n for n in DISTILLERS.names() if declared(DISTILLERS.get(n).cls.Config)}


PROCESS_CASES = [  # (environment, command line): a representative set, typed as a user would (a process
    # costs seconds to start; every command's every flag is covered in process above)
    ({}, ["distill", "--distiller", "dm", "--set", "iterations=-5"]),
    ({}, ["distill", "--distiller", "random", "--dataset", "mnist", "--ipc", "7000"]),  # before MNIST is converted
    ({}, ["distill", "--distiller", "dm", "--device", "mps"]),
    ({"DD_OUTPUT": ""}, ["distill", "--distiller", "random", "--ipc", "1"]),
    ({}, ["transfer", "--archs", "convnet,convnet"]),
    ({}, ["cl", "--steps", "3"]),
    ({}, ["nas-truth", "--dataset", "fashon-mnist"]),
    ({}, ["evaluate", "--synset", ""]),
]


@pytest.mark.parametrize("env, argv", PROCESS_CASES, ids=[" ".join(a) for _, a in PROCESS_CASES])
def test_a_process_in_an_empty_folder_refuses_in_one_line_and_writes_nothing(env, argv, tmp_path):
    """As a user runs it: its own process, a fresh output folder with no shared cache, run from a
    fresh working folder (an output that fell back to runs/ would show there)."""
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    out.mkdir()
    cwd.mkdir()
    environ = {**os.environ, "DD_OUTPUT": str(out), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert _files(out) == set() and _files(cwd) == set()


@pytest.mark.parametrize("grid, fragment", [
    ("distillers: [dm]\nprotocol: [quick, paper]\n", "the sweep grid's 'protocol' must be a name"),
    ("distillers: [dm]\nipc: [1, '10']\n", "the sweep grid's 'ipc' must be a whole number"),
    ("distillers: [dm, dm]\n", "list of distinct ones"),
    ("distillers: []\n", "list of distinct ones"),
    ("distillers: [dm]\ndistill: [iterations]\n", "'distill' must be a mapping of settings"),
    ("distillers: [dm]\ndistill: {iterations: -5}\n", "setting 'iterations' must be a whole number"),
    ("distillers: [dm]\ndistill: {arch: convnt}\n", "Did you mean 'convnet'"),
    ("distillers: [random]\ndatasets: [mnist-lt]\nimbalance: .nan\n", "imbalance nan of mnist-lt"),
])
def test_a_bad_sweep_grid_is_refused(grid, fragment, tmp_path, checked):
    path = tmp_path / "grid.yaml"
    path.write_text(grid)
    status, err = checked("sweep", ["--grid", str(path)])
    assert status == 2 and len(err) == 1 and fragment in err[0], err
