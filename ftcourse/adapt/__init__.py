"""Choosing what trains in a pre-trained model, and adding small trainable pieces to it.

Chapter 02 (`basics`): freezing, unfreezing by name, counting, a new head, and the one
name-matching rule every selection uses. Chapters 03-05: bottleneck adapters (`adapters`) and
LoRA (`lora`), both built on the method-agnostic `inject` (wrapping layers) and `files`
(adapter-only weights). This package only re-exports their public names.
"""

from ftcourse.adapt.adapters import (
    Adapted,
    AdaptedLinear,
    BottleneckAdapter,
    FeatureAdapter,
    adapter_state_dict,
    add_adapters,
    add_bert_adapters,
    bert_adapter_targets,
    load_adapters,
    save_adapters,
)
from ftcourse.adapt.basics import (
    MATCHING_RULE,
    ParameterCount,
    count_parameters,
    freeze,
    name_matches,
    parameter_matches,
    replace_head,
    trainable_names,
    unfreeze,
)
from ftcourse.adapt.inject import AdapterModule, LinearWrapper
from ftcourse.adapt.lora import (
    CONVENTIONS,
    LinearWithLoRA,
    LoRALayer,
    apply_lora,
    conv1d_to_linear,
    load_lora,
    lora_state_dict,
    merge_lora,
    save_lora,
    unload_lora,
    unmerge_lora,
)

__all__ = [
    "CONVENTIONS",
    "MATCHING_RULE",
    "Adapted",
    "AdaptedLinear",
    "AdapterModule",
    "BottleneckAdapter",
    "FeatureAdapter",
    "LinearWithLoRA",
    "LinearWrapper",
    "LoRALayer",
    "ParameterCount",
    "adapter_state_dict",
    "add_adapters",
    "add_bert_adapters",
    "apply_lora",
    "bert_adapter_targets",
    "conv1d_to_linear",
    "count_parameters",
    "freeze",
    "load_adapters",
    "load_lora",
    "lora_state_dict",
    "merge_lora",
    "name_matches",
    "parameter_matches",
    "replace_head",
    "save_adapters",
    "save_lora",
    "trainable_names",
    "unfreeze",
    "unload_lora",
    "unmerge_lora",
]
