"""NCFM (distillers/ncfm.py) and its hybrid extractor (distillers/extractors.py)."""

import pytest
import torch

from distillers.extractors import HybridExtractor, make_extractor
from harness.errors import HarnessError


@pytest.fixture
def hybrid(tiny):
    return HybridExtractor(tiny, count=2, log=lambda s: None)


def test_hybrid_blends_initial_and_final_weights(hybrid):
    for it in range(6):
        k, beta = hybrid.draw(7, it)
        net = hybrid(7, it)
        init, final = hybrid.pairs[k]
        for name, value in net.state_dict().items():
            assert torch.allclose(value, beta * init[name] + (1 - beta) * final[name], atol=1e-6)
        assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_hybrid_draw_is_keyed_and_uses_every_model(hybrid):
    draws = [hybrid.draw(3, it) for it in range(40)]
    assert draws == [hybrid.draw(3, it) for it in range(40)]  # (seed, iteration) alone
    assert {k for k, _ in draws} == {0, 1}
    assert all(0 <= beta < 1 for _, beta in draws) and len({beta for _, beta in draws}) == 40
    assert hybrid.draw(4, 0) != hybrid.draw(3, 0)
    # the pretrained pair differs (training moved the weights)
    init, final = hybrid.pairs[0]
    assert any(not torch.equal(init[n], final[n]) for n in init)


def test_unknown_extractor_is_refused(tiny):
    with pytest.raises(HarnessError, match="unknown extractor 'hybird'.*random, hybrid"):
        make_extractor("hybird", tiny)
