"""ftcourse: the companion package of the book "Fine-tuning pre-trained models".

Modules by concept: `text` (tokenizer, vocabulary, GloVe), `data` (datasets and loaders for
both profiles; `corpora` generates the `ci` profile's data, `download` fetches the `full` one's),
`models`, `adapt` (freezing, adapters, LoRA), `train`, `experiment` (run records, verdicts held to
the noise, tables), `plots`, `results`, `hf` (Hugging Face models and tokenizers per profile),
`hub` (hub datasets and files, and the error when the hub is out of reach), `inference`
(pipelines by hand), `ner` and `lm` (token classification and language-model data).
"""

from ftcourse._env import (
    cache_dir,
    choose,
    data_dir,
    device,
    profile,
    project_root,
    set_seed,
    training_precision,
)
from ftcourse._quiet import silence_library_noise

silence_library_noise()

__version__ = "0.1.0"

__all__ = [
    "cache_dir",
    "choose",
    "data_dir",
    "device",
    "profile",
    "project_root",
    "set_seed",
    "training_precision",
    "__version__",
]
