"""Access to the Hugging Face hub, and the one error that says it is out of reach; pushing a
fine-tuned model's weights to it (`push_to_hub`, chapter 05).

Every model, tokenizer, dataset and file ftcourse takes from the hub on the `full` profile goes
through `hub_errors()`: the exception types that mean "the hub or the network could not give
it" (offline mode, no connection, an HTTP error, a missing repository, revision or file). Those
become a `HubUnavailableError` whose message says what to do; anything else (a bug, a bad
argument) goes through unchanged. Chapters 06-11 and 14 load through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

CONNECT_OR_CI = ("Connect to the internet (and unset HF_HUB_OFFLINE), or set FTCOURSE_PROFILE=ci to use the "
                 "offline stand-ins.")


class HubUnavailableError(OSError):
    """A model, tokenizer, dataset or file could not be had from the hub; the message says what to do."""


def hub_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean the hub or the network did not deliver (not a bug).

    Measured with transformers 5, datasets 5 and huggingface_hub 1, offline (HF_HUB_OFFLINE=1)
    and with the endpoint unreachable: transformers raises OSError, datasets ConnectionError or
    DatasetNotFoundError (a FileNotFoundError), huggingface_hub LocalEntryNotFoundError,
    OfflineModeIsEnabled or HfHubHTTPError (all OSError); a file missing from a repository is
    huggingface_hub's EntryNotFoundError, which is not an OSError. requests' errors are OSError too.
    """
    from huggingface_hub.errors import EntryNotFoundError

    return (OSError, EntryNotFoundError)


def unavailable(what: str, err: BaseException, fix: str = CONNECT_OR_CI) -> HubUnavailableError:
    """The `HubUnavailableError` for `what` (e.g. "the model 'gpt2'"), naming the cause and the fix."""
    return HubUnavailableError(
        f"could not load {what} from the Hugging Face hub ({type(err).__name__}: {err}). {fix}"
    )


def load_hub_dataset(name: str, config: str | None = None, revision: str | None = None):
    """`datasets.load_dataset(name, config, revision=...)`, with a `HubUnavailableError` that says
    what to do when the hub is out of reach or lacks the dataset. Chapters 07-11 on `full`."""
    from datasets import load_dataset

    try:
        return load_dataset(name, config, revision=revision)
    except hub_errors() as err:
        raise unavailable(f"the dataset {name!r}" + (f" ({config})" if config else ""), err) from err


def load_first_dataset(sources: Sequence[tuple[str, str | None]], what: str):
    """The first of `sources` ((name, revision) pairs, tried in turn) that loads, as
    (dataset, name, revision); a `HubUnavailableError` listing every failure when none does.
    For datasets whose script-free copies live in several places (CoNLL-2003, chapter 10)."""
    if not sources:
        raise ValueError("load_first_dataset needs at least one (name, revision) source")
    errors = []
    for name, revision in sources:
        try:
            return load_hub_dataset(name, revision=revision), name, revision
        except HubUnavailableError as err:
            errors.append(str(err))
    raise HubUnavailableError(f"no copy of {what} could be loaded:\n" + "\n".join(errors))


def download_file(repo: str, filename: str, repo_type: str = "model", fix: str = CONNECT_OR_CI) -> str:
    """`huggingface_hub.hf_hub_download` (cached), with a `HubUnavailableError` naming `fix` when
    the hub is out of reach. Chapter 14 takes CIFAR-10's parquet files this way."""
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(repo, filename, repo_type=repo_type)
    except hub_errors() as err:
        raise unavailable(f"{filename!r} of {repo!r}", err, fix) from err


def push_skip_reason(profile: str | None = None, token: str | None = None) -> str | None:
    """Why a chapter must not push to the hub now (the `ci` profile, or no token), or None when it
    may. Chapter 05 shows seed 000's push-to-hub step and skips it with this reason."""
    from ftcourse._env import profile as active_profile

    if active_profile(profile) == "ci":
        return "the ci profile never pushes (it runs offline, on a tiny stand-in model)"
    if not (token or os.environ.get("HF_TOKEN")):
        return ("HF_TOKEN is not set: create a write token at https://huggingface.co/settings/tokens "
                "and set HF_TOKEN (or pass token=) to push")
    return None


def push_to_hub(model: nn.Module, repo_id: str, *, token: str | None = None, trainable_only: bool = True,
                private: bool = True, commit_message: str = "Upload fine-tuned weights") -> str:
    """Upload a model's weights to the hub model repository `repo_id` as `model.safetensors`
    (only the trained tensors by default: a head, adapters or LoRA); returns the repository's
    URL. Seed 000's `save_model_to_hf`; chapter 05."""
    from huggingface_hub import HfApi
    from safetensors.torch import save_file

    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise ValueError("push_to_hub needs a write token: set HF_TOKEN or pass token= "
                         "(https://huggingface.co/settings/tokens)")
    if "/" not in repo_id:
        raise ValueError(f"repo_id {repo_id!r} must be 'owner/name', with an owner your token may write to")
    tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters()
               if p.requires_grad or not trainable_only}
    if not tensors:
        raise ValueError("the model has no trainable parameters to push; pass trainable_only=False "
                         "to push all its weights")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            save_file(tensors, str(Path(folder) / "model.safetensors"),
                      metadata={"trainable_only": str(trainable_only), "model": type(model).__name__})
            api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message)
    except hub_errors() as err:
        raise HubUnavailableError(
            f"could not push to {repo_id!r} ({type(err).__name__}: {err}). Check that the token may "
            "write to that namespace (a 403 means it may not), and that you are online."
        ) from err
    return str(url)
