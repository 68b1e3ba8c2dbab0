"""The source's training recipe against ftcourse's, side by side on real IMDB reviews.

Source recipe: random batches padded to the longest review, no truncation, the encoder built
with the default batch_first=False and fed [batch, seq, dim], no padding mask.
ftcourse recipe: batches bucketed by length, reviews truncated to --max-len tokens, batch-first
with a key padding mask and a mean over real tokens.

Both train the same model size from the same initial weights with the source's optimiser
(SGD lr 1, clipping 0.1) for the same number of epochs; the script prints seconds per epoch,
their ratio, and each recipe's test accuracy at its best validation epoch.

    FTCOURSE_DATA_DIR=../shared/data FTCOURSE_GLOVE=glove.6B.50d.first2445.txt \
        python bench/transformer_recipe.py --epochs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

import ftcourse
from ftcourse import data
from ftcourse.models import TransformerClassifier
from ftcourse.text import basic_english
from ftcourse.train import evaluate, fit


def source_loader(items, vocab, batch_size, shuffle, seed):
    """The source's collate: every batch padded to its longest review, nothing truncated."""
    encoded = [(label, torch.tensor(vocab(basic_english(text)) or [0])) for label, text in items]

    def collate(batch):
        labels = torch.tensor([label for label, _ in batch])
        return labels, pad_sequence([ids for _, ids in batch], batch_first=True, padding_value=vocab.pad_index)

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(encoded, batch_size=batch_size, shuffle=shuffle, collate_fn=collate, generator=generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if ftcourse.data_dir() is None and ftcourse.profile() == "full":
        raise SystemExit("set FTCOURSE_DATA_DIR to a folder with aclImdb*/ and glove/ (e.g. ../shared/data)")

    imdb = data.load_imdb()
    glove = data.glove()
    vocab = glove.vocab()
    embeddings = glove.embedding_matrix(vocab)
    train, valid = data.train_valid_split(imdb.train, valid_fraction=0.05, seed=args.seed)
    lengths = [len(basic_english(t)) for _, t in imdb.train]
    print(f"{imdb.source}; GloVe {glove.path.name} ({glove.dim}d); "
          f"train {len(train)}, valid {len(valid)}, test {len(imdb.test)}")
    print(f"review length in tokens: mean {statistics.mean(lengths):.0f}, "
          f"median {statistics.median(lengths):.0f}, max {max(lengths)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {ftcourse.device()}")

    recipes = {
        "source": dict(
            layout=False,
            loaders=[source_loader(s, vocab, args.batch_size, sh, args.seed)
                     for s, sh in ((train, True), (valid, False), (imdb.test, False))],
        ),
        "ftcourse": dict(
            layout=True,
            loaders=[
                data.make_loader(train, vocab, args.batch_size, shuffle=True, max_length=args.max_len, seed=args.seed),
                data.make_loader(valid, vocab, args.batch_size, max_length=args.max_len),
                data.make_loader(imdb.test, vocab, args.batch_size, max_length=args.max_len),
            ],
        ),
    }
    ftcourse.set_seed(args.seed)
    initial = TransformerClassifier(embeddings, num_classes=2).state_dict()
    report = {}
    for name, recipe in recipes.items():
        ftcourse.set_seed(args.seed)
        model = TransformerClassifier(embeddings, num_classes=2, batch_first=recipe["layout"])
        model.load_state_dict(initial)
        train_loader, valid_loader, test_loader = recipe["loaders"]
        start = time.perf_counter()
        history = fit(model, train_loader, valid_loader, epochs=args.epochs, lr=1.0, clip=0.1, progress=False)
        wall = time.perf_counter() - start
        acc = evaluate(model, test_loader)
        report[name] = dict(epoch=statistics.median(history.epoch_seconds), wall=wall, acc=acc,
                            val=history.val_acc, best=history.best_epoch)
        print(f"{name:9s} median epoch {report[name]['epoch']:.2f}s  total {wall:.1f}s  "
              f"val acc per epoch {[round(v, 3) for v in history.val_acc]}  "
              f"best epoch {history.best_epoch}  test acc {acc:.3f}")
    ratio = report["source"]["epoch"] / report["ftcourse"]["epoch"]
    print(f"\nepoch time ratio source/ftcourse: {ratio:.2f}x   (target >= 5x)")
    print(f"test accuracy: source {report['source']['acc']:.3f}, ftcourse {report['ftcourse']['acc']:.3f} "
          f"(difference {report['ftcourse']['acc'] - report['source']['acc']:+.3f})")


if __name__ == "__main__":
    os.environ.setdefault("FTCOURSE_PROFILE", "full")
    main()
