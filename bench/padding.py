"""How many tokens a `full` epoch computes, by batching method, on the real text samples.

    python bench/padding.py --data-dir ../shared/data

Attention and feed-forward cost grow with the tokens a batch holds, padding included, so the
tokens computed per epoch are what a batching choice saves or wastes, on any device. For each
chapter's dataset and `full` settings (batch size, maximum length) it counts, over one epoch:
- `max_length`: every example padded to the maximum (the source documents' `padding="max_length"`);
- `random`: random batches, each padded to its longest example (`DataCollatorWithPadding`);
- `grouped`: transformers' `LengthGroupedSampler` (the Trainer's `group_by_length`), padded
  per batch;
- `no padding`: the sum of the lengths (packing / padding-free batches: needs FlashAttention 2,
  which a T4 does not have).
Tokenisers: bert-base-uncased's WordPiece (shipped with MiniLM, `ftcourse.hf.minilm_path`) for
every dataset, standing in for bert-base-cased (08, 10) and OPT's BPE (11), which are not on this
machine; the ratios between methods are what this measures, not the absolute counts.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np


def epoch_tokens(lengths: list[int], batch: int, max_length: int, seed: int = 0) -> dict[str, int]:
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    lengths = [min(n, max_length) for n in lengths]
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)

    def padded(indices: list[int]) -> int:
        return sum(len(chunk) * max(lengths[i] for i in chunk)
                   for chunk in (indices[k:k + batch] for k in range(0, len(indices), batch)))

    grouped = list(LengthGroupedSampler(batch, lengths=lengths, generator=torch.Generator().manual_seed(seed)))
    return {"max_length": len(lengths) * max_length, "random": padded(order), "grouped": padded(grouped),
            "no padding": sum(lengths)}


def samples(data_dir: Path) -> list[tuple[str, str, list[str], int, int]]:
    """(chapter, dataset, texts, batch size, max length) for each chapter whose data is here."""
    from ftcourse.data import read_ag_news_csv, read_imdb_split
    from ftcourse.ner import read_conll
    from ftcourse.sft import read_guanaco_jsonl

    found = []
    imdb = data_dir / "aclImdb_small"
    if imdb.is_dir():
        texts = [text for _, text in read_imdb_split(imdb, "train")]
        found += [("05", "IMDB", texts, 32, 256), ("15", "IMDB", texts, 16, 256)]
    ag = data_dir / "ag_news_csv" / "train.csv"
    if ag.is_file():
        texts = [text for _, text in read_ag_news_csv(ag)]
        found += [("09", "AG News", texts, 16, 256), ("13", "AG News", texts, 16, 256)]
    conll = data_dir / "conll2003" / "eng.train"
    if conll.is_file():
        found.append(("10", "CoNLL-2003", [" ".join(s["tokens"]) for s in read_conll(conll)], 8, 512))
    guanaco = data_dir / "openassistant-guanaco" / "openassistant_best_replies_train.jsonl"
    if guanaco.is_file():
        texts = read_guanaco_jsonl(guanaco)
        found += [("11", "guanaco", texts, 2, 1024), ("12", "guanaco", texts, 8, 512)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the real samples")
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from ftcourse.hf import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    found = samples(args.data_dir)
    if not found:
        parser.error(f"no dataset sample found under {args.data_dir}")
    print(f"{'ch':<3} {'data':<11} {'n':>6} {'batch':>5} {'max':>5} {'median':>6}  "
          f"{'max_length':>10} {'random':>8} {'grouped':>8} {'no pad':>8}   grouped vs random")
    cache: dict[tuple[str, int], list[int]] = {}
    for chapter, name, texts, batch, max_length in found:
        if (name, max_length) not in cache:
            cache[(name, max_length)] = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                                        max_length=max_length)["input_ids"]]
        lengths = cache[(name, max_length)]
        tokens = epoch_tokens(lengths, batch, max_length)
        base = tokens["max_length"]
        print(f"{chapter:<3} {name:<11} {len(lengths):>6} {batch:>5} {max_length:>5} {int(np.median(lengths)):>6}  "
              + " ".join(f"{tokens[k] / base:>{w}.2f}" for k, w in
                         (("max_length", 10), ("random", 8), ("grouped", 8), ("no padding", 8)))
              + f"   {tokens['random'] / tokens['grouped']:.2f}x fewer tokens")
    print("(tokens computed per epoch, as a share of padding every example to the maximum length)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
