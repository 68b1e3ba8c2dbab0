"""Handwritten images for LeNet in both profiles: scikit-learn's digits (`ci`) and EMNIST (`full`).

Chapter 04 pre-trains the seeds' `NNet` (`ftcourse.models.LeNet`, 1x32x32 inputs) on some
handwritten classes and adapts it with LoRA to new ones:
- `ci`: scikit-learn's bundled 8x8 digits (1,797 real handwritten digits, no download):
  pre-train on 0-4, adapt to 5-9, images resized to 32x32 (bilinear).
- `full`: EMNIST as seed 002 intends: pre-train on the digits split (10 classes), adapt to the
  letters split (26 classes). The original IDX files are read from `FTCOURSE_DATA_DIR/emnist/`
  (or its `gzip/` folder, as the official zip unpacks), else the official zip is downloaded
  through `ftcourse.download`. EMNIST's 28x28 images are padded to 32x32, as LeNet-5 was
  designed for.

A dataset is an `ImageClassificationData` of tensors: images [N, 1, 32, 32] float, normalised,
and labels [N] 0..k-1; `make_image_loader` batches a split as (labels, images), the order
`ftcourse.train.fit` expects.
"""

from __future__ import annotations

import gzip
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile

IMAGE_SIZE = 32
EMNIST_SPLITS = ("digits", "letters", "mnist", "balanced", "byclass", "bymerge")
EMNIST_LETTERS = list(string.ascii_uppercase)  # letters split: labels 1..26 are A..Z (upper and lower case)
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass
class ImageSplit:
    """Images [N, 1, H, W] (float, normalised) and their labels [N] (long, 0..k-1)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise ValueError(
                f"expected images [N, C, H, W] and labels [N], got {tuple(self.images.shape)} "
                f"and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, count: int, seed: int = 0) -> ImageSplit:
        """A random subset of `count` items (all of them when `count` >= len), reproducibly."""
        if count >= len(self):
            return self
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:count]
        order = order.sort().values
        return ImageSplit(self.images[order], self.labels[order])

    def split(self, valid_fraction: float = 0.1, seed: int = 0) -> tuple[ImageSplit, ImageSplit]:
        """Train and validation parts, each class keeping its share (stratified), reproducibly."""
        if not 0 < valid_fraction < 1:
            raise ValueError(f"valid_fraction must be between 0 and 1, got {valid_fraction}")
        train, valid = _stratified_split(self.labels.numpy(), valid_fraction, seed)
        train, valid = torch.from_numpy(train), torch.from_numpy(valid)
        return (ImageSplit(self.images[train], self.labels[train]),
                ImageSplit(self.images[valid], self.labels[valid]))


@dataclass
class ImageClassificationData:
    """An image classification dataset: train and test splits, class names, where it came from."""

    name: str
    train: ImageSplit
    test: ImageSplit
    classes: list[str]
    source: str

    @property
    def num_class(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (
            f"ImageClassificationData({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
            f"classes={self.classes}, source={self.source!r})"
        )


def _missing(what: str, where: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"{what} not found in {where}. Point FTCOURSE_DATA_DIR at a folder holding emnist/ with "
        "the EMNIST gzip files (emnist-letters-train-images-idx3-ubyte.gz, ...), unset it to "
        "download them, or set FTCOURSE_PROFILE=ci to use scikit-learn's bundled digits instead."
    )


def _normalise(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (images - mean) / std


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split that keeps each class's share, reproducibly."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        rng.shuffle(index)
        cut = int(round(len(index) * test_fraction))
        test.append(index[:cut])
        train.append(index[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# ---------------------------------------------------------------------------------------------
# scikit-learn's digits (ci)
def load_digits_split(
    classes: Sequence[int] = (0, 1, 2, 3, 4),
    test_fraction: float = 0.25,
    seed: int = 0,
    size: int = IMAGE_SIZE,
) -> ImageClassificationData:
    """scikit-learn's 8x8 handwritten digits restricted to `classes`, as 1 x size x size tensors.

    Labels are renumbered 0..k-1 in the order of `classes` (digits 5-9 become 0-4), so a model
    with a k-way head can learn them. Pixels (0..16) are scaled to 0..1, resized with bilinear
    interpolation and normalised with the mean and standard deviation of all 1,797 images, the
    same constants for every choice of classes. The split is stratified and set by `seed`.
    """
    from sklearn.datasets import load_digits

    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be distinct digits 0..9, got {classes}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    digits = load_digits()
    pixels = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != pixels.shape[-1]:
        pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
    pixels = _normalise(pixels, float(pixels.mean()), float(pixels.std()))
    target = np.asarray(digits.target)
    keep = np.flatnonzero(np.isin(target, classes))
    remap = {c: i for i, c in enumerate(classes)}
    labels = np.array([remap[int(t)] for t in target[keep]], dtype=np.int64)
    train, test = _stratified_split(target[keep], test_fraction, seed)  # by digit: order-independent
    images = pixels[torch.from_numpy(keep)]
    labels_t = torch.from_numpy(labels)
    return ImageClassificationData(
        name=f"digits {classes[0]}-{classes[-1]}" if classes == list(range(classes[0], classes[-1] + 1))
        else f"digits {classes}",
        train=ImageSplit(images[torch.from_numpy(train)], labels_t[torch.from_numpy(train)]),
        test=ImageSplit(images[torch.from_numpy(test)], labels_t[torch.from_numpy(test)]),
        classes=[str(c) for c in classes],
        source=f"scikit-learn load_digits (8x8, resized to {size}x{size}), seed {seed}",
    )


# ---------------------------------------------------------------------------------------------
# EMNIST (full)
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST/EMNIST format), gzipped (`.gz`) or not, as a NumPy array.

    The header is two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    then each dimension as a big-endian 32-bit integer; the data follow in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header cut short")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: the header announces shape {shape} ({expected:,} bytes of data) but the file "
            f"holds {len(raw) - header:,}; is it truncated?"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_emnist_images(path: str | Path) -> np.ndarray:
    """EMNIST images [N, 28, 28] uint8, upright: the files store each image transposed."""
    images = read_idx(path)
    if images.ndim != 3:
        raise ValueError(f"{path}: expected images [N, H, W], got shape {images.shape}")
    return np.ascontiguousarray(images.transpose(0, 2, 1))


def emnist_folder(profile: str | None = None) -> Path:
    """The folder holding the EMNIST gzip files: FTCOURSE_DATA_DIR/emnist (or its gzip/
    subfolder, or FTCOURSE_DATA_DIR/gzip), else the official zip, downloaded once."""
    if active_profile(profile) == "ci":
        raise ValueError("EMNIST is the full profile's dataset; on ci use load_digits_split()")
    root = data_dir()
    if root is None:
        from ftcourse import download

        return download.fetch("emnist")
    for folder in (root / "emnist", root / "emnist" / "gzip", root / "gzip"):
        if any(folder.glob("emnist-*-idx*-ubyte*")):
            return folder
    raise _missing("EMNIST folder 'emnist/' (with the gzip files)", root)


def _emnist_file(folder: Path, split: str, part: str, kind: str) -> Path:
    stem = f"emnist-{split}-{part}-{kind}-ubyte"
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise _missing(f"EMNIST file {stem}.gz", folder)


def load_emnist(
    split: str = "letters",
    folder: str | Path | None = None,
    profile: str | None = None,
) -> ImageClassificationData:
    """An EMNIST split as 1x32x32 tensors (28x28 padded by 2 pixels), normalised with the
    training images' mean and standard deviation; labels 0..k-1 (letters: A..Z, stored 1..26).

    `folder` overrides where the gzip files are read from (else `emnist_folder()`).
    """
    if split not in EMNIST_SPLITS:
        raise ValueError(f"unknown EMNIST split {split!r}; choose one of {EMNIST_SPLITS}")
    folder = Path(folder) if folder is not None else emnist_folder(profile)
    parts = {}
    for part in ("train", "test"):
        images = read_emnist_images(_emnist_file(folder, split, part, "images-idx3"))
        labels = read_idx(_emnist_file(folder, split, part, "labels-idx1")).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f"EMNIST {split} {part}: {len(images)} images but {len(labels)} labels")
        parts[part] = (images, labels)
    if split == "letters":
        classes, offset = list(EMNIST_LETTERS), 1
    else:
        top = int(max(parts["train"][1].max(), parts["test"][1].max()))
        classes, offset = [str(c) for c in range(top + 1)], 0
    padded = {}
    for part, (images, _) in parts.items():
        pixels = torch.from_numpy(images).unsqueeze(1).float() / 255.0
        pad = (IMAGE_SIZE - pixels.shape[-1]) // 2
        padded[part] = F.pad(pixels, (pad, pad, pad, pad))
    mean, std = float(padded["train"].mean()), float(padded["train"].std())
    splits = {}
    for part, (_, labels) in parts.items():
        targets = torch.from_numpy(labels) - offset
        if int(targets.min()) < 0 or int(targets.max()) >= len(classes):
            raise ValueError(f"EMNIST {split} {part}: labels outside 0..{len(classes) - 1} after shifting")
        splits[part] = ImageSplit(_normalise(padded.pop(part), mean, std), targets)
    return ImageClassificationData(
        name=f"emnist-{split}",
        train=splits["train"],
        test=splits["test"],
        classes=classes,
        source=f"EMNIST {split} ({folder})",
    )


# ---------------------------------------------------------------------------------------------
# Per profile, and batching
def load_handwriting(task: str, profile: str | None = None) -> ImageClassificationData:
    """Chapter 04's two image tasks for the profile: `"pretrain"` (ci: digits 0-4; full:
    EMNIST digits) and `"adapt"`, the new classes (ci: digits 5-9; full: EMNIST letters)."""
    if task not in ("pretrain", "adapt"):
        raise ValueError(f"task must be 'pretrain' or 'adapt', got {task!r}")
    if active_profile(profile) == "ci":
        return load_digits_split(range(5) if task == "pretrain" else range(5, 10))
    return load_emnist("digits" if task == "pretrain" else "letters", profile=profile)


def make_image_loader(
    split: ImageSplit, batch_size: int = 64, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """A DataLoader of (labels, images) batches over an `ImageSplit` (shuffled reproducibly)."""
    if len(split) == 0:
        raise ValueError("make_image_loader got an empty split")
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    dataset = TensorDataset(split.labels, split.images)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


__all__ = [
    "EMNIST_LETTERS",
    "ImageClassificationData",
    "ImageSplit",
    "emnist_folder",
    "load_digits_split",
    "load_emnist",
    "load_handwriting",
    "make_image_loader",
    "read_emnist_images",
    "read_idx",
]
