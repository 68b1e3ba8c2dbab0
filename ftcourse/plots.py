"""The course's figures: training curves, strategy comparisons, confusion matrices, the positional
encoding matrix, and the results page's summary charts across chapters (`method_rows`, `plot_method_accuracy`,
`plot_trainable_params`).

`plot_history` is the seeds' twin-axis loss/accuracy plot (chapter 02 onwards).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history, title: str | None = None, ax=None):
    """Mean training loss per batch (left, red) and validation accuracy (right, blue) per epoch,
    from a `ftcourse.train.History` (what `fit` and `train_loop` return) or a dict of the same
    lists. Chapter 02."""
    loss = list(getattr(history, "loss", history["loss"] if isinstance(history, Mapping) else []))
    acc = list(getattr(history, "val_acc", history.get("val_acc", []) if isinstance(history, Mapping) else []))
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, color="tab:red", marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss", color="tab:red")
    ax.tick_params(axis="y", colors="tab:red")
    if acc:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(acc) + 1), acc, color="tab:blue", marker="s")
        ax2.set_ylabel("validation accuracy", color="tab:blue")
        ax2.tick_params(axis="y", colors="tab:blue")
    if title:
        ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def plot_comparison(
    values: Mapping[str, float],
    ylabel: str = "test accuracy",
    title: str | None = None,
    chance: float | None = None,
    annotations: Mapping[str, str] | None = None,
    ax=None,
):
    """A bar per strategy with its value printed on top (and a dashed chance line)."""
    if not values:
        raise ValueError("plot_comparison needs at least one value")
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.4 * len(values) + 2, 3.5))
    else:
        fig = ax.figure
    names = list(values)
    heights = [float(values[n]) for n in names]
    bars = ax.bar(names, heights, color=plt.cm.tab10.colors[: len(names)])
    for bar, name, height in zip(bars, names, heights):
        label = f"{height:.3f}"
        if annotations and name in annotations:
            label += f"\n{annotations[name]}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, height), ha="center", va="bottom", fontsize=8)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(1.0, max(heights) * 1.15))
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    matrix, classes: Sequence[str], title: str | None = None, normalize: bool = True, ax=None
):
    """The confusion matrix as a heat map: rows true, columns predicted; counts in the cells
    (from `ftcourse.loops.confusion_matrix`, chapter 09).

    With `normalize`, colours show each row's share (the recall of the class on the diagonal).
    """
    matrix = np.asarray(matrix)
    if matrix.shape != (len(classes), len(classes)):
        raise ValueError(f"a {matrix.shape} matrix does not fit {len(classes)} class names")
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2.2, 1.0 * len(classes) + 1.6))
    else:
        fig = ax.figure
    rows = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0) if normalize else matrix
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, label="share of the true class" if normalize else "count")
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=30, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = shown.max() if shown.size else 0
    for i in ticks:
        for j in ticks:
            ax.text(
                j,
                i,
                f"{matrix[i, j]}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if shown[i, j] > 0.6 * top else "black",
            )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_positional_encoding(pe, dims: tuple[int, ...] = (0, 1, 4, 5), max_positions: int | None = None):
    """The encoding matrix as a heat map, and a few of its columns as curves over positions."""
    pe = np.asarray(pe)
    if max_positions:
        pe = pe[:max_positions]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    image = left.imshow(pe, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    left.set_xlabel("embedding dimension")
    left.set_ylabel("position")
    left.set_title("positional encoding matrix")
    fig.colorbar(image, ax=left)
    for d in dims:
        if d < pe.shape[1]:
            kind = "sin" if d % 2 == 0 else "cos"
            right.plot(pe[:, d], label=f"dim {d} ({kind})")
    right.set_xlabel("position")
    right.set_title("some columns")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_column_space(matrix, ax=None, title: str | None = None, limit: float = 3.0):
    """The columns of a 3-row matrix as arrows from the origin, and the space they span: the
    plane (rank 2) or the line (rank 1) that every product `matrix @ x` lands in (chapter 04)."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != 3:
        raise ValueError(f"plot_column_space draws 3-row matrices (3-D columns), got shape {matrix.shape}")
    if ax is None:
        fig = plt.figure(figsize=(4.5, 4.5))
        ax = fig.add_subplot(projection="3d")
    elif not hasattr(ax, "plot_surface"):
        raise ValueError("pass a 3-D axis, e.g. fig.add_subplot(projection='3d')")
    u, s, _ = np.linalg.svd(matrix)
    rank = int(np.linalg.matrix_rank(matrix))
    grid = np.linspace(-limit, limit, 11)
    if rank == 2:  # the plane through the origin spanned by the first two left singular vectors
        a, b = np.meshgrid(grid, grid)
        points = u[:, :1, None] * a + u[:, 1:2, None] * b
        ax.plot_surface(*points, alpha=0.3, color="tab:green")
    elif rank == 1:
        line = u[:, :1] * grid
        ax.plot(*line, color="tab:green", linewidth=3, alpha=0.5)
    for i in range(matrix.shape[1]):
        ax.quiver(0, 0, 0, *matrix[:, i], color="tab:blue", arrow_length_ratio=0.1)
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(-limit, limit)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.set_title(title or f"{matrix.shape[1]} columns, rank {rank}")
    return ax.figure


