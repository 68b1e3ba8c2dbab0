"""Small stand-ins for every hub repository the `full` profile names, for the loopback hub.

Each stand-in sits under the exact id, revision and branch the code asks for, with the real
repository's architecture class, tokenizer type, config keys and label maps (models) or file
layout, columns and feature types (datasets), and small contents: tiny weights (`hf.tiny_config`)
and real text from a folder of samples (`../shared/data` here, read with ftcourse's own readers)
where it has the dataset, generated text elsewhere. `SOURCES` says, for each stand-in, where the
real repository's shape was seen, so a reader can check it. The ids, revisions, columns and label
names are written out here from those sources, not taken from the code under test: a wrong id,
revision, column or label in the code fails against them.

    python -m ftcourse.rehearsal.standins OUT [--samples ../shared/data]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
from pathlib import Path

from ftcourse import corpora, hf
from ftcourse.rehearsal.hub import repo_folder

# The language detector's 20 labels in the order of its config.json on the hub (not alphabetical).
XLMR_LANGUAGE_ORDER = tuple("ja nl ar pl de it pt tr es hi el ur bg en fr zh ru th sw vi".split())
# The ClassLabel names of the hub's conll2003 (its loading script, kept in the parquet export).
CONLL_POS = ('"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ",
             "JJR", "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$", "RB",
             "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$",
             "WRB")
CONLL_CHUNK = ("O", "B-ADJP", "I-ADJP", "B-ADVP", "I-ADVP", "B-CONJP", "I-CONJP", "B-INTJ", "I-INTJ", "B-LST",
               "I-LST", "B-NP", "I-NP", "B-PP", "I-PP", "B-PRT", "I-PRT", "B-SBAR", "I-SBAR", "B-UCP", "I-UCP",
               "B-VP", "I-VP")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# (hub id, revision) -> where the real repository's shape was seen.
SOURCES: dict[tuple[str, str], str] = {
    ("distilbert-base-uncased-finetuned-sst-2-english", "main"):
        "hub config.json: DistilBertForSequenceClassification, id2label {0: NEGATIVE, 1: POSITIVE}; "
        "ftcourse.catalog.PUBLISHED_CONFIGS",
    ("gpt2", "main"): "hub config.json: GPT2LMHeadModel, n_positions 1024; GPT2 byte-level BPE tokenizer",
    ("t5-small", "main"): "hub config.json: T5ForConditionalGeneration; T5 (SentencePiece unigram) tokenizer",
    ("bert-base-uncased", "main"): "hub config.json: BertForMaskedLM, 512 positions; uncased WordPiece",
    ("bert-base-cased", "main"): "hub config.json: BertForMaskedLM, vocab 28996; cased WordPiece",
    ("distilbert-base-uncased", "main"): "hub config.json: DistilBertForMaskedLM; uncased WordPiece",
    ("papluca/xlm-roberta-base-language-detection", "main"):
        "hub config.json id2label (ja nl ar pl de it pt tr es hi el ur bg en fr zh ru th sw vi), as copied in "
        "eleldar/language-detection users' code; XLMRobertaForSequenceClassification, 514 positions",
    ("facebook/opt-350m", "main"): "hub config.json: OPTForCausalLM, 2048 positions; GPT2 BPE tokenizer, pad <pad>",
    ("microsoft/resnet-18", "main"):
        "hub config.json: ResNetForImageClassification, basic layers, depths 2-2-2-2, hidden 64-512, 1000 "
        "ImageNet labels; preprocessor_config.json (ConvNextImageProcessor, 224)",
    ("Salesforce/wikitext", "main"):
        "hub file list: wikitext-2-raw-v1/{train,validation,test}-00000-of-00001.parquet, column text "
        "(resolve URLs of Salesforce/wikitext in public download scripts); README configs per config_name",
    ("Yelp/yelp_review_full", "main"):
        "hub file list: yelp_review_full/{train,test}-00000-of-00001.parquet (hf://datasets/Yelp/yelp_review_full "
        "paths in public code); dataset card: label ClassLabel(1 star, 2 star, 3 stars, 4 stars, 5 stars), text",
    ("timdettmers/openassistant-guanaco", "main"):
        "hub file list: openassistant_best_replies_{train,eval}.jsonl, {\"text\": \"### Human: ...\"} a line",
    ("eriktks/conll2003", "refs/convert/parquet"):
        "hub parquet export: conll2003/{train,validation,test}/0000.parquet at refs%2Fconvert%2Fparquet (resolve "
        "URLs in public code); columns id, tokens, pos_tags, chunk_tags, ner_tags (ClassLabel names of the "
        "conll2003 loading script, as copied in public code)",
    ("Intel/orca_dpo_pairs", "6ccacf6d3ab601b17cc05a971c94749057f77fa4"):
        "hub file list at that commit (\"Add DPO tag\"): README.md, orca_rlhf.jsonl (36.3 MB, one split, "
        "12,859 rows); dataset viewer and derived datasets' cards: string columns system, question, chosen, rejected",
    ("uoft-cs/cifar10", "main"):
        "hub file list: plain_text/{train,test}-00000-of-00001.parquet (resolve URLs of uoft-cs/cifar10 in public "
        "download scripts); dataset card: img (Image), label ClassLabel(airplane ... truck)",
}

# hub id -> (architecture family, cased, the head class its checkpoint was saved with, its labels)
MODEL_STANDINS: dict[str, tuple[str, bool, str, tuple[str, ...] | None]] = {
    "distilbert-base-uncased-finetuned-sst-2-english":
        ("distilbert", False, "DistilBertForSequenceClassification", ("NEGATIVE", "POSITIVE")),
    "gpt2": ("gpt2", True, "GPT2LMHeadModel", None),
    "t5-small": ("t5", True, "T5ForConditionalGeneration", None),
    # BERT's checkpoints hold the pooler and both pre-training heads; their config names BertForMaskedLM
    "bert-base-uncased": ("bert", False, "BertForPreTraining", None),
    "bert-base-cased": ("bert", True, "BertForPreTraining", None),
    "distilbert-base-uncased": ("distilbert", False, "DistilBertForMaskedLM", None),
    "papluca/xlm-roberta-base-language-detection":
        ("xlm-roberta", True, "XLMRobertaForSequenceClassification", XLMR_LANGUAGE_ORDER),
    "facebook/opt-350m": ("opt", True, "OPTForCausalLM", None),
}
RESNET18 = "microsoft/resnet-18"
WIKITEXT = ("Salesforce/wikitext", "wikitext-2-raw-v1")
YELP = "Yelp/yelp_review_full"
YELP_LABELS = ("1 star", "2 star", "3 stars", "4 stars", "5 stars")
GUANACO = "timdettmers/openassistant-guanaco"
CONLL = ("eriktks/conll2003", "refs/convert/parquet")
CONLL_NER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
CIFAR10 = "uoft-cs/cifar10"
ORCA_DPO = ("Intel/orca_dpo_pairs", "6ccacf6d3ab601b17cc05a971c94749057f77fa4")
_POSITIONS = {"bert": {"max_position_embeddings": 512}, "distilbert": {"max_position_embeddings": 512},
              "gpt2": {"n_positions": 1024}, "opt": {"max_position_embeddings": 2048},
              "xlm-roberta": {"max_position_embeddings": 514}, "t5": {}}
_MAX_LENGTH = {"bert": 512, "distilbert": 512, "gpt2": 1024, "opt": 2048, "xlm-roberta": 512, "t5": 512}


def _write_readme(folder: Path, repo_id: str, yaml_body: str = "") -> None:
    front = f"---\n{yaml_body}---\n" if yaml_body else ""
    source = SOURCES.get((repo_id, "main")) or ""
    (folder / "README.md").write_text(f"{front}# {repo_id} (rehearsal stand-in)\n\nShape as seen in: {source}\n")


STANDIN_VOCAB = 8000  # large enough that real text takes about as many tokens as with the real ones


def standin_texts(samples: Path | None) -> list[str]:
    """What the stand-in tokenizers learn from: the ci corpus, plus the real text in `samples`."""
    from ftcourse import lm, sft

    texts = corpora.tokenizer_texts()
    if samples is not None:
        guanaco = samples / "openassistant-guanaco" / "openassistant_best_replies_train.jsonl"
        wiki = samples / "wikitext-2-raw" / "wiki.test.raw"
        if guanaco.is_file():
            texts = texts + sft.read_guanaco_jsonl(guanaco)
        if wiki.is_file():
            texts = texts + lm.read_wikitext(wiki, drop_empty=True)
    return texts


def build_model(root: Path, hub_id: str, seed: int = 0, texts: list[str] | None = None) -> Path:
    """The stand-in of the checkpoint `hub_id` (a key of `MODEL_STANDINS`): its head class,
    tokenizer type and label map. Its tokenizer is the ci one of its family, or one trained on
    `texts` with `STANDIN_VOCAB` pieces."""
    import torch
    import transformers

    kind, cased, architecture, labels = MODEL_STANDINS[hub_id]
    folder = repo_folder(root, "model", hub_id)
    folder.mkdir(parents=True, exist_ok=True)
    if texts is None:
        tokenizer = hf.check_tokenizer(transformers.AutoTokenizer.from_pretrained(hf.ci_tokenizer_dir(kind, cased)))
    else:
        tokenizer = hf.train_tokenizer(kind, texts, vocab_size=STANDIN_VOCAB, cased=cased)
    tokenizer.model_max_length = _MAX_LENGTH[kind]
    extra = dict(_POSITIONS[kind])
    if labels is not None:
        extra["id2label"] = dict(enumerate(labels))
    config = hf.tiny_config(kind, len(tokenizer), **{**hf._special_ids(kind, tokenizer), **extra})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(transformers, architecture)(config)
    model.save_pretrained(folder)
    if kind == "bert":  # the hub's config names the masked-LM head, as the real one does
        config_file = folder / "config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                           "architectures": ["BertForMaskedLM"]}, indent=2))
    tokenizer.save_pretrained(folder)
    _write_readme(folder, hub_id)
    return folder


def build_resnet(root: Path, seed: int = 0) -> Path:
    """microsoft/resnet-18: the real layout (so the 512-feature head swap is the real one), 1000
    labels, random weights, and its image processor config."""
    import torch
    from transformers import ResNetForImageClassification

    from ftcourse import vision

    folder = repo_folder(root, "model", RESNET18)
    folder.mkdir(parents=True, exist_ok=True)
    labels = {i: f"imagenet class {i}" for i in range(1000)}
    config = vision.resnet18_config(1000, id2label=labels, label2id={v: k for k, v in labels.items()})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ResNetForImageClassification(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ConvNextImageProcessor", "crop_pct": 0.875, "do_normalize": True,
        "do_resize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "resample": 3, "size": {"shortest_edge": 224}}, indent=2))
    _write_readme(folder, RESNET18)
    return folder


def _parquet(path: Path, columns: dict, features) -> None:
    from datasets import Dataset

    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(path))


def _configs_yaml(config: str, splits: list[str], pattern: str) -> str:
    lines = ["configs:", f"- config_name: {config}", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: {pattern.format(split=split)}"]
    return "\n".join(lines) + "\n"


def build_wikitext(root: Path, samples: Path | None) -> Path:
    from datasets import Features, Value

    from ftcourse import lm

    repo, config = WIKITEXT
    folder = repo_folder(root, "dataset", repo)
    test_file = samples / "wikitext-2-raw" / "wiki.test.raw" if samples else None
    if test_file is not None and test_file.is_file():
        rows = lm.read_wikitext(test_file)  # the only real split here: cut it in three
        cut = [0, int(len(rows) * 0.8), int(len(rows) * 0.9), len(rows)]
        splits = {name: rows[cut[i]:cut[i + 1]] for i, name in enumerate(("train", "validation", "test"))}
    else:
        splits = {name: corpora.generate_lm_corpus(n, i) for i, (name, n) in
                  enumerate((("train", 400), ("validation", 50), ("test", 50)))}
    for split, rows in splits.items():
        _parquet(folder / config / f"{split}-00000-of-00001.parquet", {"text": rows},
                 Features({"text": Value("string")}))
    _write_readme(folder, repo, _configs_yaml(config, list(splits), config + "/{split}-*"))
    return folder


def build_yelp(root: Path) -> Path:
    from datasets import ClassLabel, Features, Value

    repo = YELP
    folder = repo_folder(root, "dataset", repo)
    features = Features({"label": ClassLabel(names=list(YELP_LABELS)), "text": Value("string")})
    for seed, (split, n) in enumerate((("train", 600), ("test", 150))):
        items = corpora.generate_yelp(n, seed)
        _parquet(folder / "yelp_review_full" / f"{split}-00000-of-00001.parquet",
                 {"label": [y for y, _ in items], "text": [t for _, t in items]}, features)
    _write_readme(folder, repo, _configs_yaml("yelp_review_full", ["train", "test"], "yelp_review_full/{split}-*"))
    return folder


def build_guanaco(root: Path, samples: Path | None) -> Path:
    from ftcourse import sft

    repo = GUANACO
    folder = repo_folder(root, "dataset", repo)
    folder.mkdir(parents=True, exist_ok=True)
    real = samples / "openassistant-guanaco" / "openassistant_best_replies_train.jsonl" if samples else None
    if real is not None and real.is_file():
        texts = sft.read_guanaco_jsonl(real)  # the eval file is not among the samples: hold out the last 50
        train, held_out = texts[:-50], texts[-50:]
    else:
        train, held_out = corpora.generate_instructions(400, 0), corpora.generate_instructions(50, 1)
    for name, texts in (("train", train), ("eval", held_out)):
        with (folder / f"openassistant_best_replies_{name}.jsonl").open("w", encoding="utf-8") as out:
            for text in texts:
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    _write_readme(folder, repo, "license: apache-2.0\n")
    return folder


def build_orca_dpo(root: Path, n: int = 700) -> Path:
    """Intel/orca_dpo_pairs at its pinned commit: orca_rlhf.jsonl with the real string columns,
    rows made of chapter 16's generated pairs (every third with a system text)."""
    from ftcourse import preferences, sft

    repo, revision = ORCA_DPO
    folder = repo_folder(root, "dataset", repo, revision)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "orca_rlhf.jsonl").open("w", encoding="utf-8") as out:
        for k, pair in enumerate(preferences.generate_preferences(n, 7)):
            question = pair["prompt"].removeprefix(sft.HUMAN).removesuffix(sft.ASSISTANT).strip()
            row = {"system": "You are a helpful assistant." if k % 3 == 0 else "", "question": question,
                   "chosen": pair["chosen"].strip(), "rejected": pair["rejected"].strip()}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    (folder / "README.md").write_text(f"---\nlicense: apache-2.0\n---\n# {repo} (rehearsal stand-in)\n\n"
                                      f"Shape as seen in: {SOURCES[ORCA_DPO]}\n")
    return folder


