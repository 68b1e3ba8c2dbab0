"""`fit_cached`: a run is reused exactly when everything that decides it is the same."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from ftcourse import set_seed
from ftcourse.adapt import freeze, unfreeze
from ftcourse.data import make_loader
from ftcourse.runcache import fit_cached, run_key
from ftcourse.text import Vocab
from ftcourse.train import fit


class Bag(nn.Module):
    def __init__(self, vocab_size: int = 12) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, 8)
        self.norm = nn.BatchNorm1d(8)
        self.classifier = nn.Linear(8, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.norm(self.embedding(tokens)))


ITEMS = [(i % 2, ("good fine nice" if i % 2 else "bad awful poor") + f" w{i % 5}") for i in range(40)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path))
    return tmp_path / "runs"


@pytest.fixture
def vocab() -> Vocab:
    words = sorted({w for _, text in ITEMS for w in text.split()})
    return Vocab(words, specials=("<unk>", "<pad>"))


def loaders(vocab, items=ITEMS):
    return (make_loader(items, vocab, 8, shuffle=True, seed=0), make_loader(items[:16], vocab, 8))


def train(vocab, items=ITEMS, cached=True, **kwargs):
    set_seed(0)
    model = Bag(len(vocab))
    set_seed(0)
    args = {"epochs": 2, "lr": 0.5, "progress": False, **kwargs}
    history = (fit_cached if cached else fit)(model, *loaders(vocab, items), **args)
    return model, history, torch.rand(3)  # the random numbers drawn after training


def test_second_run_is_reused_and_equals_a_real_run(cache: Path, vocab: Vocab) -> None:
    first_model, first, after_first = train(vocab)
    assert not first.reused and len(list(cache.glob("*.pt"))) == 1
    again_model, again, after_again = train(vocab)
    plain_model, plain, after_plain = train(vocab, cached=False)
    assert again.reused
    assert again.loss == first.loss == plain.loss and again.val_acc == plain.val_acc
    for model in (again_model, first_model):
        for (name, a), b in zip(model.state_dict().items(), plain_model.state_dict().values()):
            assert torch.equal(a, b), name  # weights and BatchNorm buffers
    assert torch.equal(after_again, after_plain) and torch.equal(after_first, after_plain)


@pytest.mark.parametrize("change", ["lr", "epochs", "data", "frozen", "seed"])
def test_any_change_that_matters_trains_again(cache: Path, vocab: Vocab, change: str) -> None:
    train(vocab)
    if change == "lr":
        _, history, _ = train(vocab, lr=0.25)
    elif change == "epochs":
        _, history, _ = train(vocab, epochs=3)
    elif change == "data":
        _, history, _ = train(vocab, items=ITEMS[:-1] + [(0, "bad awful w1")])
    else:
        set_seed(1 if change == "seed" else 0)
        model = Bag(len(vocab))
        if change == "frozen":
            freeze(model)
            unfreeze(model, "classifier.*")
        set_seed(0)
        history = fit_cached(model, *loaders(vocab), epochs=2, lr=0.5, progress=False)
    assert not history.reused
    assert len(list(cache.glob("*.pt"))) == 2


def test_progress_and_label_do_not_change_the_key(vocab: Vocab) -> None:
    set_seed(0)
    model = Bag(len(vocab))
    train_loader, valid_loader = loaders(vocab)
    assert run_key(model, train_loader, valid_loader, epochs=2, desc="a", progress=True) == run_key(
        model, train_loader, valid_loader, epochs=2, desc="b", progress=False)


def test_a_loader_used_before_keys_the_same(cache: Path, vocab: Vocab) -> None:
    # fit sets the sampler's epoch itself, so an earlier pass over the loader changes nothing
    set_seed(0)
    model = Bag(len(vocab))
    train_loader, valid_loader = loaders(vocab)
    set_seed(0)
    before = run_key(model, train_loader, valid_loader, epochs=2)
    for _ in range(3):
        list(train_loader)
    set_seed(0)  # iterating a DataLoader draws from the global generator
    assert run_key(model, train_loader, valid_loader, epochs=2) == before


def test_a_custom_optimizer_is_refused(cache: Path, vocab: Vocab) -> None:
    model = Bag(len(vocab))
    with pytest.raises(ValueError, match=r"cannot tell runs apart by \['optimizer'\]"):
        fit_cached(model, *loaders(vocab), optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_two_processes_asking_at_once_train_once(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_runcache import ITEMS, Bag, loaders
        from ftcourse import set_seed
        from ftcourse.runcache import fit_cached
        from ftcourse.text import Vocab
        vocab = Vocab(sorted({{w for _, t in ITEMS for w in t.split()}}), specials=("<unk>", "<pad>"))
        set_seed(0)
        model = Bag(len(vocab))
        set_seed(0)
        history = fit_cached(model, *loaders(vocab), epochs=6, lr=0.5, progress=False)
        print("REUSED" if history.reused else "TRAINED", history.loss)
    """)
    env = {"FTCOURSE_CACHE": str(tmp_path), "FTCOURSE_PROFILE": "ci", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(out.split()[0] for out in outs) == ["REUSED", "TRAINED"], outs
    assert outs[0].split(" ", 1)[1] == outs[1].split(" ", 1)[1]  # the same losses