def plot_image_grid(images, labels, classes, columns: int = 10, rows: int = 2, title: str | None = None):
    """The first `rows * columns` images [N, 1, H, W] with their class names (chapter 04)."""
    images = np.asarray(images)
    count = min(len(images), rows * columns)
    if count == 0:
        raise ValueError("plot_image_grid got no images")
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.1))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < count:
            ax.imshow(images[i].squeeze(0), cmap="gray_r")
            ax.set_title(str(classes[int(labels[i])]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- The results page: methods compared across chapters (the seeds' `create_summary_plots`) ---

def method_rows(runs: Iterable[Mapping]) -> list[dict]:
    """One row per (chapter, method) from recorded runs (dicts as `results.load` returns them).

    A method is any metric `[prefix/]accuracy/<method>` recorded together with
    `[prefix/]trainable_params/<method>` (e.g. `accuracy/lora` with `trainable_params/lora`, or
    `cnn/accuracy/lora` with `cnn/trainable_params/lora`); the prefix is kept in the method's name
    (`cnn/lora`). Each row carries its run's profile, data source and device, so a chart or table
    built from the rows can say where every number came from. Rows keep the runs' order and, within
    a run, the order the metrics were recorded in.
    """
    rows = []
    for run in runs:
        metrics = run.get("metrics", {})
        where = run.get("provenance", {})
        for name, value in metrics.items():
            parts = name.split("/")
            if "accuracy" not in parts[:-1]:
                continue
            at = parts.index("accuracy")
            params_name = "/".join(parts[:at] + ["trainable_params"] + parts[at + 1 :])
            if params_name not in metrics:
                continue
            rows.append(
                {
                    "chapter": run.get("notebook", "?"),
                    "method": "/".join(parts[:at] + parts[at + 1 :]),
                    "accuracy": float(value),
                    "trainable_params": int(metrics[params_name]),
                    "profile": where.get("profile"),
                    "data_source": where.get("data_source"),
                    "device": where.get("device"),
                }
            )
    return rows


def provenance_caption(rows: Sequence[Mapping], width: int = 130) -> str:
    """Where the rows' numbers came from: profile and hardware, then each chapter's data source
    (wrapped at `width` characters, continuation lines indented)."""
    if not rows:
        raise ValueError("provenance_caption got no rows")
    profiles = sorted({str(r["profile"]) for r in rows})
    devices = sorted({str(r["device"]) for r in rows})
    lines = [f"profile: {', '.join(profiles)}   hardware: {'; '.join(devices)}"]
    seen = {}
    for r in rows:
        seen.setdefault(r["chapter"], str(r["data_source"]))
    for chapter, source in seen.items():
        lines += textwrap.wrap(f"{chapter}: {source}", width=width, subsequent_indent="    ")
    return "\n".join(lines)


def _method_bars(rows: Sequence[Mapping], key: str, xlabel: str, title: str, log: bool, value_format):
    if not rows:
        raise ValueError(f"no recorded method results to plot ({title})")
    chapters = list(dict.fromkeys(r["chapter"] for r in rows))
    colours = {c: plt.cm.tab10.colors[i % 10] for i, c in enumerate(chapters)}
    labels = [f"{r['chapter']}: {r['method']}" for r in rows]
    values = [r[key] for r in rows]
    if log and min(values) <= 0:
        raise ValueError(f"a log scale needs positive values; got {min(values)} in {key}")
    caption = provenance_caption(rows)
    caption_lines = caption.count("\n") + 1
    height = 0.3 * len(rows) + 1.4 + 0.12 * caption_lines
    fig, ax = plt.subplots(figsize=(10, height))
    positions = np.arange(len(rows))[::-1]  # first row at the top
    bars = ax.barh(positions, values, color=[colours[r["chapter"]] for r in rows])
    ax.set_yticks(positions, labels, fontsize=8)
    for bar, value in zip(bars, values):
        ax.annotate(
            f" {value_format(value)}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=7,
        )
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, max(values) * 8)
    else:
        ax.set_xlim(0, max(1.0, max(values)) * 1.12)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.subplots_adjust(bottom=(0.12 * caption_lines + 0.6) / height)  # room for the caption
    fig.text(0.01, 0.01, caption, fontsize=6.5, va="bottom", ha="left", family="monospace")
    return fig


def plot_method_accuracy(rows: Sequence[Mapping], title: str | None = None):
    """Test accuracy per chapter and method (the seeds' "accuracy by method" chart), with the
    profile, hardware and data of the runs written under the axes."""
    profile_names = ", ".join(sorted({str(r["profile"]) for r in rows})) if rows else "?"
    return _method_bars(
        rows,
        "accuracy",
        "test accuracy",
        title or f"Accuracy by method (profile {profile_names})",
        log=False,
        value_format=lambda v: f"{v:.3f}",
    )


def plot_trainable_params(rows: Sequence[Mapping], title: str | None = None):
    """Trainable parameters per chapter and method on a log scale (the seeds' "parameter
    efficiency" chart), labelled with the runs' profile, hardware and data."""
    profile_names = ", ".join(sorted({str(r["profile"]) for r in rows})) if rows else "?"
    return _method_bars(
        rows,
        "trainable_params",
        "trainable parameters (log scale)",
        title or f"Trainable parameters by method (profile {profile_names})",
        log=True,
        value_format=lambda v: f"{int(v):,}",
    )
