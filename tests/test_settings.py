"""Every distiller setting declares its type and range, and a value outside it is refused when the
config is made (before any work), in one line naming the setting."""

from __future__ import annotations

from dataclasses import fields

import pytest

from distillers import DISTILLERS, create_distiller
from distillers._settings import OneOf, Range, declared
from harness.errors import HarnessError

CONFIGS = sorted({DISTILLERS.get(n).cls.Config for n in DISTILLERS.names()}, key=lambda c: c.__name__)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.__name__ for c in CONFIGS])
def test_every_setting_of_every_distiller_is_declared(config):
    settings = declared(config)
    assert set(settings) == {f.name for f in fields(config)}
    for name, s in settings.items():
        if s.kind is bool:
            assert s.rule is None, name
        elif s.kind is str:
            assert isinstance(s.rule, OneOf) and len(list(s.rule.options)) > 0, f"{config.__name__}.{name}: no choices"
        else:
            assert isinstance(s.rule, Range), f"{config.__name__}.{name}: no range"


@pytest.mark.parametrize("name", DISTILLERS.names())
def test_defaults_and_their_command_line_form_are_accepted(name):
    """Every default passes its own declaration, also when typed back as text (``--set k=v``)."""
    config = create_distiller(name).config
    for key, s in declared(type(config)).items():
        value = getattr(config, key)
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        if value != ():
            assert s.coerce(text) == value, key


@pytest.mark.parametrize("distiller, key, value, fragment", [
    ("dm", "iterations", "-5", "setting 'iterations' must be a whole number from 0 to 10000000, got -5"),
    ("dm", "iterations", "1.5", "got '1.5'"),
    ("dm", "lr_images", "nan", "setting 'lr_images' must be a finite number > 0"),
    ("dm", "lr_images", "-1", "got -1.0"),
    ("dm", "lr_images", "inf", "got inf"),
    ("dm", "momentum", "1", "< 1"),
    ("dm", "dsa", "maybe", "setting 'dsa' must be true or false, got 'maybe'"),
    ("dm", "arch", "convnt", "Did you mean 'convnet'"),
    ("ncfm", "pretrain_classes", "a,b", "setting 'pretrain_classes' must be comma-separated whole numbers"),
    ("ncfm", "pretrain_classes", "-1", "got (-1,)"),
    ("ncfm", "num_freqs", "100", "a multiple of 16"),
    ("ncfm", "psi_scale_bounds", "2,1", "lo <= hi"),
    ("ncfm", "pretrain", "cpu-2epochs", "Did you mean 'cpu-2epoch'"),
    ("csdm", "alpha", "-1", "setting 'alpha' must be a finite number >= 0 and < 1, got -1.0"),
    ("csdm", "alpha", "1.5", "got 1.5"),
    ("csdm", "alpha_bounds", "0.2,0.9", "alpha_bounds"),  # the IPC-1 default alpha_0 (0.11) falls outside
    ("ed-debias", "attribute_weight", "-1", "setting 'attribute_weight' must be a finite number from 0 to 1000000, got -1.0"),
    ("ed-debias", "critic_seed", "4294967296", "from 0 to 4294967295"),
])
def test_a_value_outside_its_declaration_is_refused(distiller, key, value, fragment):
    with pytest.raises(HarnessError) as refused:
        create_distiller(distiller, {key: value})
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


def test_values_from_code_are_checked_too():
    from distillers.dm import DMConfig

    with pytest.raises(HarnessError, match="setting 'iterations'"):
        DMConfig(iterations=-1)
    with pytest.raises(HarnessError, match="setting 'lr_images'"):
        DMConfig(lr_images=float("nan"))
    assert DMConfig(lr_images=2).lr_images == 2  # an int is a number
