"""Registries, did-you-mean and the one-line errors every command gives for bad input."""

import pytest

from harness.registry import Registry, UnknownNameError


def test_registry_collision_and_suggestion():
    reg = Registry("widget")
    reg.register("convnet")(object())
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("convnet")(object())
    with pytest.raises(UnknownNameError) as err:
        reg.get("convnte")
    assert "did you mean 'convnet'" in str(err.value).lower()
    assert "\n" not in str(err.value)


def _run(main, argv, capsys):
    from commands._common import run_command

    with pytest.raises(SystemExit) as exit_info:
        run_command(main, argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert len(err.splitlines()) == 1, err
    return err


def test_unknown_distiller(capsys):
    from commands.distill import main

    err = _run(main, ["--distiller", "dmm", "--dataset", "mnist-tiny"], capsys)
    assert "unknown distiller 'dmm'" in err and "Did you mean 'dm'" in err


def test_unknown_dataset(capsys):
    from commands.distill import main

    err = _run(main, ["--distiller", "random", "--dataset", "fashon-mnist"], capsys)
    assert "unknown dataset" in err and "'fashion-mnist'" in err


def test_unknown_arch(capsys, tiny):
    from commands.evaluate import main
    from distillers._runner import distil

    path = distil("random", "mnist-tiny", 1, progress=False, log=lambda s: None)
    err = _run(main, ["--synset", str(path), "--arch", "resnet81", "--protocol", "smoke"], capsys)
    assert "unknown architecture 'resnet81'" in err and "resnet18" in err


def test_evaluate_from_a_first_seed_records_those_seeds(capsys, tiny):
    """--first-seed K --seeds N trains seeds K..K+N-1 (each set of a paired comparison its own draws)."""
    from commands.evaluate import main
    from distillers._runner import distil
    from harness.records import load_records, records_path

    path = distil("random", "mnist-tiny", 1, progress=False, log=lambda s: None)
    main(["--synset", str(path), "--protocol", "smoke", "--first-seed", "7", "--seeds", "2", "--no-progress"])
    assert sorted(load_records([records_path("evaluate")]).seed) == [7, 8]


def test_unknown_setting(capsys):
    from commands.distill import main

    err = _run(main, ["--distiller", "dm", "--dataset", "mnist-tiny", "--set", "lr_image=2"], capsys)
    assert "no setting 'lr_image'" in err and "lr_images" in err


def test_ipc_larger_than_class(capsys):
    from commands.distill import main

    err = _run(main, ["--distiller", "random", "--dataset", "mnist-tiny", "--ipc", "50"], capsys)
    assert "--ipc 50 is larger than class" in err and "--ipc 20 or less" in err


def test_distill_says_its_budget_before_starting(capsys, tiny):
    from commands.distill import main

    main(["--distiller", "dm", "--dataset", "mnist-tiny", "--ipc", "1", "--iterations", "1", "--real-batch", "4",
          "--no-progress"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("distill: dm, budget quick: 1 iterations of 4 real images per class "
                     "(iterations and real_batch from the command line, the rest from the budget)")
    main(["--distiller", "dm", "--dataset", "mnist-tiny", "--ipc", "1", "--iterations", "1", "--no-progress"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("(iterations from the command line, the rest from the budget)")


def test_distill_defaults_to_the_quick_budget_and_names_the_published_one(capsys, tiny):
    """The default finishes in minutes on a CPU; --budget paper is the distiller's own (published)
    budget; either is in the artifact's manifest, not only in the message."""
    from commands.distill import main
    from harness.synset import load_synset

    main(["--distiller", "dm", "--dataset", "mnist-tiny", "--ipc", "1", "--no-progress"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("distill: dm, budget quick: 100 iterations of 32 real images per class")
    assert load_synset(out[-1]).meta["config"]["iterations"] == 100
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--budget BUDGET distillation budget under the flags above, one of: paper, quick (default: quick)" in text


def test_help_shows_every_default_including_zero(capsys):
    from commands.distill import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "distillation seed (default: 0)" in text and "(required)" in text


def test_ls_lists_every_registry(capsys):
    from commands import main

    main(["ls"])
    out = capsys.readouterr().out
    for word in ("mnist", "convnet", "dm", "random", "paper"):
        assert word in out
