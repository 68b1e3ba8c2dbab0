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


def test_push_is_skipped_on_ci_and_without_a_token(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert "ci profile" in hub.push_skip_reason("ci", token="hf_x")
    assert "HF_TOKEN is not set" in hub.push_skip_reason("full")
    assert hub.push_skip_reason("full", token="hf_x") is None
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    assert hub.push_skip_reason("full") is None


def _tiny_model_with_a_trained_head():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    model[0].requires_grad_(False)
    return model


def test_push_to_hub_uploads_only_the_trained_tensors(monkeypatch):
    from safetensors.torch import load_file

    calls = {}

    class FakeApi:
        def __init__(self, token):
            calls["token"] = token

        def create_repo(self, repo_id, private, exist_ok):
            calls["create"] = (repo_id, private, exist_ok)
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls["tensors"] = load_file(f"{folder_path}/model.safetensors")

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    model = _tiny_model_with_a_trained_head()
    url = hub.push_to_hub(model, "me/tiny", token="hf_x")
    assert url == "https://huggingface.co/me/tiny" and calls["token"] == "hf_x"
    assert calls["create"] == ("me/tiny", True, True)
    assert sorted(calls["tensors"]) == ["1.bias", "1.weight"]
    hub.push_to_hub(model, "me/tiny", token="hf_x", trainable_only=False)
    assert sorted(calls["tensors"]) == ["0.bias", "0.weight", "1.bias", "1.weight"]


def test_push_to_hub_refuses_bad_input_and_names_the_fix(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    model = _tiny_model_with_a_trained_head()
    with pytest.raises(ValueError, match="set HF_TOKEN"):
        hub.push_to_hub(model, "me/tiny")
    with pytest.raises(ValueError, match="owner/name"):
        hub.push_to_hub(model, "tiny", token="hf_x")
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="trainable_only=False"):
        hub.push_to_hub(model, "me/tiny", token="hf_x")


def test_a_refused_push_says_what_to_check(monkeypatch):
    class Forbidden:
        def __init__(self, token):
            pass

        def create_repo(self, *args, **kwargs):
            raise OSError("403 Forbidden: You don't have the rights to create a model under the namespace")

    monkeypatch.setattr(huggingface_hub, "HfApi", Forbidden)
    with pytest.raises(hub.HubUnavailableError, match="may write to that namespace"):
        hub.push_to_hub(_tiny_model_with_a_trained_head(), "someone/else", token="hf_x")
