"""Models: the seeds' architectures, and the padding/batch-first fixes."""

import math

import pytest
import torch

from ftcourse.adapt import count_parameters
from ftcourse.models import (
    LeNet,
    MeanEmbeddingClassifier,
    PositionalEncoding,
    TransformerClassifier,
    sinusoidal_encoding,
)


def test_sinusoidal_encoding_matches_formula():
    pe = sinusoidal_encoding(50, 8)
    for pos in (0, 3, 49):
        for i in range(0, 8, 2):
            angle = pos / 10000 ** (i / 8)
            assert pe[pos, i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_encoding_odd_dimension():
    pe = sinusoidal_encoding(10, 25)
    assert pe.shape == (10, 25)
    assert pe[3, 24].item() == pytest.approx(math.sin(3 / 10000 ** (24 / 25)), abs=1e-6)


def test_positional_encoding_adds_rows_and_rejects_long_input():
    layer = PositionalEncoding(6, max_len=5, dropout=0.0)
    out = layer(torch.zeros(2, 4, 6))
    assert torch.equal(out[1], sinusoidal_encoding(5, 6)[:4])
    assert not any(p.requires_grad for p in layer.parameters())
    with pytest.raises(ValueError, match="max_len"):
        layer(torch.zeros(1, 6, 6))


def _model(**kwargs):
    torch.manual_seed(0)
    return TransformerClassifier(torch.randn(30, 8), num_classes=2, dropout=0.0, **kwargs).eval()


def test_transformer_classifier_seed_shapes_and_counts():
    # The seeds' Net with 100-d GloVe: 2 layers, 2 heads, ff 128, head 100 -> 2.
    model = TransformerClassifier(torch.zeros(400_002, 100), num_classes=2)
    counts = count_parameters(model)
    per_layer = 3 * 100 * 100 + 3 * 100 + 100 * 100 + 100 + 100 * 128 + 128 + 128 * 100 + 100 + 4 * 100
    assert counts.trainable == 2 * per_layer + 100 * 2 + 2
    assert counts.total == counts.trainable + 400_002 * 100  # the embedding is frozen


def test_stages_walk_the_seed_shapes_and_end_in_the_forward_output():
    # Seed 004's walk: [32, 50] -> [32, 50, 100] (x3) -> encoder [32, 50, 100] -> [32, 100] -> [32, 2].
    torch.manual_seed(0)
    model = TransformerClassifier(torch.randn(60, 100), num_classes=2).eval()
    tokens = torch.randint(2, 60, (32, 50))
    tokens[:, 40:] = model.pad_index
    with torch.no_grad():
        stages = list(model.stages(tokens))
        shapes = [tuple(out.shape) for _, out in stages]
        assert shapes == [(32, 50)] + [(32, 50, 100)] * 4 + [(32, 100), (32, 2)]
        assert [name for name, _ in stages][-1] == "linear head"
        assert torch.equal(stages[2][1], stages[1][1] * 10.0)  # sqrt(100)
        assert torch.equal(stages[-1][1], model(tokens))
        assert torch.equal(stages[-2][1], model.features(tokens))
        assert len(list(model.stages(tokens, head=False))) == len(stages) - 1


def test_padding_does_not_change_the_prediction():
    model = _model()
    tokens = torch.tensor([[5, 6, 7, 8]])
    padded = torch.tensor([[5, 6, 7, 8, 1, 1, 1]])
    with torch.no_grad():
        assert torch.allclose(model(tokens), model(padded), atol=1e-5)


def test_batch_companions_do_not_change_the_prediction():
    model = _model()
    review = torch.tensor([[5, 6, 7, 8]])
    others = torch.tensor([[9, 10, 11, 12], [13, 14, 15, 16]])
    with torch.no_grad():
        alone = model(review)
        batched = model(torch.cat([review, others]))[0:1]
    assert torch.allclose(alone, batched, atol=1e-5)


def test_seed_layout_mixes_reviews_of_a_batch():
    """batch_first=False reproduces the seeds' mistake: attention runs across the batch."""
    model = _model(batch_first=False)
    review = torch.tensor([[5, 6, 7, 8]])
    others = torch.tensor([[9, 10, 11, 12], [13, 14, 15, 16]])
    with torch.no_grad():
        alone = model(review)
        batched = model(torch.cat([review, others]))[0:1]
    assert not torch.allclose(alone, batched, atol=1e-3)


def test_transformer_classifier_errors():
    with pytest.raises(ValueError, match="heads do not divide"):
        TransformerClassifier(torch.zeros(10, 25), num_classes=2)
    with pytest.raises(ValueError, match="num_classes"):
        TransformerClassifier(torch.zeros(10, 8), num_classes=1)


def test_mean_embedding_classifier_ignores_padding():
    torch.manual_seed(0)
    model = MeanEmbeddingClassifier(torch.randn(20, 100), num_classes=2).eval()
    assert model.fc1.weight.shape == (128, 100)
    a = model(torch.tensor([[3, 4]]))
    b = model(torch.tensor([[3, 4, 1, 1, 1]]))
    assert torch.allclose(a, b, atol=1e-6)


def test_lenet_shapes():
    model = LeNet(num_classes=26)
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 26)
    assert count_parameters(model).total == 156 + 2416 + 48120 + 10164 + 84 * 26 + 26
    with pytest.raises(ValueError, match="32x32"):
        model(torch.zeros(1, 1, 28, 28))
