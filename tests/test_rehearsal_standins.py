"""The stand-ins carry the real ids, revisions, layouts, columns and label maps, and ftcourse's own
full-profile loaders read them through the loopback hub."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ftcourse.rehearsal import standins
from ftcourse.rehearsal.hub import serve_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    standins.build_model(root, "distilbert-base-uncased-finetuned-sst-2-english")
    standins.build_model(root, "papluca/xlm-roberta-base-language-detection")
    standins.build_yelp(root)
    standins.build_conll(root, samples=None)
    standins.build_guanaco(root, samples=None)
    with serve_hub(root) as endpoint:
        yield root, endpoint, tmp_path_factory.mktemp("hf_home")


def full_profile(hub, code: str):
    _, endpoint, home = hub
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), FTCOURSE_PROFILE="full", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env.pop("FTCOURSE_DATA_DIR", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_layouts_on_disk(hub):
    root = hub[0]
    conll = root / "datasets" / "eriktks--conll2003" / "refs%2Fconvert%2Fparquet" / "conll2003"
    assert sorted(p.name for p in conll.iterdir()) == ["test", "train", "validation"]
    yelp = root / "datasets" / "Yelp--yelp_review_full" / "main" / "yelp_review_full"
    assert sorted(p.name for p in yelp.iterdir()) == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    config = json.loads((root / "models" / "papluca--xlm-roberta-base-language-detection" / "main"
                         / "config.json").read_text())
    assert config["architectures"] == ["XLMRobertaForSequenceClassification"]
    assert [config["id2label"][str(i)] for i in range(20)] == list(standins.XLMR_LANGUAGE_ORDER)


def test_full_loaders_read_the_standins(hub):
    out = full_profile(hub, """
        import json
        from ftcourse import hf, hub, ner, sft
        sentiment = hf.load_model("sentiment")
        lang = hf.load_model("language_detection")
        yelp = hub.load_hub_dataset("Yelp/yelp_review_full")
        conll, conll_source = ner.load_conll()
        guanaco = sft.load_guanaco()
        print(json.dumps({
            "sentiment": [type(sentiment).__name__, sentiment.config.id2label[0], sentiment.config.id2label[1]],
            "lang": [lang.config.id2label[i] for i in range(3)],
            "yelp": yelp["train"].features["label"].names, "yelp_splits": sorted(yelp),
            "conll": [conll_source, sorted(conll)],
            "guanaco": [len(guanaco.train), len(guanaco.eval), guanaco.eval[0][:11]],
        }))
    """)
    assert out["sentiment"] == ["DistilBertForSequenceClassification", "NEGATIVE", "POSITIVE"]
    assert out["lang"] == ["ja", "nl", "ar"]
    assert out["yelp"] == ["1 star", "2 star", "3 stars", "4 stars", "5 stars"]
    assert out["yelp_splits"] == ["test", "train"]
    assert out["conll"] == ["hub: eriktks/conll2003 (refs/convert/parquet)", ["test", "train", "validation"]]
    assert out["guanaco"] == [400, 50, "### Human: "]


def test_every_hub_id_the_full_profile_names_has_a_standin():
    from ftcourse import hf, lm, ner, preferences, sft, vision

    named = {(spec.hub, "main") for role, spec in hf.MODELS.items() if role != "minilm"}
    named |= {(vision.RESNET18_HUB, "main"), (vision.CIFAR10_HUB, "main"), (lm.WIKITEXT_HUB[0], "main"),
              (sft.GUANACO_HUB, "main"), ("Yelp/yelp_review_full", "main"),
              (ner.HUB_SOURCES[0][0], ner.HUB_SOURCES[0][1])}
    named.add((preferences.ORCA_HUB, preferences.ORCA_REVISION))
    assert named <= set(standins.SOURCES), sorted(named - set(standins.SOURCES))


def test_every_standin_has_its_source():
    built = {(hub_id, "main") for hub_id in standins.MODEL_STANDINS}
    built |= {(standins.RESNET18, "main"), (standins.WIKITEXT[0], "main"), (standins.YELP, "main"),
              (standins.GUANACO, "main"), standins.CONLL, (standins.CIFAR10, "main"), standins.ORCA_DPO}
    assert built == set(standins.SOURCES)
    assert all(len(source) > 40 for source in standins.SOURCES.values())


def test_every_chapter_has_cut_sizes_its_parameters_cell_sets():
    from pathlib import Path

    import nbformat

    from ftcourse.rehearsal.phase import CUT_SIZES
    from ftcourse.runner import inject_overrides

    chapters = sorted(Path(__file__).parent.parent.glob("notebooks/[0-9][0-9]_*.ipynb"))
    assert {nb.stem for nb in chapters} == set(CUT_SIZES)
    for notebook in chapters:
        nb = nbformat.read(notebook, as_version=4)
        inject_overrides(nb, CUT_SIZES[notebook.stem])  # raises on a name the cell does not set
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
