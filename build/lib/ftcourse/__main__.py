"""`python -m ftcourse run NOTEBOOK ...`: run a chapter headless (see `ftcourse.runner`);
`python -m ftcourse serve FOLDER`: serve a fine-tuned classifier over HTTP (see `ftcourse.serve`);
`python -m ftcourse doctor`: check the environment, each problem with its fix (see `ftcourse.doctor`)."""

from __future__ import annotations

import argparse
import json
import sys

from ftcourse._env import PROFILES


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m ftcourse` (taught in "How to use this book")."""
    parser = argparse.ArgumentParser(
        prog="python -m ftcourse", description="Companion tools of the ftcourse book."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="execute a chapter notebook headless and check that it recorded its results",
        description="Execute a chapter notebook in a fresh kernel (working directory: its "
        "folder), save the executed copy, and print the results JSON it recorded.",
    )
    run.add_argument("notebook", help="a chapter, e.g. notebooks/02_transfer_learning.ipynb")
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="ci: offline, generated data, seconds; full: the real datasets and models "
        "(default: $FTCOURSE_PROFILE, else full)",
    )
    run.add_argument(
        "--data-dir",
        default=None,
        help="folder of local dataset copies (aclImdb/, ag_news_csv/, glove/); sets "
        "FTCOURSE_DATA_DIR for the notebook",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed per cell (default: 300 on ci, no limit on full; <= 0: no limit)",
    )
    run.add_argument(
        "--output",
        default=None,
        help="where to save the executed notebook (default: _build/runs/<profile>/<name>.ipynb)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a value of the notebook's parameters cell, e.g. --set EPOCHS=10 "
        "(repeatable; the chapter records the values it ran with)",
    )
    serve = commands.add_parser(
        "serve",
        help="serve a fine-tuned text classifier over HTTP (GET /health, POST /predict, POST /predict/batch)",
        description="Load a folder written by save_pretrained (model and tokenizer) once and serve it "
        "with uvicorn.",
    )
    serve.add_argument("model", help="folder of the fine-tuned model and its tokenizer")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    doctor = commands.add_parser(
        "doctor",
        help="check Python, PyTorch, the GPU, library versions, the hub, folders and known-bad combinations",
        description="Report the environment the chapters run in, each problem with its fix; the exit "
        "code is 1 when a known-bad combination is found.",
    )
    doctor.add_argument("--no-network", action="store_true",
                        help="do not check whether huggingface.co resolves")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m ftcourse` and of the `ftcourse` script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        from ftcourse.doctor import main as doctor

        return doctor(network=not args.no_network)
    if args.command == "serve":
        from ftcourse.serve import serve

        try:
            serve(args.model, host=args.host, port=args.port)
        except (FileNotFoundError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    from ftcourse import profile
    from ftcourse.runner import DEFAULT_TIMEOUT, RunError, parse_overrides, run_notebook

    try:
        profile_name = args.profile or profile()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    timeout = DEFAULT_TIMEOUT[profile_name] if args.timeout is None else args.timeout
    if timeout is not None and timeout <= 0:
        timeout = None
    try:
        overrides = parse_overrides(args.overrides)
        result = run_notebook(
            args.notebook,
            profile_name,
            data_dir=args.data_dir,
            timeout=timeout,
            output=args.output,
            log=lambda line: print(line, flush=True),
            overrides=overrides,
        )
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    metrics = json.loads(result.results.read_text(encoding="utf-8")).get("metrics", {})
    for name, value in metrics.items():
        print(f"  {name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
