"""The experiment record the chapters share: run a strategy, compare two, tabulate them.

A chapter that compares ways to fine-tune (chapters 02-05, 13, 14) does the same thing for each:
count the parameters, seed, train, plot the curves, test once, print one line. `run_strategy`
does that and returns a `Run`, the record of one training run. `compare` turns two runs (or two
groups of runs over several seeds) into a verdict that names a winner only when the gap is larger
than the noise; `table` renders runs as a Markdown table, `seed_table` the runs of each strategy over several
seeds with their mean and spread (`seed_metrics` names those figures for the record);
`ftcourse.results.record` takes the runs and writes their metrics.

The noise rule: with several runs per strategy (seeds), the gap must exceed two standard errors
of the difference of the means, measured from the runs' spread. With one run each, the noise is
the test set's own: an accuracy p measured on n examples has a standard error sqrt(p(1-p)/n), and
the gap must exceed two standard errors of the difference, 2 sqrt(pa(1-pa)/na + pb(1-pb)/nb).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ftcourse.tables import markdown_table
from ftcourse.train import History

# Columns `table` knows how to label and format; any other column is read from `Run.metrics`.
_HEADERS = {
    "accuracy": "test accuracy",
    "params": "trainable / total parameters",
    "trainable": "trainable parameters",
    "total": "total parameters",
    "share": "trainable %",
    "best_epoch": "best epoch",
    "seconds": "training seconds",
    "seed": "seed",
    "reused": "reused",
}


@dataclass
class Run:
    """The record of one training run: its metrics (e.g. `{"accuracy": 0.84}`), the parameters
    it trained, its best epoch, seconds, history and seed. `n_test` is the number of test examples
    the accuracy was measured on (what the stated noise of `compare` needs). Chapter 02."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    trainable: int | None = None
    total: int | None = None
    best_epoch: int | None = None
    seconds: float | None = None
    history: History | None = None
    reused: bool = False
    seed: int | None = None
    n_test: int | None = None

    @property
    def accuracy(self) -> float:
        if "accuracy" not in self.metrics:
            raise KeyError(f"run {self.name!r} recorded no accuracy; its metrics are {sorted(self.metrics)}")
        return float(self.metrics["accuracy"])

    def summary(self) -> dict:
        """The run's figures without its history, as `ftcourse.results.record` stores them."""
        return {**self.metrics, "trainable": self.trainable, "total": self.total,
                "best_epoch": self.best_epoch, "seconds": self.seconds, "seed": self.seed,
                "n_test": self.n_test, "reused": self.reused}

    def to_dict(self) -> dict:
        """Everything, the history included, in JSON-ready types (`Run.from_dict` reads it back)."""
        return {"name": self.name, **self.summary(), "metrics": dict(self.metrics),
                "history": self.history.to_dict() if self.history is not None else None}

    @classmethod
    def from_dict(cls, record: Mapping) -> Run:
        history = record.get("history")
        return cls(
            name=record["name"],
            metrics=dict(record.get("metrics", {})),
            trainable=record.get("trainable"),
            total=record.get("total"),
            best_epoch=record.get("best_epoch"),
            seconds=record.get("seconds"),
            history=History(**history) if history is not None else None,
            reused=bool(record.get("reused", False)),
            seed=record.get("seed"),
            n_test=record.get("n_test"),
        )


def run_strategy(
    name: str,
    model,
    train_loader,
    valid_loader,
    test_loader,
    *,
    seed: int | None,
    cache: bool = True,
    title: str | None = None,
    plot: bool = True,
    **fit_kwargs,
) -> Run:
    """Train one strategy the way the chapters do: count the parameters, seed, train (with
    `ftcourse.runcache.fit_cached` when `cache`, else `ftcourse.train.fit`), plot the history,
    test once on `test_loader`, print one line, and return the `Run`. Chapter 02.

    `seed=None` leaves the random-number state as it is (when the model was just built from a
    seed and training must continue from there). `fit_kwargs` go to `fit` (epochs, lr, clip,
    optimizer, ...); a custom optimizer needs `cache=False`, as the run cache cannot key it.
    """
    from ftcourse import plots
    from ftcourse._env import set_seed
    from ftcourse.adapt import count_parameters
    from ftcourse.runcache import fit_cached
    from ftcourse.train import evaluate, fit

    if cache and fit_kwargs.get("optimizer") is not None:
        raise ValueError(f"run_strategy({name!r}): the run cache cannot key a custom optimizer; "
                         "pass cache=False to train it with ftcourse.train.fit")
    counts = count_parameters(model)
    if seed is not None:
        set_seed(seed)
    history = (fit_cached if cache else fit)(model, train_loader, valid_loader, desc=name, **fit_kwargs)
    if plot:
        plots.plot_history(history, title=title or name)
    run = Run(name, {"accuracy": evaluate(model, test_loader)}, trainable=counts.trainable, total=counts.total,
              best_epoch=history.best_epoch, seconds=history.seconds, history=history, reused=history.reused,
              seed=seed, n_test=len(test_loader.dataset))
    reused = " (reused: an identical run was trained before)" if history.reused else ""
    print(f"{name}: {counts}; best validation epoch {history.best_epoch}, test accuracy {run.accuracy:.3f}{reused}")
    return run


