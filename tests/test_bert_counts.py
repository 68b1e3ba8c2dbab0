"""BERT-base's exact figures (seeds 000 and 003), from `BertConfig()` alone: no download."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from ftcourse.adapt import ParameterCount, count_parameters, freeze
from ftcourse.adapt.adapters import add_bert_adapters
from ftcourse.adapt.lora import apply_lora
from ftcourse.models import EncoderClassifier

transformers = pytest.importorskip(
    "transformers", reason="BERT-base needs transformers (ftcourse[hf])"
)

BERT_BASE = 109_482_240  # embeddings, 12 layers and the pooler
HEAD = 768 * 2 + 2


@pytest.fixture(scope="module")
def bert_base():
    """The real 110M-parameter model, random weights, built once for this file."""
    return transformers.BertModel(transformers.BertConfig())


def bert_base_on_meta():
    """The same architecture with shape-only tensors: free to build, to adapt and to count."""
    with torch.device("meta"):
        return transformers.BertModel(transformers.BertConfig())


def test_anatomy_figures_of_seed_003(bert_base):
    named = dict(bert_base.named_parameters())
    assert len(named) == 199
    assert sum(p.numel() for p in named.values() if p.dim() == 2) == 109_360_128
    assert count_parameters(bert_base).total == BERT_BASE
    meta = bert_base_on_meta()
    assert [(n, p.shape) for n, p in meta.named_parameters()] == [
        (n, p.shape) for n, p in named.items()
    ]


def test_cls_head_figures_of_seed_000(bert_base):
    model = EncoderClassifier(bert_base, num_classes=2)
    assert count_parameters(model) == ParameterCount(trainable=109_483_778, total=109_483_778)
    freeze(model.base_model)
    try:
        assert count_parameters(model).trainable == HEAD == 1_538
    finally:
        bert_base.requires_grad_(True)


def test_lora_on_query_and_value_trains_294_912():
    model = EncoderClassifier(bert_base_on_meta(), num_classes=2)
    names = apply_lora(model, ["query", "value"], rank=8, alpha=32)
    assert len(names) == 24
    counts = count_parameters(model)
    assert counts.trainable == 24 * 8 * (768 + 768) == 294_912
    assert counts.total == 109_483_778 + 294_912
    model = EncoderClassifier(bert_base_on_meta(), num_classes=2)
    apply_lora(model, ["query", "value"], rank=8, alpha=32, train_modules=("classifier",))
    assert count_parameters(model).trainable == 294_912 + 1_538


def test_houlsby_adapters_count_to_the_formula():
    bottleneck = 64  # seed 000's adapter_size
    model = EncoderClassifier(bert_base_on_meta(), num_classes=2)
    names = add_bert_adapters(model, bottleneck=bottleneck, train_modules="classifier")
    assert len(names) == 24  # two per layer: after attention, after the feed-forward block
    per_adapter = 2 * 768 * bottleneck + 768 + bottleneck
    assert per_adapter == 99_136
    assert count_parameters(model).trainable == 24 * per_adapter + 1_538 == 2_380_802


def test_models_import_without_transformers():
    code = "import sys; sys.modules['transformers'] = None; import ftcourse.models; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
