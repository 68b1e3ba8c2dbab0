"""The chapters' cost in the test command, executed twice (before) and once (now), side by side.

    python3 bench/test_phase.py            # about 10 minutes on 2 cores

In one run, on the `ci` profile, offline, with the set-up already done (`python3 tasks.py setup`):
1. before: every chapter with nbmake (two at a time, chapter 13 from .venv-adapters), then the
   strict book build executing every chapter again (`execute_notebooks: force`);
2. now: `tasks.py test chapters book`: every chapter once with the runner, two at a time, and the
   strict book build rendering those executions;
3. the book command with a warm store (`tasks.py book` right after 2: nothing changed, nothing
   runs again).
It prints each chapter's seconds in each execution and the wall time of each step.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_tasks():
    spec = importlib.util.spec_from_file_location("ftcourse_tasks", ROOT / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    return tasks


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    print("$ " + " ".join(command), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return seconds, done.stdout + done.stderr


def nbmake_times(output: str) -> dict[str, float]:
    # pytest --durations=0: "12.34s call     notebooks/02_transfer_learning.ipynb::"
    return {m[1]: float(m[0]) for m in re.findall(r"([\d.]+)s call\s+\S*?notebooks/(\d\d)_\w+\.ipynb", output)}


def book_times(output: str) -> dict[str, float]:
    # myst-nb: "/.../notebooks/02_transfer_learning.ipynb: Executed notebook in 43.07 seconds"
    pattern = r"notebooks/(\d\d)_\w+\.ipynb: Executed notebook in ([\d.]+) seconds"
    return {m[0]: float(m[1]) for m in re.findall(pattern, output)}


def runner_times(output: str) -> dict[str, float]:
    # tasks.py: "  02_transfer_learning         ok       41.3 s"
    return {m[0]: float(m[1]) for m in re.findall(r"^\s+(\d\d)_\w+\s+ok\s+([\d.]+) s$", output, re.M)}


def main() -> int:
    tasks = load_tasks()
    tasks.setup_main()
    tasks.setup_adapters()
    chapters = [nb.stem[:2] for nb in tasks.chapter_notebooks()]
    with tempfile.TemporaryDirectory(prefix="ftcourse-bench-") as cache:
        env = tasks.ci_environment(Path(cache))
        # 1. before: nbmake, then the book executing every chapter again
        adapters = [str(nb) for nb in tasks.chapter_notebooks()
                    if '"name": "ftcourse-adapters"' in nb.read_text(encoding="utf-8")]
        nbmake = [str(tasks.PYTHON), "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--nbmake",
                  "--durations=0", *[f"--ignore={p}" for p in adapters], "notebooks"]
        s_nbmake, out = timed(nbmake, env)
        before_nbmake = nbmake_times(out)
        s_adapters, out = timed([str(tasks.ADAPTERS_PYTHON), "-m", "pytest", "-p", "no:cacheprovider",
                                 "--nbmake", "--durations=0", *adapters], env)
        before_nbmake.update(nbmake_times(out))
        forced = ROOT / "_build" / "bench_config_force.yml"
        forced.parent.mkdir(exist_ok=True)
        # Paths in a config are relative to its folder: the extension's must be absolute here.
        config = (ROOT / "_config.yml").read_text(encoding="utf-8").replace(
            "results_last: book/_ext", f"results_last: {ROOT / 'book' / '_ext'}")
        forced.write_text(re.sub(r"execute_notebooks: \w+", "execute_notebooks: force", config),
                          encoding="utf-8")
        for name in tasks.BOOK_OUTPUTS:
            tasks.shutil.rmtree(ROOT / "_build" / name, ignore_errors=True)
        s_book_before, out = timed([str(tasks.BIN / "jupyter-book"), "build", str(ROOT), "--config",
                                    str(forced), "-W", "-n", "--keep-going"], env)
        forced.unlink()
        before_book = book_times(out)
        # 2. now: execute once, render
        s_now, out = timed([sys.executable, "tasks.py", "test", "chapters", "book"], env)
        now = runner_times(out)
        render = re.search(r"==== book: ok in (\d+) s", out)
        s_chapters = re.search(r"==== chapters: ok in (\d+) s", out)
        # 3. the book command, warm
        s_warm, out = timed([sys.executable, "tasks.py", "book"], env)
        reused = re.search(r"chapters: (\d+) to execute, (\d+) reused", out)

    print("\nchapter seconds on ci (before: nbmake + book execution; now: one execution)")
    print(f"{'ch':<4}{'nbmake':>8}{'book':>8}{'before':>8}{'now':>8}")
    for ch in chapters:
        a, b, c = before_nbmake.get(ch, float("nan")), before_book.get(ch, float("nan")), now.get(ch, float("nan"))
        print(f"{ch:<4}{a:>8.1f}{b:>8.1f}{a + b:>8.1f}{c:>8.1f}")
    total_before = sum(before_nbmake.values()) + sum(before_book.values())
    print(f"sum {sum(before_nbmake.values()):>7.0f}{sum(before_book.values()):>8.0f}{total_before:>8.0f}"
          f"{sum(now.values()):>8.0f}   (chapter-seconds; two run at a time in nbmake and now)")
    print(f"\nwall: before {s_nbmake + s_adapters + s_book_before:.0f} s (nbmake {s_nbmake:.0f} s + "
          f"chapter 13 {s_adapters:.0f} s + book {s_book_before:.0f} s); now {s_now:.0f} s (chapters "
          f"{s_chapters[1] if s_chapters else '?'} s + book {render[1] if render else '?'} s); "
          f"ratio {(s_nbmake + s_adapters + s_book_before) / s_now:.2f}x")
    print(f"book command, warm store: {s_warm:.0f} s "
          f"({reused[1] if reused else '?'} executed, {reused[2] if reused else '?'} reused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