@dataclass
class Verdict:
    """What `compare` concluded: the gap between two strategies and the noise it was held to."""

    a: str
    b: str
    mean_a: float
    mean_b: float
    noise: float
    basis: str  # how the noise was obtained
    metric: str = "accuracy"
    higher_is_better: bool = True

    @property
    def gap(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def winner(self) -> str | None:
        """The better strategy's name, or None when the gap is within the noise."""
        if abs(self.gap) <= self.noise:
            return None
        return self.a if (self.gap > 0) == self.higher_is_better else self.b

    def __str__(self) -> str:
        if self.metric == "accuracy":  # shares in %, gaps in percentage points
            a, b, noise, gap = (f"{self.mean_a:.1%}", f"{self.mean_b:.1%}", f"{100 * self.noise:.1f} points",
                                f"{100 * abs(self.gap):.1f} points")
        else:
            a, b, noise, gap = (f"{self.mean_a:.4g}", f"{self.mean_b:.4g}", f"{self.noise:.3g}",
                                f"{abs(self.gap):.3g}")
        figures = f"{a} against {b}; noise ±{noise}, {self.basis}"
        if self.winner is None:
            return f"**{self.a}** and **{self.b}** are within noise ({figures})"
        verb = "beat" if self.winner == self.a else "trailed"
        if self.metric != "accuracy":
            verb = f"{'beat' if self.winner == self.a else 'trailed'} ({'higher' if self.gap > 0 else 'lower'})"
        return f"**{self.a}** {verb} **{self.b}** by {gap} ({figures})"


def _runs(group: Run | Sequence[Run]) -> list[Run]:
    runs = [group] if isinstance(group, Run) else list(group)
    if not runs:
        raise ValueError("compare got an empty group of runs")
    names = {r.name for r in runs}
    if len(names) > 1:
        raise ValueError(f"a group holds the runs of one strategy over several seeds; got {sorted(names)}")
    return runs


def compare(
    a: Run | Sequence[Run],
    b: Run | Sequence[Run],
    *,
    metric: str = "accuracy",
    noise: float | None = None,
    higher_is_better: bool = True,
) -> Verdict:
    """Compare strategy `a` with `b` on `metric`: a `Verdict` that names a winner only when the
    gap exceeds the noise (see the module's docstring for the rule), `str()` gives the prose.

    Each side is one `Run` or the runs of one strategy over several seeds. `noise` states the
    noise instead of measuring it (needed for a metric other than accuracy from one run each);
    `higher_is_better=False` for a loss. Chapters 02-05, 13 and 14.
    """
    runs_a, runs_b = _runs(a), _runs(b)
    values_a = [float(r.metrics[metric]) for r in runs_a]
    values_b = [float(r.metrics[metric]) for r in runs_b]
    mean_a, mean_b = statistics.fmean(values_a), statistics.fmean(values_b)
    if noise is not None:
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        basis = "stated"
    elif len(runs_a) > 1 and len(runs_b) > 1:
        noise = 2 * math.sqrt(statistics.variance(values_a) / len(values_a)
                              + statistics.variance(values_b) / len(values_b))
        basis = f"two standard errors over {len(values_a)} and {len(values_b)} seeds"
    else:
        if metric != "accuracy":
            raise ValueError(f"no noise is known for {metric!r} from one run; run several seeds or pass noise=")
        missing = [r.name for r in runs_a + runs_b if not r.n_test]
        if missing:
            raise ValueError(f"runs {missing} do not say how many test examples they were measured on; "
                             "set Run.n_test, or pass noise=")
        n_a, n_b = runs_a[0].n_test, runs_b[0].n_test
        noise = 2 * math.sqrt(mean_a * (1 - mean_a) / n_a + mean_b * (1 - mean_b) / n_b)
        basis = (f"two standard errors on {n_a:,} test examples" if n_a == n_b
                 else f"two standard errors on {n_a:,} and {n_b:,} test examples")
    return Verdict(runs_a[0].name, runs_b[0].name, mean_a, mean_b, noise, basis, metric, higher_is_better)


def _cell(run: Run, column: str):
    if column == "params":
        if run.trainable is None or run.total is None:
            return None
        return f"{run.trainable:,} / {run.total:,}"
    if column == "share":
        return None if not run.total or run.trainable is None else f"{100 * run.trainable / run.total:.2f}%"
    if column == "seconds":
        return None if run.seconds is None else f"{run.seconds:.1f}"
    if column in ("trainable", "total", "best_epoch", "seed", "reused"):
        return getattr(run, column)
    return run.metrics.get(column)


def table(
    runs: Sequence[Run],
    columns: Sequence[str] = ("accuracy", "params", "best_epoch", "seconds"),
    *,
    first: str = "strategy",
    headers: Mapping[str, str] | None = None,
) -> str:
    """A Markdown table with one row per run and the `columns` the caller chooses: `accuracy` or
    any other metric, `params` (trainable / total), `trainable`, `total`, `share`, `best_epoch`,
    `seconds`, `seed`, `reused`. Numbers are formatted (thousands separators, 3 decimals for
    metrics); a figure a run lacks shows as "-". `headers` renames columns. Chapter 02."""
    if not runs:
        raise ValueError("table got no runs")
    names = {**_HEADERS, **(headers or {})}
    rows = [[run.name, *(_cell(run, c) for c in columns)] for run in runs]
    return markdown_table(rows, [first, *(names.get(c, c) for c in columns)], width=None)


def _seed_groups(groups: Sequence[Sequence[Run]]) -> list[list[Run]]:
    if not groups:
        raise ValueError("got no groups of runs; pass one list of runs (one per seed) per strategy")
    checked = [_runs(group) for group in groups]
    seeds = [[r.seed for r in group] for group in checked]
    if any(s != seeds[0] for s in seeds):
        raise ValueError(f"every strategy needs the same seeds in the same order, got {seeds}; "
                         "run each strategy once per seed of one list")
    return checked


def over_seeds(runs: Sequence[Run], metric: str = "accuracy") -> tuple[float, float | None]:
    """The mean and the sample standard deviation of `metric` over one strategy's runs (one per
    seed); the deviation is None for a single run. Chapters 09 and 14."""
    values = [float(r.metrics[metric]) for r in _runs(runs)]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def seed_table(
    groups: Sequence[Sequence[Run]],
    metric: str = "accuracy",
    *,
    first: str = "strategy",
) -> str:
    """A Markdown table of each strategy's `metric` per seed, then its mean and standard
    deviation: `groups` holds one list of runs per strategy, all over the same seeds. Chapters 09
    and 14 show their three ci seeds with it."""
    checked = _seed_groups(groups)
    header = [first, *(f"seed {r.seed}" for r in checked[0]), "mean", "sd"]
    rows = [[group[0].name, *(r.metrics.get(metric) for r in group), *over_seeds(group, metric)]
            for group in checked]
    return markdown_table(rows, header, width=None)


def seed_metrics(
    groups: Sequence[Sequence[Run]],
    metric: str = "accuracy",
    *,
    names: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """The figures over seeds to record: `<metric>_mean/<name>` and `<metric>_sd/<name>` for each
    strategy run with several seeds (nothing for one run: its figure is `<metric>/<name>`
    already). `names` maps a run's name to the name the chapter records it under. Chapters 09
    and 14."""
    figures = {}
    for group in _seed_groups(groups):
        mean, sd = over_seeds(group, metric)
        if sd is not None:
            name = (names or {}).get(group[0].name, group[0].name)
            figures[f"{metric}_mean/{name}"] = mean
            figures[f"{metric}_sd/{name}"] = sd
    return figures


__all__ = ["Run", "Verdict", "compare", "over_seeds", "run_strategy", "seed_metrics", "seed_table", "table"]
