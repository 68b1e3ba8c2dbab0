"""Requests per second and latency of `ftcourse.serve` over real HTTP on the loopback interface.

Starts the app with uvicorn on a free port (the ci sentiment stand-in unless a checkpoint folder
is given), then sends `--requests` requests one after another: single texts to /predict, and
batches of `--batch` texts to /predict/batch. Prints requests/s, texts/s and p50/p99 latency for
both, measured in the same run, and the batched/single throughput ratio.

    python bench/serve_bench.py [--model FOLDER] [--requests 200] [--batch 16]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time

os.environ.setdefault("FTCOURSE_PROFILE", "ci")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a save_pretrained folder (default: the ci stand-in)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()

    import httpx
    import torch
    import uvicorn

    from ftcourse import hf
    from ftcourse.serve import Predictor, create_app

    torch.set_num_threads(args.threads)
    if args.model:
        predictor = Predictor.from_pretrained(args.model)
    else:
        predictor = Predictor(hf.load_model("sentiment", profile="ci"), hf.load_tokenizer("sentiment", profile="ci"),
                              name="ci sentiment stand-in")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(predictor), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    texts = [f"review {i}: the acting was {'great' if i % 2 else 'dull'} and the plot {'moved' if i % 3 else 'dragged'}"
             for i in range(args.batch)]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(5):  # warm-up
                client.post("/predict", json={"text": texts[0]}).raise_for_status()
            report = {}
            for name, path, payload, per in [
                ("single", "/predict", lambda i: {"text": texts[i % len(texts)]}, 1),
                (f"batch of {args.batch}", "/predict/batch", lambda i: {"texts": texts}, args.batch),
            ]:
                latencies = []
                start = time.perf_counter()
                for i in range(args.requests):
                    t0 = time.perf_counter()
                    client.post(path, json=payload(i)).raise_for_status()
                    latencies.append(time.perf_counter() - t0)
                seconds = time.perf_counter() - start
                report[name] = (args.requests / seconds, args.requests * per / seconds,
                                percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3,
                                statistics.mean(latencies) * 1e3)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"model: {predictor.name}; {args.requests} sequential requests each; torch threads {args.threads}")
    print(f"{'requests':>14} {'req/s':>8} {'texts/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, (rps, tps, p50, p99, mean) in report.items():
        print(f"{name:>14} {rps:8.1f} {tps:9.1f} {p50:8.2f} {p99:8.2f} {mean:8.2f}")
    (single, batched) = report.values()
    print(f"texts/s batched / single: {batched[1] / single[1]:.2f}x")


if __name__ == "__main__":
    main()
