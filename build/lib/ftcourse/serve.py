"""Serving a fine-tuned text classifier: a predictor and a FastAPI app around it (chapter 15).

`Predictor` wraps a Hugging Face sequence-classification model and its tokenizer (the seed's
"Option A", `pipeline("text-classification")`, with batching, truncation and every label's
score). `create_app(predictor)` builds the HTTP service (the seed's "Option B", made complete):

- `GET /health`: status, model name and label names;
- `POST /predict` with `{"text": "..."}`: one prediction;
- `POST /predict/batch` with `{"texts": ["...", ...]}`: one prediction per text, in order.

Requests are validated before the model sees them: an empty or blank text, a text over
`max_chars`, a batch over `max_batch`, or a value of the wrong type is answered with 422 and a
message naming the field. The model is loaded once, when the app starts (`create_app(loader=...)`
defers it to start-up), never per request.

Serve a saved checkpoint (a folder written by `save_pretrained`, model and tokenizer):
`python -m ftcourse serve path/to/model --port 8000`.
"""


# No `from __future__ import annotations` here: FastAPI reads the request models' annotations at
# run time, and the models are built inside `create_app` (their limits are its arguments).
import threading
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

MAX_CHARS = 10_000
MAX_BATCH = 64


@dataclass
class Prediction:
    label: str
    score: float
    scores: dict[str, float]


class Predictor:
    """Text in, label out: tokenizer -> model -> softmax, batched, under `torch.inference_mode`."""

    def __init__(self, model, tokenizer, name: str | None = None, max_length: int | None = None,
                 batch_size: int = 32, device: str | torch.device | None = None) -> None:
        from ftcourse.hf import check_tokenizer

        self.model = model.eval()
        self.tokenizer = check_tokenizer(tokenizer)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model.to(self.device)
        id2label = getattr(model.config, "id2label", None) or {}
        n = model.config.num_labels
        self.labels = [str(id2label.get(i, f"LABEL_{i}")) for i in range(n)]
        self.name = name or getattr(model, "name_or_path", None) or type(model).__name__
        limit = getattr(tokenizer, "model_max_length", None)
        positions = getattr(model.config, "max_position_embeddings", None)
        candidates = [v for v in (max_length, limit, positions) if isinstance(v, int) and 0 < v < 1_000_000]
        self.max_length = min(candidates) if candidates else 512
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one forward at a time: requests may come from several threads

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> "Predictor":
        """Load a folder written by `model.save_pretrained` and `tokenizer.save_pretrained`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{path} has no config.json: save the fine-tuned model there first with "
                "model.save_pretrained(path) and tokenizer.save_pretrained(path)"
            )
        model = AutoModelForSequenceClassification.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return cls(model, tokenizer, name=kwargs.pop("name", path.name), **kwargs)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts; wrap a single text in a list")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {i} is empty or not a string: send non-blank text")
        out: list[Prediction] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = list(texts[start : start + self.batch_size])
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
                probs = self.model(**enc).logits.float().softmax(dim=-1).cpu()
                for row in probs:
                    best = int(row.argmax())
                    out.append(Prediction(self.labels[best], float(row[best]),
                                          {label: float(p) for label, p in zip(self.labels, row)}))
        return out

    def __call__(self, text: str) -> Prediction:
        return self.predict([text])[0]


def create_app(predictor: Predictor | None = None, *, loader: Callable[[], Predictor] | None = None,
               max_chars: int = MAX_CHARS, max_batch: int = MAX_BATCH):
    """The FastAPI app serving `predictor` (or the one `loader` returns, called once at start-up)."""
    from typing import Annotated

    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel, ConfigDict, Field, StringConstraints

    if (predictor is None) == (loader is None):
        raise ValueError("give create_app either a predictor or a loader, not both or neither")
    Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=False, min_length=1, max_length=max_chars,
                                            pattern=r"\S")]

    class One(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: Text = Field(description=f"the text to classify: non-blank, at most {max_chars:,} characters")

    class Many(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[Text] = Field(min_length=1, max_length=max_batch,
                                  description=f"1 to {max_batch} texts, each as for /predict")

    class Out(BaseModel):
        label: str
        score: float
        scores: dict[str, float]
        model: str

    class ManyOut(BaseModel):
        predictions: list[Out]
        model: str

    state: dict[str, Predictor] = {}

    @asynccontextmanager
    async def lifespan(app):
        state["predictor"] = predictor if predictor is not None else loader()
        yield
        state.clear()

    app = FastAPI(title="ftcourse text classifier", lifespan=lifespan)

    def current() -> Predictor:
        if "predictor" not in state:
            raise HTTPException(status_code=503, detail="the model is not loaded yet")
        return state["predictor"]

    def as_out(p: Prediction, name: str) -> Out:
        return Out(label=p.label, score=p.score, scores=p.scores, model=name)

    @app.get("/health")
    def health():
        p = current()
        return {"status": "ok", "model": p.name, "labels": p.labels}

    @app.post("/predict", response_model=Out)
    def predict_one(body: One) -> Out:
        p = current()
        return as_out(p.predict([body.text])[0], p.name)

    @app.post("/predict/batch", response_model=ManyOut)
    def predict_many(body: Many) -> ManyOut:
        p = current()
        return ManyOut(predictions=[as_out(x, p.name) for x in p.predict(body.texts)], model=p.name)

    return app


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the checkpoint folder `path` with uvicorn (blocks until stopped)."""
    import uvicorn

    uvicorn.run(create_app(loader=lambda: Predictor.from_pretrained(path)), host=host, port=port)


__all__ = ["MAX_BATCH", "MAX_CHARS", "Prediction", "Predictor", "create_app", "serve"]
