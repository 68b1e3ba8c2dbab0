"""Pre-trained `ci` stand-ins: tiny models trained for seconds on a generated small world, so that
on the offline profile a role's answers mean something (chapter 06's fill-mask, generation,
translation and language detection; the base model chapter 11 fine-tunes).

`RECIPES` maps a role of `ftcourse.hf.MODELS` to its `Recipe`; a role without one is a tiny model
with random weights. `ftcourse.hf.load_model` uses them on `ci`; `base` holds the cache.
"""

from __future__ import annotations

from ftcourse.standins import causal, encoders
from ftcourse.standins.base import Recipe, pretrained_dir, quiet_weights_io, recipe_key

RECIPES: dict[str, Recipe] = {
    "generation": causal.GENERATION,
    "sft": causal.SFT,
    "fill_mask": encoders.FILL_MASK,
    "language_detection": encoders.LANGUAGE_DETECTION,
    "translation": encoders.TRANSLATION,
}

__all__ = ["RECIPES", "Recipe", "pretrained_dir", "quiet_weights_io", "recipe_key"]
