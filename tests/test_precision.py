"""ftcourse.training_precision and the training configurations that take it; TrainingArguments
field names across transformers 5.15 (Colab) and 5.23 (the pins)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import ftcourse
from ftcourse import train

# name -> (device type, compute capability or None)
DEVICES = {"T4": ("cuda", (7, 5)), "A100": ("cuda", (8, 0)), "CPU": ("cpu", None), "MPS": ("mps", None)}
EXPECTED = {  # name -> (precision, loss scaling, autocast dtype, TrainingArguments flags)
    "T4": ("fp16", True, torch.float16, {"bf16": False, "fp16": True}),
    "A100": ("bf16", False, torch.bfloat16, {"bf16": True, "fp16": False}),
    "CPU": ("fp32", False, None, {"bf16": False, "fp16": False}),
    "MPS": ("fp32", False, None, {"bf16": False, "fp16": False}),
}


@pytest.fixture
def fake_gpu(monkeypatch):
    """Make torch see a GPU of the given compute capability. Like torch itself, the fake says
    bf16 is supported on every CUDA GPU when emulation counts, natively only from 8.0."""

    def install(capability):
        def is_bf16_supported(including_emulation: bool = True) -> bool:
            if capability is None:
                return False
            return including_emulation or capability >= (8, 0)

        monkeypatch.setattr(torch.cuda, "is_available", lambda: capability is not None)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)

    return install


@pytest.mark.parametrize("name", DEVICES)
def test_training_precision_per_device(fake_gpu, name):
    kind, capability = DEVICES[name]
    fake_gpu(capability)
    precision = ftcourse.training_precision(torch.device(kind))
    expected_name, scaling, dtype, flags = EXPECTED[name]
    assert (precision.name, precision.loss_scaling, precision.autocast_dtype) == (expected_name, scaling, dtype)
    assert precision.trainer_flags() == flags
    assert precision.accelerate_mixed_precision == ("no" if expected_name == "fp32" else expected_name)


def test_t4_is_not_given_emulated_bf16(fake_gpu):
    fake_gpu((7, 5))
    assert torch.cuda.is_bf16_supported()  # what a T4 answers when emulation counts
    assert ftcourse.training_precision("cuda").name == "fp16"


def test_default_device_is_the_one_training_uses(fake_gpu):
    fake_gpu(None)
    assert ftcourse.training_precision().name == {"cpu": "fp32", "mps": "fp32"}[ftcourse.device().type]


@pytest.mark.parametrize("name", DEVICES)
def test_fit_autocasts_as_the_helper_says(fake_gpu, name):
    kind, capability = DEVICES[name]
    fake_gpu(capability)
    dtype, scaler = train._autocast(torch.device(kind), "auto")
    assert dtype == EXPECTED[name][2]
    assert (scaler is not None) == EXPECTED[name][1]
    assert train._autocast(torch.device(kind), False) == (None, None)


# ---------------------------------------------------------------------------------------------
# TrainingArguments across transformers versions
@dataclasses.dataclass
class Before523:  # the shape of transformers 5.15's TrainingArguments
    output_dir: str = ""
    gradient_checkpointing: bool = True
    gradient_checkpointing_kwargs: dict | None = None


@dataclasses.dataclass
class Since523(Before523):
    activation_checkpointing: bool | None = None
    activation_checkpointing_kwargs: dict | None = None


def test_training_config_renames_for_older_transformers():
    hf = pytest.importorskip("ftcourse.hf", reason="ftcourse.hf needs transformers (ftcourse[hf])")
    old = hf.training_config(Before523, output_dir="x", activation_checkpointing=False,
                             activation_checkpointing_kwargs={"use_reentrant": False})
    assert old == Before523("x", gradient_checkpointing=False, gradient_checkpointing_kwargs={"use_reentrant": False})
    new = hf.training_config(Since523, output_dir="x", activation_checkpointing=False)
    assert new.activation_checkpointing is False and new.gradient_checkpointing is True  # untouched
    with pytest.raises(TypeError, match="no_such_field"):
        hf.training_config(Before523, no_such_field=1)


def test_installed_training_arguments_turn_checkpointing_off(tmp_path):
    hf = pytest.importorskip("ftcourse.hf", reason="ftcourse.hf needs transformers (ftcourse[hf])")
    transformers = pytest.importorskip("transformers")
    args = hf.training_config(transformers.TrainingArguments, output_dir=str(tmp_path), use_cpu=True,
                              gradient_checkpointing=True, activation_checkpointing=False,
                              **ftcourse.training_precision("cpu").trainer_flags())
    assert args.gradient_checkpointing is False  # 5.23 mirrors the new name into the old one
    assert not args.bf16 and not args.fp16
