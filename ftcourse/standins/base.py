"""How a `ci` stand-in is pre-trained and cached: a `Recipe` (generated examples and a training
function) and `pretrained_dir`, which trains once and keeps the result under the cache folder.

On `full` a role is a checkpoint from the hub that was pre-trained on the web; on `ci` it is a tiny
model of the same family. Without training, its fill-mask, generation, translation and detection
answers are noise. A recipe pre-trains it for a few seconds on text from a small generated world
whose facts a page can check. Used by `ftcourse.hf.load_model` on `ci`; taught in chapter 06.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcourse._env import cache_dir, publish_folder

# Bump when the way recipes are keyed or saved changes (not for a recipe's own change: its
# examples and settings are hashed into the key).
STORE_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """How one role's ci stand-in is pre-trained.

    `examples()` returns the generated training data (deterministic; hashed into the cache key);
    `train(model, tokenizer, examples, **settings)` trains the model in place; `settings`
    (steps, learning rate, ...) are hashed into the key too, and `describe` says in words what the
    stand-in learnt (a page prints it)."""

    examples: Callable[[], Sequence[Any]]
    train: Callable[..., None]
    describe: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def recipe_key(role: str, recipe: Recipe, examples: Sequence[Any], base: Mapping[str, Any]) -> str:
    """A hash of everything a stand-in is built from: the role, its examples, the recipe's settings,
    the source of the module its training function lives in, and `base` (the tokenizer's folder
    name and the config), so a changed recipe, training code or generator trains a new stand-in
    instead of reusing a stale one."""
    module = sys.modules.get(recipe.train.__module__)
    try:
        code = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):  # defined where no source file exists (an interactive session)
        code = ""
    payload = {
        "store": STORE_VERSION,
        "role": role,
        "train": f"{recipe.train.__module__}.{recipe.train.__qualname__}",
        "code": hashlib.sha256(code.encode()).hexdigest(),
        "settings": dict(recipe.settings),
        "examples": list(examples),
        "base": dict(base),
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def quiet_weights_io() -> Iterator[None]:
    """Hide transformers' "Loading weights" and "Writing model shards" bars while a stand-in is
    saved or loaded (a page would show one grey box per load), restoring the setting after."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def pretrained_dir(role: str, recipe: Recipe, build: Callable[[], tuple[Any, Any]],
                   base: Mapping[str, Any]) -> Path:
    """The folder of `role`'s pre-trained ci stand-in, trained on first use and cached.

    `build()` returns a fresh (model, tokenizer) pair; the recipe trains the model, and model and
    tokenizer are saved together under `cache_dir()/ci/standins/<role>-<key>`. The save goes to a
    temporary folder renamed into place, so two processes that train at once leave one whole copy."""
    examples = list(recipe.examples())
    key = recipe_key(role, recipe, examples, base)
    target = cache_dir() / "ci" / "standins" / f"{role}-{key}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    model, tokenizer = build()
    recipe.train(model, tokenizer, examples, **recipe.settings)
    model.eval()

    def write(folder: Path) -> None:
        with quiet_weights_io():
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)

    return publish_folder(target, write, "config.json")
