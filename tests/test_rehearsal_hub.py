"""The loopback hub speaks enough of the hub's API for huggingface_hub, transformers and datasets."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ftcourse.rehearsal.hub import repo_folder, serve_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    import pandas as pd

    from ftcourse import hf

    root = tmp_path_factory.mktemp("hub")
    model = repo_folder(root, "model", "acme/tiny-bert")
    tokenizer = hf.load_tokenizer("bert_uncased", profile="ci")
    tokenizer.save_pretrained(model)
    import transformers

    config = hf.tiny_config("bert", len(tokenizer), id2label={0: "NEGATIVE", 1: "POSITIVE"})
    transformers.BertForSequenceClassification(config).save_pretrained(model)
    (repo_folder(root, "model", "acme/tiny-bert", "v1") / "sub").mkdir(parents=True)
    (repo_folder(root, "model", "acme/tiny-bert", "v1") / "sub" / "note.txt").write_text("version one\n")

    data = repo_folder(root, "dataset", "acme/reviews")
    (data / "plain_text").mkdir(parents=True)
    for split, n in (("train", 6), ("test", 4)):
        pd.DataFrame({"text": [f"review {i}" for i in range(n)], "label": [i % 2 for i in range(n)]}).to_parquet(
            data / "plain_text" / f"{split}-00000-of-00001.parquet")
    (data / "README.md").write_text("---\nconfigs:\n- config_name: plain_text\n  data_files:\n"
                                    "  - split: train\n    path: plain_text/train-*\n"
                                    "  - split: test\n    path: plain_text/test-*\n---\n# reviews\n")
    branch = repo_folder(root, "dataset", "acme/reviews", "refs/convert/parquet") / "plain_text" / "train"
    branch.mkdir(parents=True)
    pd.DataFrame({"text": ["converted"], "label": [1]}).to_parquet(branch / "0000.parquet")

    with serve_hub(root) as endpoint:
        yield endpoint, tmp_path_factory.mktemp("hf_home")


def client(hub, code: str):
    """Run `code` in a fresh interpreter pointed at the hub, as a user's process would be (the
    clients read HF_ENDPOINT and HF_HUB_OFFLINE once, at import); its last line printed is JSON."""
    endpoint, home = hub
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_PROGRESS_BARS="1")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_repo_info_and_file_lists(hub):
    out = client(hub, """
        import json
        from huggingface_hub import HfApi
        api = HfApi()
        print(json.dumps({
            "sha": api.model_info("acme/tiny-bert").sha,
            "files": api.list_repo_files("acme/tiny-bert"),
            "v1": api.list_repo_files("acme/tiny-bert", revision="v1"),
            "converted": api.list_repo_files("acme/reviews", repo_type="dataset", revision="refs/convert/parquet"),
        }))
    """)
    assert len(out["sha"]) == 40
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(out["files"])
    assert out["v1"] == ["sub/note.txt"]
    assert out["converted"] == ["plain_text/train/0000.parquet"]


def test_downloads_by_branch_and_commit(hub):
    out = client(hub, """
        import json, os
        from huggingface_hub import hf_hub_download, snapshot_download
        note = open(hf_hub_download("acme/tiny-bert", "sub/note.txt", revision="v1")).read()
        folder = snapshot_download("acme/tiny-bert")
        print(json.dumps({"note": note, "weights": os.path.getsize(os.path.join(folder, "model.safetensors"))}))
    """)
    assert out["note"] == "version one\n"
    assert out["weights"] > 1000


def test_missing_repo_revision_and_file_raise_the_hub_errors(hub):
    out = client(hub, """
        import json
        from huggingface_hub import HfApi, hf_hub_download
        errors = []
        for call in (lambda: HfApi().model_info("acme/nope"),
                     lambda: hf_hub_download("acme/tiny-bert", "config.json", revision="v9"),
                     lambda: hf_hub_download("acme/tiny-bert", "missing.json")):
            try:
                call()
                errors.append(None)
            except Exception as err:
                errors.append(type(err).__name__)
        print(json.dumps(errors))
    """)
    assert out == ["RepositoryNotFoundError", "RevisionNotFoundError", "RemoteEntryNotFoundError"]


def test_filesystem_lists_and_reads_ranges(hub):
    out = client(hub, """
        import json
        from huggingface_hub import HfFileSystem
        fs = HfFileSystem()
        with fs.open("acme/tiny-bert@v1/sub/note.txt", "rb") as handle:
            handle.seek(8)
            part = handle.read(3).decode()
        print(json.dumps({"ls": fs.ls("datasets/acme/reviews/plain_text", detail=False),
                          "glob": fs.glob("datasets/acme/reviews@refs%2Fconvert%2Fparquet/**/*.parquet"),
                          "part": part}))
    """)
    assert out["ls"] == ["datasets/acme/reviews/plain_text/test-00000-of-00001.parquet",
                         "datasets/acme/reviews/plain_text/train-00000-of-00001.parquet"]
    assert out["glob"] == ["datasets/acme/reviews@refs%2Fconvert%2Fparquet/plain_text/train/0000.parquet"]
    assert out["part"] == "one"


def test_transformers_and_datasets_load_from_it(hub):
    out = client(hub, """
        import json
        import datasets, transformers
        model = transformers.AutoModelForSequenceClassification.from_pretrained("acme/tiny-bert")
        tokenizer = transformers.AutoTokenizer.from_pretrained("acme/tiny-bert")
        ds = datasets.load_dataset("acme/reviews", "plain_text")
        converted = datasets.load_dataset("acme/reviews", revision="refs/convert/parquet")
        print(json.dumps({"labels": model.config.id2label,
                          "cls": tokenizer("the film")["input_ids"][0] == tokenizer.cls_token_id,
                          "rows": ds.num_rows, "converted": list(converted["train"]["text"])}))
    """)
    assert out["labels"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert out["cls"]
    assert out["rows"] == {"train": 6, "test": 4}
    assert out["converted"] == ["converted"]
