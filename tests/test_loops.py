"""ftcourse.loops: the plain training loop, its evaluation, metrics, reports and feature extraction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

pytest.importorskip("accelerate", reason="the loop runs through accelerate (ftcourse[hf])")
pytest.importorskip("torchmetrics", reason="accuracy is accumulated with torchmetrics (ftcourse[nlp-eval])")
pytest.importorskip("transformers", reason="the Hugging Face chapters need transformers (ftcourse[hf])")

from ftcourse import loops, plots  # noqa: E402
from ftcourse.train import History, predictions  # noqa: E402


def _toy_data(n: int = 240, seed: int = 0):
    """Separable 3-class points: the label is the largest of the first three coordinates."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x[:, :3].argmax(dim=1)


def _loader(x, y, shuffle=False, batch_size=16, seed=0):
    return DataLoader(
        loops.FeatureDataset(x, y),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


def _train(epochs: int = 5, seed: int = 0):
    from transformers import get_scheduler

    torch.manual_seed(seed)
    x, y = _toy_data()
    head = loops.FeatureHead(4, 3, dropout=0.0)
    train = _loader(x[:200], y[:200], shuffle=True, seed=seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=0.05)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0, num_training_steps=epochs * len(train))
    history = loops.train_loop(
        head,
        train,
        optimizer,
        scheduler,
        epochs=epochs,
        eval_loader=_loader(x[200:], y[200:]),
        num_classes=3,
        progress=False,
    )
    return head, history, scheduler, (x, y)


# --- the loop ----------------------------------------------------------------------------------
def test_train_loop_learns_and_runs_the_schedule_to_zero():
    head, history, scheduler, (x, y) = _train(epochs=5)
    assert isinstance(history, History)  # the same record as fit's
    assert history.steps == 5 * 13  # 200 items in batches of 16
    assert len(history.loss) == len(history.val_acc) == len(history.epoch_seconds) == 5
    assert history.loss[-1] < 0.6 * history.loss[0]
    assert scheduler.get_last_lr()[0] == 0.0  # stepped once per batch, to the end
    assert history.val_acc[-1] > 0.85
    assert loops.evaluate_accuracy(head, _loader(x[200:], y[200:]), 3) == pytest.approx(history.val_acc[-1])


def test_fine_tune_is_the_written_out_recipe_in_one_call():
    _, written_out, _, (x, y) = _train(epochs=3, seed=2)
    torch.manual_seed(2)
    head = loops.FeatureHead(4, 3, dropout=0.0)
    history = loops.fine_tune(head, _loader(x[:200], y[:200], shuffle=True, seed=2), lr=0.05, epochs=3,
                              eval_loader=_loader(x[200:], y[200:]), num_classes=3, progress=False)
    assert history.steps == 3 * 13
    assert history.loss == pytest.approx(written_out.loss) and history.val_acc == written_out.val_acc
    with pytest.raises(ValueError, match="lr must be positive"):
        loops.fine_tune(head, _loader(x, y), lr=0.0)


def test_train_feature_head_learns_from_features_and_repeats_for_a_seed():
    x, y = _toy_data(300)
    split = {name: loops.Features(x[a:b], -x[a:b], y[a:b])
             for name, (a, b) in {"train": (0, 200), "validation": (200, 300)}.items()}
    head, history = loops.train_feature_head(split, "mean", 3, lr=0.05, epochs=4, progress=False)
    assert isinstance(head, loops.FeatureHead) and head.fc.in_features == 4
    assert history.steps == 4 * 7 and history.val_acc[-1] > 0.8  # 200 rows in batches of 32
    _, again = loops.train_feature_head(split, "mean", 3, lr=0.05, epochs=4, progress=False)
    assert again.loss == history.loss
    preds, labels = predictions(head, loops.feature_loader(split["validation"], "mean", shuffle=True))
    assert (preds == labels).float().mean() == pytest.approx(history.val_acc[-1])
    with pytest.raises(KeyError, match="validation"):
        loops.train_feature_head({"train": split["train"]}, "cls", 3)


def test_train_loop_is_deterministic_for_a_seed():
    _, first, _, _ = _train(epochs=2, seed=3)
    _, second, _, _ = _train(epochs=2, seed=3)
    assert first.loss == second.loss and first.val_acc == second.val_acc


def test_train_loop_refuses_bad_input():
    x, y = _toy_data(32)
    head = loops.FeatureHead(4, 3)
    optimizer = torch.optim.AdamW(head.parameters())
    with pytest.raises(ValueError, match="epochs"):
        loops.train_loop(head, _loader(x, y), optimizer, epochs=0, progress=False)
    with pytest.raises(ValueError, match="num_classes"):
        loops.train_loop(head, _loader(x, y), optimizer, eval_loader=_loader(x, y), progress=False)
    no_labels = DataLoader([{"features": row} for row in x], batch_size=8)
    with pytest.raises(ValueError, match="labels"):
        loops.train_loop(head, no_labels, optimizer, progress=False)
    for p in head.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        loops.train_loop(head, _loader(x, y), optimizer, progress=False)


