"""The predictor and the HTTP service of chapter 15, on the ci sentiment stand-in."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e .[serve]")
from fastapi.testclient import TestClient  # noqa: E402

from ftcourse import hf  # noqa: E402
from ftcourse.serve import Predictor, create_app  # noqa: E402


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    model = hf.load_model("sentiment", profile="ci")
    return Predictor(model, hf.load_tokenizer("sentiment", profile="ci"), name="tiny-sentiment", batch_size=2)


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor, max_chars=200, max_batch=4)) as c:
        yield c


TEXTS = ["a wonderful film", "dull and far too long", "the plot was fine", "I loved the cast", "no"]


def test_predictor_labels_scores_and_batches(predictor):
    assert predictor.labels == ["NEGATIVE", "POSITIVE"]
    many = predictor.predict(TEXTS)  # batch_size 2: three forward passes
    for text, p in zip(TEXTS, many):
        alone = predictor(text)
        assert p.label == alone.label and p.score == pytest.approx(alone.score, abs=1e-5)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.score == max(p.scores.values()) and p.label in predictor.labels


def test_predictor_rejects_bad_input(predictor):
    with pytest.raises(TypeError, match="list"):
        predictor.predict("one text")
    with pytest.raises(ValueError, match="text 1"):
        predictor.predict(["fine", "   "])


def test_saved_checkpoint_serves_the_same_predictions(predictor, tmp_path):
    predictor.model.save_pretrained(tmp_path)
    predictor.tokenizer.save_pretrained(tmp_path)
    again = Predictor.from_pretrained(tmp_path)
    assert again.labels == predictor.labels
    assert [p.label for p in again.predict(TEXTS)] == [p.label for p in predictor.predict(TEXTS)]
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        Predictor.from_pretrained(tmp_path / "missing")


def test_health_and_predictions(client, predictor):
    health = client.get("/health").json()
    assert health == {"status": "ok", "model": "tiny-sentiment", "labels": ["NEGATIVE", "POSITIVE"]}
    one = client.post("/predict", json={"text": TEXTS[0]})
    assert one.status_code == 200
    body = one.json()
    assert body["label"] == predictor(TEXTS[0]).label and body["model"] == "tiny-sentiment"
    assert set(body["scores"]) == {"NEGATIVE", "POSITIVE"}
    batch = client.post("/predict/batch", json={"texts": TEXTS[:4]}).json()
    assert [p["label"] for p in batch["predictions"]] == [p.label for p in predictor.predict(TEXTS[:4])]


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/predict", {"text": ""}, "text"),
        ("/predict", {"text": "   \n"}, "text"),
        ("/predict", {"text": "x" * 201}, "text"),
        ("/predict", {"text": 123}, "text"),
        ("/predict", {"text": ["a list"]}, "text"),
        ("/predict", {}, "text"),
        ("/predict", {"text": "fine", "extra": 1}, "extra"),
        ("/predict/batch", {"texts": []}, "texts"),
        ("/predict/batch", {"texts": ["a"] * 5}, "texts"),
        ("/predict/batch", {"texts": ["fine", ""]}, "texts"),
        ("/predict/batch", {"texts": "not a list"}, "texts"),
    ],
)
def test_bad_requests_get_422_naming_the_field(client, path, payload, field):
    response = client.post(path, json=payload)
    assert response.status_code == 422
    details = response.json()["detail"]
    assert any(field in map(str, d["loc"]) for d in details), details
    assert all(d["msg"] for d in details)


def test_model_is_loaded_once_at_start_up(predictor):
    calls = []

    def loader():
        calls.append(1)
        return predictor

    app = create_app(loader=loader)
    assert calls == []  # nothing loaded while building the app
    with TestClient(app) as c:
        assert calls == [1]
        for text in TEXTS:
            assert c.post("/predict", json={"text": text}).status_code == 200
    assert calls == [1]
    with pytest.raises(ValueError, match="either"):
        create_app(predictor, loader=loader)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_http_on_a_loopback_port(predictor):
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(predictor), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        response = httpx.post(f"{base}/predict", json={"text": TEXTS[1]})
        assert response.status_code == 200 and response.json()["label"] == predictor(TEXTS[1]).label
        assert httpx.post(f"{base}/predict", json={"text": ""}).status_code == 422
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