def build_conll(root: Path, samples: Path | None, splits: dict[str, list[dict]] | None = None) -> Path:
    """The CoNLL parquet branch: eng.train and eng.testa from `samples` as train and validation, a
    generated test split; or the sentences (`ner.read_conll`'s dicts) of `splits` when given."""
    from datasets import ClassLabel, Features, Sequence, Value

    from ftcourse import ner

    repo, revision = CONLL
    folder = repo_folder(root, "dataset", repo, revision)
    real = {"train": "eng.train", "validation": "eng.testa"}
    given, splits = splits, dict(splits or {})
    for split, n in (("train", 1000), ("validation", 200), ("test", 200)) if given is None else ():
        path = samples / "conll2003" / real[split] if samples and split in real else None
        if path is not None and path.is_file():
            splits[split] = ner.read_conll(path)
        else:  # the test file is not among the samples: generated sentences
            splits[split] = corpora.generate_ner(n, seed=len(splits))
    features = Features({
        "id": Value("string"), "tokens": Sequence(Value("string")),
        "pos_tags": Sequence(ClassLabel(names=list(CONLL_POS))),
        "chunk_tags": Sequence(ClassLabel(names=list(CONLL_CHUNK))),
        "ner_tags": Sequence(ClassLabel(names=list(CONLL_NER))),
    })
    names = list(CONLL_NER)
    nn, outside = CONLL_POS.index("NN"), 0  # the course never reads POS and chunk tags
    for split, sentences in splits.items():
        _parquet(folder / "conll2003" / split / "0000.parquet", {
            "id": [str(i) for i in range(len(sentences))],
            "tokens": [s["tokens"] for s in sentences],
            "pos_tags": [[nn] * len(s["tokens"]) for s in sentences],
            "chunk_tags": [[outside] * len(s["tokens"]) for s in sentences],
            "ner_tags": [[names.index(t) for t in s["tags"]] for s in sentences],
        }, features)
    return folder


