"""Access to the Hugging Face hub, and the one error that says it is out of reach.

Every model, tokenizer, dataset and file ftcourse takes from the hub on the `full` profile goes
through `hub_errors()`: the exception types that mean "the hub or the network could not give
it" (offline mode, no connection, an HTTP error, a missing repository, revision or file). Those
become a `HubUnavailableError` whose message says what to do; anything else (a bug, a bad
argument) goes through unchanged. Chapters 06-11 and 14 load through here.
"""

from __future__ import annotations

from collections.abc import Sequence

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
