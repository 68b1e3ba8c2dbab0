"""fit / evaluate / predict on a tiny learnable task."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import ftcourse
import ftcourse.train
from ftcourse.adapt import freeze, replace_head
from ftcourse.text import Vocab
from ftcourse.train import evaluate, fit, predict


class Bag(torch.nn.Module):
    def __init__(self, vocab_size=10, num_classes=2):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(vocab_size, 8)
        self.classifier = torch.nn.Linear(8, num_classes)

    def forward(self, tokens):
        return self.classifier(self.emb(tokens))


def _loaders(seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, 10, (256, 5), generator=g)
    labels = (tokens == 3).any(dim=1).long()  # learnable: does token 3 occur?

    def collate(items):
        x, y = zip(*items)
        return torch.stack(y), torch.stack(x)

    data = TensorDataset(tokens, labels)
    train = DataLoader(data, batch_size=32, shuffle=True, collate_fn=collate,
                       generator=torch.Generator().manual_seed(seed))
    valid = DataLoader(data, batch_size=64, collate_fn=collate)
    return train, valid


def _trained(tmp_path=None, epochs=8):
    ftcourse.set_seed(0)
    model = Bag()
    train, valid = _loaders()
    ckpt = tmp_path / "best.pt" if tmp_path else None
    history = fit(model, train, valid, epochs=epochs, lr=0.5, clip=1.0, checkpoint=ckpt, progress=False, device="cpu")
    return model, history, valid


def test_fit_learns_and_records_history(tmp_path):
    model, history, valid = _trained(tmp_path)
    assert len(history.loss) == len(history.val_acc) == 8
    assert history.loss[-1] < history.loss[0]
    assert history.best_val_acc == max(history.val_acc)
    assert evaluate(model, valid, device="cpu") == pytest.approx(history.best_val_acc)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert set(saved) == set(model.state_dict())
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_fit_is_deterministic():
    _, first, _ = _trained()
    _, second, _ = _trained()
    assert first.loss == second.loss and first.val_acc == second.val_acc



def test_fit_gives_a_bucketing_loader_its_epoch():
    from ftcourse.data import make_loader

    vocab = Vocab(["good", "bad", "film"])
    items = [(i % 2, " ".join(["good" if i % 2 else "bad"] * (1 + i % 7))) for i in range(96)]
    loader = make_loader(items, vocab, batch_size=8, shuffle=True, seed=0)
    seen = []

    class Spy(Bag):
        def forward(self, tokens):
            seen.append(tokens.shape[1])
            return super().forward(tokens)

    def run():
        seen.clear()
        ftcourse.set_seed(0)
        fit(Spy(vocab_size=len(vocab)), loader, epochs=2, progress=False, device="cpu")
        return list(seen)

    first = run()
    for _ in loader:  # another use of the loader in between must not change the next run
        pass
    assert run() == first
    assert first[: len(loader)] != first[len(loader):]  # and the two epochs differ

def test_fit_restores_best_weights_in_memory():
    model, history, valid = _trained(epochs=4)
    assert evaluate(model, valid, device="cpu") == pytest.approx(history.best_val_acc)


def test_patience_stops_early():
    ftcourse.set_seed(0)
    model = Bag()
    train, valid = _loaders()
    history = fit(model, train, valid, epochs=50, lr=0.0, patience=2, progress=False, device="cpu")
    assert len(history.loss) == 3  # epoch 1 is best, two more without improvement


def test_frozen_model_and_head_mismatch_errors():
    model = freeze(Bag(num_classes=2))
    train, valid = _loaders()
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(model, train, valid, epochs=1, progress=False)
    replace_head(model, 2)
    labels = torch.tensor([0, 3])
    bad = [(labels, torch.tensor([[2, 3], [4, 5]]))]
    with pytest.raises(ValueError, match="head has 2 outputs but the labels go up to 3"):
        fit(model, bad, epochs=1, progress=False, device="cpu")


def test_predict_returns_label_names_and_rejects_bad_input():
    vocab = Vocab(["a", "b", "c", "d", "e", "f", "g", "h"])
    model = Bag()
    assert predict(model, "a b c", vocab, ["negative", "positive"])[0] in {"negative", "positive"}
    with pytest.raises(ValueError, match="empty text"):
        predict(model, "", vocab, ["negative", "positive"])
    with pytest.raises(ValueError, match="no tokens"):
        predict(model, ["a", ";:"], vocab, ["negative", "positive"])
    with pytest.raises(ValueError, match="2 outputs but 4 class names"):
        predict(model, "a b", vocab, ["w", "x", "y", "z"])


def test_predict_names_each_text_as_the_model_does_one_at_a_time():
    from ftcourse.models import MeanEmbeddingClassifier

    vocab = Vocab(["good", "bad", "film", "plot", "dull", "fun"], specials=("<unk>", "<pad>"))
    ftcourse.set_seed(0)
    model = MeanEmbeddingClassifier(torch.randn(len(vocab), 8), num_classes=2).eval()
    texts = ["good fun film", "bad dull plot that drags on and on", "film"]
    classes = ["neg", "pos"]
    alone = [classes[int(model(torch.tensor([vocab(t.split())])).argmax())] for t in texts]
    assert predict(model, texts, vocab, classes) == alone  # padding in the batch changes nothing
    assert predict(model, texts, vocab, classes, max_length=1) == [
        classes[int(model(torch.tensor([vocab(t.split()[:1])])).argmax())] for t in texts
    ]


def test_history_loss_is_the_mean_per_batch():
    ftcourse.set_seed(0)
    model = Bag()
    train, _ = _loaders()

    class Recorded(torch.nn.CrossEntropyLoss):
        seen: list = []

        def forward(self, logits, labels):
            loss = super().forward(logits, labels)
            self.seen.append(loss.item())
            return loss

    history = fit(model, train, epochs=1, loss_fn=Recorded(), progress=False, device="cpu")
    assert history.steps == len(train) == len(Recorded.seen) == 8
    assert history.loss[0] == pytest.approx(sum(Recorded.seen) / len(Recorded.seen))


def test_labels_are_checked_on_the_first_batch_only(monkeypatch):
    model = Bag(num_classes=2)
    good = (torch.tensor([0, 1]), torch.tensor([[2, 3], [4, 5]]))
    bad = (torch.tensor([0, 3]), torch.tensor([[2, 3], [4, 5]]))
    with pytest.raises(ValueError, match="head has 2 outputs but the labels go up to 3.*replace_head"):
        fit(model, [bad, good], epochs=1, progress=False, device="cpu")
    calls = []
    real = ftcourse.train._check_labels
    monkeypatch.setattr(ftcourse.train, "_check_labels", lambda *a: calls.append(1) or real(*a))
    fit(model, [good] * 5, epochs=2, progress=False, device="cpu")
    assert len(calls) == 1  # not once per step: each check waits for the GPU
