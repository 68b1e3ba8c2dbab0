"""The course's figures: training curves, strategy comparisons, the positional encoding matrix.

`plot_history` is the seeds' twin-axis loss/accuracy plot (chapter 02 onwards).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history, title: str | None = None, ax=None):
    """Summed training loss (left, red) and validation accuracy (right, blue) per epoch."""
    loss = list(getattr(history, "loss", history["loss"] if isinstance(history, Mapping) else []))
    acc = list(getattr(history, "val_acc", history.get("val_acc", []) if isinstance(history, Mapping) else []))
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, color="tab:red", marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("total loss", color="tab:red")
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