def build_cifar10(root: Path, seed: int = 0) -> Path:
    """uoft-cs/cifar10: 32x32 PNGs whose colour and stripe direction follow the class (learnable)."""
    import numpy as np
    from datasets import ClassLabel, Features, Image
    from PIL import Image as PILImage

    repo = CIFAR10
    folder = repo_folder(root, "dataset", repo)
    rng = np.random.default_rng(seed)
    features = Features({"img": Image(), "label": ClassLabel(names=list(CIFAR10_CLASSES))})
    for split, n in (("train", 500), ("test", 100)):
        images, labels = [], []
        for k in range(n):
            label = k % 10
            base = np.array([(label * 37) % 256, (label * 91) % 256, (label * 53) % 256], dtype=np.float64)
            grid = np.indices((32, 32)).sum(axis=0) if label % 2 else np.indices((32, 32))[0]
            stripes = ((grid // (2 + label // 2)) % 2)[..., None] * 60.0
            pixels = np.clip(base + stripes + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            PILImage.fromarray(pixels).save(buffer, format="PNG")
            images.append({"bytes": buffer.getvalue(), "path": None})
            labels.append(label)
        _parquet(folder / "plain_text" / f"{split}-00000-of-00001.parquet", {"img": images, "label": labels}, features)
    _write_readme(folder, repo, _configs_yaml("plain_text", ["train", "test"], "plain_text/{split}-*"))
    return folder


def build_all(root: str | Path, samples: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Fill `root` with every stand-in; returns (kind, id@revision, source) per repository."""
    root = Path(root)
    samples = Path(samples) if samples else None
    import datasets
    import transformers

    if root.exists():
        shutil.rmtree(root)
    random.seed(0)
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    texts = standin_texts(samples)
    for hub_id, (kind, *_) in MODEL_STANDINS.items():  # the chat chapters' models read long real
        # conversations: their tokenizers learn real text too, so the conversations fit max_length
        build_model(root, hub_id, texts=texts if kind in ("gpt2", "opt") else None)
    build_resnet(root)
    build_wikitext(root, samples)
    build_yelp(root)
    build_guanaco(root, samples)
    build_conll(root, samples)
    build_cifar10(root)
    build_orca_dpo(root)
    (root / "SOURCES.json").write_text(json.dumps({f"{r}@{v}": s for (r, v), s in SOURCES.items()}, indent=1))
    return [("model" if (root / "models" / r.replace("/", "--")).is_dir() else "dataset", f"{r}@{v}", s)
            for (r, v), s in SOURCES.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the rehearsal hub's stand-in repositories.")
    parser.add_argument("root")
    parser.add_argument("--samples", default=None, help="folder of real samples (../shared/data)")
    args = parser.parse_args(argv)
    for kind, name, source in build_all(args.root, args.samples):
        print(f"{kind:8} {name}\n         {source}")


if __name__ == "__main__":
    main()
