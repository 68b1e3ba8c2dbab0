"""ftcourse.hub: an unreachable hub gives a clear HubUnavailableError; a bug is not hidden as one."""

from __future__ import annotations

import pytest

pytest.importorskip("datasets", reason="hub access needs datasets and transformers (ftcourse[hf])")

import datasets  # noqa: E402
import huggingface_hub  # noqa: E402
import transformers  # noqa: E402

from ftcourse import hf, hub  # noqa: E402


def _raising(error: BaseException):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.parametrize("error", [
    ConnectionError("Couldn't reach 'Yelp/yelp_review_full' on the Hub (OfflineModeIsEnabled)"),
    datasets.exceptions.DatasetNotFoundError("Dataset 'nobody/nothing' doesn't exist on the Hub"),
    huggingface_hub.errors.EntryNotFoundError("no such file"),
])
def test_an_unreachable_hub_says_what_to_do(monkeypatch, error):
    monkeypatch.setattr(datasets, "load_dataset", _raising(error))
    with pytest.raises(hub.HubUnavailableError, match="FTCOURSE_PROFILE=ci") as info:
        hub.load_hub_dataset("Yelp/yelp_review_full")
    assert type(error).__name__ in str(info.value) and info.value.__cause__ is error


def test_a_bug_inside_is_not_reported_as_the_hub(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", _raising(TypeError("load_dataset() got an unexpected keyword")))
    with pytest.raises(TypeError, match="unexpected keyword"):
        hub.load_hub_dataset("Yelp/yelp_review_full")
    monkeypatch.setattr(transformers.AutoModelForMaskedLM, "from_pretrained", _raising(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        hf.load_model("fill_mask", profile="full")
    monkeypatch.setattr(transformers.AutoModelForMaskedLM, "from_pretrained", _raising(OSError("no connection")))
    with pytest.raises(hub.HubUnavailableError, match="bert-base-uncased.*OSError: no connection"):
        hf.load_model("fill_mask", profile="full")
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", _raising(KeyError("vocab")))
    with pytest.raises(KeyError):
        hf.load_tokenizer("fill_mask", profile="full")


def test_the_first_loadable_copy_wins_and_every_failure_is_listed(monkeypatch):
    calls = []

    def load(name, config=None, revision=None):
        calls.append((name, revision))
        if name == "b/ok":
            return {"train": []}
        raise ConnectionError(f"{name} out of reach")

    monkeypatch.setattr(datasets, "load_dataset", load)
    found, name, revision = hub.load_first_dataset([("a/gone", "refs/x"), ("b/ok", None), ("c/never", None)], "X")
    assert (found, name, revision) == ({"train": []}, "b/ok", None) and calls == [("a/gone", "refs/x"), ("b/ok", None)]
    with pytest.raises(hub.HubUnavailableError, match=r"no copy of X could be loaded:\n.*a/gone.*\n.*c/never"):
        hub.load_first_dataset([("a/gone", None), ("c/never", None)], "X")
    with pytest.raises(ValueError, match="at least one"):
        hub.load_first_dataset([], "X")


def test_download_file_narrows_its_errors(monkeypatch):
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        _raising(huggingface_hub.errors.LocalEntryNotFoundError("offline")))
    with pytest.raises(hub.HubUnavailableError, match="'train.parquet' of 'uoft-cs/cifar10'.*FTCOURSE_DATA_DIR"):
        hub.download_file("uoft-cs/cifar10", "train.parquet", repo_type="dataset", fix="Set FTCOURSE_DATA_DIR.")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _raising(AttributeError("a bug")))
    with pytest.raises(AttributeError):
        hub.download_file("uoft-cs/cifar10", "train.parquet", repo_type="dataset")
