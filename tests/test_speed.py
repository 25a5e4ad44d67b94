"""Compiled evaluation training (harness.speed) gives the eager path's model within float tolerance."""

import warnings

import pytest
import torch

from harness.data import DatasetInfo
from harness.errors import HarnessError
from harness.protocol import EvalProtocol
from harness.speed import COMPILE_MIN_STEPS, compiles
from harness.train import init_model, train_model

INFO = DatasetInfo("synthetic-12x12", 3, 1, 12, (0.0,), (1.0,), ("a", "b", "c"), mirror_invariant=False)


def test_auto_compiles_long_trainings_only(monkeypatch):
    monkeypatch.setenv("DD_COMPILE", "auto")
    assert not compiles(COMPILE_MIN_STEPS - 1) and compiles(COMPILE_MIN_STEPS)
    monkeypatch.setenv("DD_COMPILE", "off")
    assert not compiles(10**6)
    monkeypatch.setenv("DD_COMPILE", "on")
    assert compiles(1)
    monkeypatch.setenv("DD_COMPILE", "fast")
    with pytest.raises(HarnessError, match="DD_COMPILE='fast'.*auto, on, off"):
        compiles(1)


def test_a_one_off_graph_is_never_compiled(monkeypatch):
    """A NAS cell's architecture is trained once: even DD_COMPILE=on trains it eagerly."""
    def refuse(*args, **kwargs):
        raise AssertionError("torch.compile called for a one-off graph")

    monkeypatch.setenv("DD_COMPILE", "on")
    monkeypatch.setattr(torch, "compile", refuse)
    images, labels = torch.randn(6, 1, 12, 12), torch.arange(3).repeat(2)
    train_model(init_model("convnet", INFO, 0, "cpu"), images, labels, EvalProtocol(name="t", epochs=1), 0,
                one_off_graph=True)
    with pytest.raises(AssertionError, match="one-off"):  # the same call without the flag would compile
        train_model(init_model("convnet", INFO, 0, "cpu"), images, labels, EvalProtocol(name="t", epochs=1), 0)


def test_compiled_training_matches_eager(monkeypatch):
    """Two batch sizes (a full batch and a remainder) through DSA, compiled and eager."""
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.randn(12, 1, 12, 12, generator=gen), torch.arange(3).repeat(4)
    protocol = EvalProtocol(name="t", epochs=3, batch_size=8)
    trained = {}
    for mode in ("off", "on"):
        monkeypatch.setenv("DD_COMPILE", mode)
        with warnings.catch_warnings():  # a compiler failure would fall back to eager with a warning:
            warnings.filterwarnings("error", message="torch.compile failed")  # fail instead
            trained[mode] = train_model(init_model("convnet", INFO, 0, "cpu"), images, labels, protocol, seed=0)
    for (name, eager), compiled in zip(trained["off"].named_parameters(), trained["on"].parameters()):
        assert torch.allclose(eager, compiled, atol=1e-4, rtol=1e-3), name
    first = init_model("convnet", INFO, 0, "cpu")
    assert not torch.allclose(first.classifier.weight, trained["on"].classifier.weight)  # it did train


def test_predict_in_chunks_channels_last_matches_one_plain_forward():
    from harness.data import ImageData
    from harness.train import predict

    gen = torch.Generator().manual_seed(1)
    data = ImageData(torch.randint(0, 256, (40, 1, 12, 12), generator=gen, dtype=torch.uint8),
                     torch.arange(3).repeat(14)[:40], INFO, "test")
    model = init_model("convnet", INFO, 0, "cpu").eval()
    with torch.no_grad():
        plain = model(data.normalised()).argmax(1)
    assert torch.equal(predict(model, data, batch_size=16), plain)
    assert all(p.is_contiguous() for p in model.parameters())  # saved models need the default layout