class _AlwaysFirst(nn.Module):
    """Predicts class 0 for everything."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, features, labels=None):
        return {"logits": self.bias.expand(len(features), 2)}


def test_accuracy_is_the_share_correct_not_the_mean_recall():
    # 8 of class 0, 2 of class 1, everything predicted 0: accuracy 0.8, mean per-class recall 0.5
    x, y = torch.zeros(10, 4), torch.tensor([0] * 8 + [1] * 2)
    assert loops.evaluate_accuracy(_AlwaysFirst(), _loader(x, y), 2) == pytest.approx(0.8)


def test_predictions_stay_paired_with_their_labels_under_shuffling():
    from accelerate import Accelerator

    head, _, _, (x, y) = _train(epochs=3)
    ordered_preds, ordered_labels = predictions(head, _loader(x, y), accelerator=Accelerator())
    shuffled_preds, shuffled_labels = predictions(head, _loader(x, y, shuffle=True, seed=7), device="cpu")
    assert torch.equal(ordered_labels, y)
    assert not torch.equal(shuffled_labels, y)  # really shuffled
    assert sorted(zip(shuffled_preds.tolist(), shuffled_labels.tolist())) == sorted(
        zip(ordered_preds.tolist(), ordered_labels.tolist())
    )
    # the mistake the chapter shows: shuffled predictions against the labels in dataset order
    misaligned = float((shuffled_preds == y).float().mean())
    assert misaligned < float((shuffled_preds == shuffled_labels).float().mean()) - 0.3


# --- metrics and reports -----------------------------------------------------------------------
def test_classification_metrics_by_hand():
    y_true, y_pred = [0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 2, 1]
    m = loops.classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # per-class F1: 0.8 (p 2/3, r 1), 0.5 (p 1/2, r 1/2), 2/3 (p 1, r 1/2)
    assert m["f1_macro"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    with pytest.raises(ValueError, match="as many predictions as labels"):
        loops.classification_metrics([0, 1], [0])


def test_compute_metrics_takes_trainer_predictions():
    from transformers import EvalPrediction

    logits = np.array([[2.0, 0.1], [0.1, 2.0], [3.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1, 1, 1])
    plain = loops.compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))
    nested = loops.compute_metrics(((logits, np.zeros((4, 3, 2))), labels))  # logits plus hidden states
    assert plain == nested
    assert plain["accuracy"] == pytest.approx(0.75)


def test_report_and_confusion_matrix_keep_class_names_aligned():
    classes = ["alpha", "beta", "gamma"]
    y_true, y_pred = [0, 0, 2, 2, 2], [0, 2, 2, 2, 0]  # "beta" never appears
    cm = loops.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 0, 1], [0, 0, 0], [1, 0, 2]]
    rows = {
        line.split()[0]: line.split()
        for line in loops.classification_report(y_true, y_pred, classes).splitlines()
        if line.strip() and line.split()[0] in classes
    }
    assert rows["beta"][-1] == "0" and rows["gamma"][-1] == "3" and rows["alpha"][-1] == "2"
    assert float(rows["gamma"][2]) == pytest.approx(2 / 3, abs=1e-3)  # recall of gamma


def test_plot_confusion_matrix():
    import matplotlib

    matplotlib.use("Agg")
    fig = plots.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["a", "b"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["3", "1", "0", "4"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    with pytest.raises(ValueError, match="does not fit"):
        plots.plot_confusion_matrix(np.eye(3, dtype=int), ["a", "b"])


# --- tokenizing and feature extraction -----------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    from transformers import BertTokenizerFast

    words = "the food was good bad service slow quick staff room price fair high".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)


@pytest.fixture(scope="module")
def tokenized(tokenizer):
    from datasets import ClassLabel, Dataset, Features, Value

    texts = [
        "the food was good",
        "bad",
        "the staff was slow the room was bad the price was high",
        "quick service",
        "fair price the food was good the staff quick",
        "slow",
    ]
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    raw = Dataset.from_dict({"text": texts, "label": [1, 0, 0, 1, 1, 0]}, features=features)
    return loops.tokenize_dataset(raw, tokenizer, max_length=10)


def test_tokenize_dataset_truncates_without_padding(tokenized, tokenizer):
    assert set(tokenized.column_names) == {"labels", "input_ids", "token_type_ids", "attention_mask"}
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    assert lengths[:2] == [6, 3] and max(lengths) == 10  # [CLS] ... [SEP], cut at 10
    assert isinstance(tokenized[0]["input_ids"], torch.Tensor)
    assert [int(v) for v in tokenized["labels"]] == [1, 0, 0, 1, 1, 0]
    from datasets import Dataset

    with pytest.raises(ValueError, match="'label'"):
        loops.tokenize_dataset(Dataset.from_dict({"text": ["a"], "stars": [1]}), tokenizer)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [1e6, 1e6]]])
    assert loops.mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_extract_features_match_one_text_at_a_time_in_dataset_order(tokenized, tokenizer):
    from transformers import BertConfig, BertModel, DataCollatorWithPadding

    torch.manual_seed(0)
    encoder = BertModel(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        )
    )
    encoder.train()  # extract_features must switch dropout off itself
    feats = loops.extract_features(
        encoder, tokenized, DataCollatorWithPadding(tokenizer), batch_size=4, progress=False
    )
    assert feats.cls.shape == feats.mean.shape == (6, 16)
    assert feats.labels.tolist() == [int(v) for v in tokenized["labels"]]
    assert not encoder.training
    with torch.no_grad():
        for i in range(len(tokenized)):
            row = tokenized[i]
            hidden = encoder(
                input_ids=row["input_ids"][None], attention_mask=row["attention_mask"][None]
            ).last_hidden_state
            assert torch.allclose(feats.cls[i], hidden[0, 0], atol=1e-5)
            assert torch.allclose(feats.mean[i], hidden[0].mean(dim=0), atol=1e-5)
    assert feats.pooled("mean") is feats.mean
    with pytest.raises(ValueError, match="pooling"):
        feats.pooled("max")


def test_feature_head_checks_its_input():
    head = loops.FeatureHead(8, 3)
    out = head(torch.randn(5, 8), labels=torch.tensor([0, 1, 2, 0, 1]))
    assert out.logits.shape == (5, 3) and out.loss.ndim == 0
    assert head(torch.randn(2, 8)).loss is None
    with pytest.raises(ValueError, match="expects 8"):
        head(torch.randn(2, 5))
    with pytest.raises(ValueError, match="at least 2"):
        loops.FeatureHead(8, 1)
    with pytest.raises(ValueError, match="as many|rows"):
        loops.FeatureDataset(torch.zeros(3, 2), torch.zeros(2))


# --- the same loop under torchrun, two processes on CPU -----------------------------------------
_DISTRIBUTED = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader
    from ftcourse import loops

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
        def forward(self, features, labels=None):
            logits = self.fc(features)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = nn.functional.cross_entropy(logits, labels)
            return out

    torch.manual_seed(0)
    x = torch.randn(203, 4, generator=torch.Generator().manual_seed(0))
    y = x[:, :3].argmax(dim=1)
    train = DataLoader(loops.FeatureDataset(x[:160], y[:160]), batch_size=8, shuffle=True)
    test = DataLoader(loops.FeatureDataset(x[160:], y[160:]), batch_size=8)  # 43 items: uneven shards
    model = Toy()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    steps = 4 * len(train)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
    history = loops.train_loop(model, train, optimizer, scheduler, epochs=4, progress=False)
    from accelerate import Accelerator
    from ftcourse.train import predictions

    preds, labels = predictions(model, test, accelerator=Accelerator())
    rank = int(os.environ["RANK"])
    json.dump({"world": int(os.environ["WORLD_SIZE"]), "steps": history.steps, "lr": scheduler.get_last_lr()[0],
               "loss": history.loss, "labels": labels.tolist(), "preds": preds.tolist(),
               "accuracy": float((preds == labels).float().mean())},
              open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w"))
    # Leave the process group before exiting: a gloo group torn down by the interpreter's exit can
    # abort one rank ("terminate called without an active exception") on a loaded machine.
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    """
)


def test_the_loop_runs_unchanged_under_torchrun(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_DISTRIBUTED)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path),
    ]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=240, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    expected = (
        torch.randn(203, 4, generator=torch.Generator().manual_seed(0))[160:, :3].argmax(dim=1).tolist()
    )
    for result in ranks:
        assert result["world"] == 2
        assert result["steps"] == 4 * 10  # each process: half of the 20 batches per epoch
        assert result["lr"] == pytest.approx(
            0.0, abs=1e-9
        )  # the schedule (built for 80 steps) ran to its end
        assert len(result["labels"]) == 43  # gathered from both, padding duplicates dropped
        assert sorted(result["labels"]) == sorted(expected)
        assert result["accuracy"] > 0.8
    assert ranks[0]["preds"] == ranks[1]["preds"] and ranks[0]["loss"] != []
