"""Handwritten images for LeNet in both profiles: generated glyphs (`ci`) and EMNIST (`full`).

Chapter 04 pre-trains the seeds' `NNet` (`ftcourse.models.LeNet`, 1x32x32 inputs) on some
handwritten classes and adapts it with LoRA to new ones:
- `ci`: generated stroke glyphs (`load_glyphs`): pre-train on 80 classes, adapt to 10 new
  classes drawn with the same strokes from a handful of images each, the case
  where transfer pays (with only five pre-training classes, as the digits 0-4 of scikit-learn's
  8x8 set, the pre-trained features were too narrow and a network trained from scratch won).
  `load_digits_split` (scikit-learn's bundled 8x8 digits, resized to 32x32) serves chapter 14.
- `full`: EMNIST as seed 002 intends: pre-train on the digits split (10 classes), adapt to the
  letters split (26 classes). The original IDX files are read from `FTCOURSE_DATA_DIR/emnist/`
  (or its `gzip/` folder, as the official zip unpacks), else the official zip is downloaded
  through `ftcourse.download`. EMNIST's 28x28 images are padded to 32x32, as LeNet-5 was
  designed for.

A dataset is an `ImageClassificationData` of tensors: images [N, 1, 32, 32] float, normalised,
and labels [N] 0..k-1; `make_image_loader` batches a split as (labels, images), the order
`ftcourse.train.fit` expects.

Chapter 14 adapts a ResNet-18 to 5 new classes (seed 001, section 10 and exercise 7). torchvision
does not import beside the CPU build of torch the course installs, so the network is transformers'
`ResNetForImageClassification` with the resnet-18 layout (the same architecture and parameter
count as torchvision's `resnet18`), wrapped by `ResNetClassifier`:
- `ci`: built from its config with random weights; the images are digits 0-4 (`as_rgb`).
- `full`: ImageNet weights from the hub (`microsoft/resnet-18`) and the first five CIFAR-10
  classes, read from the hub's parquet files (`uoft-cs/cifar10`) or from
  `FTCOURSE_DATA_DIR/cifar10/`, normalised with ImageNet's statistics and resized to 224x224 by
  the model on the fly.
"""

from __future__ import annotations

import gzip
import io
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile
from ftcourse.adapt.basics import parameter_matches
from ftcourse.data import ClassificationData

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


@dataclass(repr=False)
class ImageClassificationData(ClassificationData):
    """An image classification dataset: train and test splits, class names, where it came from."""

    train: ImageSplit
    test: ImageSplit


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
# Generated stroke glyphs (ci, chapter 04)
# A glyph is drawn on a 3x3 grid of anchor points; its strokes join neighbouring points
# (6 horizontal, 6 vertical, 8 diagonal). Every class is a fixed set of strokes, as a written
# character is, so classes share strokes the way digits and letters do.
_GRID = [(x, y) for y in (0.22, 0.5, 0.78) for x in (0.22, 0.5, 0.78)]
GLYPH_STROKES: list[tuple[int, int]] = [
    (a, b) for a in range(9) for b in range(a + 1, 9) if max(abs(a % 3 - b % 3), abs(a // 3 - b // 3)) == 1
]
GLYPH_PRETRAIN_CLASSES, GLYPH_ADAPT_CLASSES = 80, 10
_GLYPH_MEAN, _GLYPH_STD = 0.17, 0.33  # of the generated images' pixels (0..1), as measured


def glyph_shapes(count: int) -> list[frozenset[int]]:
    """The stroke sets (indices into `GLYPH_STROKES`) of the first `count` glyph classes: distinct,
    4 to 6 strokes each, the same on every machine. Chapter 04's `ci` pre-training uses the first
    `GLYPH_PRETRAIN_CLASSES`, its adaptation task the next `GLYPH_ADAPT_CLASSES`."""
    rng = np.random.default_rng(20_240_404)
    shapes: list[frozenset[int]] = []
    while len(shapes) < count:
        shape = frozenset(rng.choice(len(GLYPH_STROKES), size=int(rng.integers(4, 7)), replace=False).tolist())
        if all(len(shape ^ other) >= 3 for other in shapes):  # no two classes a stroke apart
            shapes.append(shape)
    return shapes


def render_glyphs(shapes: Sequence[frozenset[int]], labels: np.ndarray, seed: int,
                  size: int = IMAGE_SIZE) -> torch.Tensor:
    """Images [N, 1, size, size] (0..1) of the glyphs `shapes[labels[i]]`, each written by a
    different hand: anchor points moved, the whole glyph scaled, rotated and shifted, strokes of
    random thickness, one stroke now and then left out, and pixel noise."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    grid = np.array(_GRID)[None].repeat(n, 0) + rng.normal(0, 0.035, (n, 9, 2))  # [n, 9, 2]
    angle = rng.normal(0, 0.12, n)
    scale = rng.uniform(0.85, 1.1, n)
    shift = rng.normal(0, 0.05, (n, 2))
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1), np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
    points = np.einsum("nij,nkj->nki", rot * scale[:, None, None], grid - 0.5) + 0.5 + shift[:, None]
    width = rng.uniform(0.035, 0.07, n)
    strokes = np.array(GLYPH_STROKES)
    pixel = (np.arange(size) + 0.5) / size
    py, px = np.meshgrid(pixel, pixel, indexing="ij")
    grid_xy = np.stack([px, py], -1)[None]  # [1, size, size, 2]
    images = np.zeros((n, size, size))
    for i, label in enumerate(labels):
        members = sorted(shapes[int(label)])
        if len(members) > 4 and rng.random() < 0.2:  # a hurried hand skips a stroke
            members.pop(int(rng.integers(len(members))))
        a = points[i, strokes[members, 0]][:, None, None]  # [k, 1, 1, 2]
        b = points[i, strokes[members, 1]][:, None, None]
        ab = b - a
        t = np.clip(((grid_xy - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
        dist = np.linalg.norm(grid_xy - (a + t[..., None] * ab), axis=-1).min(0)
        images[i] = np.clip(1.0 - (dist - width[i] / 2) * size / 1.5, 0, 1)
    images += rng.normal(0, 0.08, images.shape)
    return torch.tensor(images, dtype=torch.float32).unsqueeze(1)


def load_glyphs(task: str, train_per_class: int = 40, test_per_class: int = 30,
                seed: int = 0) -> ImageClassificationData:
    """Generated handwriting-like glyphs (chapter 04's `ci` images): `"pretrain"`, many classes
    with plenty of images (the stand-in for EMNIST digits), or `"adapt"`, new classes built from
    the same strokes (the stand-in for EMNIST letters), normalised as one dataset."""
    if task not in ("pretrain", "adapt"):
        raise ValueError(f"task must be 'pretrain' or 'adapt', got {task!r}")
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError("train_per_class and test_per_class must be >= 1")
    shapes = glyph_shapes(GLYPH_PRETRAIN_CLASSES + GLYPH_ADAPT_CLASSES)
    if task == "pretrain":
        shapes, classes = shapes[:GLYPH_PRETRAIN_CLASSES], [f"g{k}" for k in range(GLYPH_PRETRAIN_CLASSES)]
    else:
        shapes, classes = shapes[GLYPH_PRETRAIN_CLASSES:], list(string.ascii_uppercase[:GLYPH_ADAPT_CLASSES])
    offset = 0 if task == "pretrain" else 1
    splits = []
    for part, per_class in enumerate((train_per_class, test_per_class)):
        labels = np.arange(len(shapes)).repeat(per_class)
        images = _normalise(render_glyphs(shapes, labels, seed=seed * 10 + offset * 2 + part), _GLYPH_MEAN, _GLYPH_STD)
        splits.append(ImageSplit(images, torch.from_numpy(labels)))
    return ImageClassificationData(
        name=f"glyphs ({task})", train=splits[0], test=splits[1], classes=classes,
        source=f"generated stroke glyphs ({len(shapes)} classes, {IMAGE_SIZE}x{IMAGE_SIZE}), seed {seed}",
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
    """Chapter 04's two image tasks for the profile: `"pretrain"` (ci: 80 generated glyph
    classes; full: EMNIST digits) and `"adapt"`, the new classes (ci: 10 new glyphs built from
    the same strokes; full: EMNIST letters)."""
    if task not in ("pretrain", "adapt"):
        raise ValueError(f"task must be 'pretrain' or 'adapt', got {task!r}")
    if active_profile(profile) == "ci":
        return load_glyphs(task)
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


# ---------------------------------------------------------------------------------------------
# Chapter 14: ResNet-18 transfer learning
RESNET18_HUB = "microsoft/resnet-18"
# The resnet-18 layout of transformers' ResNetConfig (microsoft/resnet-18's config.json).
RESNET18_LAYOUT: dict = {
    "embedding_size": 64,
    "hidden_sizes": [64, 128, 256, 512],
    "depths": [2, 2, 2, 2],
    "layer_type": "basic",
    "hidden_act": "relu",
}
TORCHVISION_RESNET18_PARAMETERS = 11_689_512  # torchvision's published figure, 1000-class head
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's resnet18 module names -> the same modules in ResNetClassifier
TORCHVISION_NAMES: dict[str, str] = {
    "conv1": "resnet.resnet.embedder.embedder.convolution",
    "bn1": "resnet.resnet.embedder.embedder.normalization",
    "maxpool": "resnet.resnet.embedder.pooler",
    "layer1": "resnet.resnet.encoder.stages.0",
    "layer2": "resnet.resnet.encoder.stages.1",
    "layer3": "resnet.resnet.encoder.stages.2",
    "layer4": "resnet.resnet.encoder.stages.3",
    "avgpool": "resnet.resnet.pooler",
    "fc": "resnet.classifier.1",
}
CIFAR10_HUB = "uoft-cs/cifar10"
CIFAR10_FILES = {"train": "plain_text/train-00000-of-00001.parquet", "test": "plain_text/test-00000-of-00001.parquet"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def resnet18_config(num_labels: int = 1000, **overrides):
    """transformers' `ResNetConfig` with the resnet-18 layout and a `num_labels`-way head."""
    from transformers import ResNetConfig

    return ResNetConfig(**{**RESNET18_LAYOUT, **overrides}, num_labels=num_labels)


def count_resnet18_parameters(num_labels: int = 1000) -> int:
    """Parameters of ResNet-18 with a `num_labels`-way head, counted on the `meta` device
    (nothing allocated or downloaded); 1000 classes gives torchvision's 11,689,512."""
    from transformers import ResNetForImageClassification

    with torch.device("meta"):
        model = ResNetForImageClassification(resnet18_config(num_labels))
    return sum(p.numel() for p in model.parameters())


class ResNetClassifier(nn.Module):
    """A transformers `ResNetForImageClassification` as a plain classifier: images in, logits out.

    - `forward(images)` returns the logits tensor (what `ftcourse.train.fit` expects), resizing
      the images to `input_size` x `input_size` first when it is set (bilinear), so a dataset can
      stay small in memory while the network sees the resolution its weights were trained at.
    - `train()` keeps every BatchNorm layer whose parameters are all frozen in eval mode. Freezing
      with `requires_grad=False` alone does not freeze BatchNorm: in train mode it normalises with
      the batch's statistics and overwrites its running mean and variance, so a "frozen"
      backbone would still change.
    - `head` is the final Linear (`classifier[1]`, after a Flatten); `stages` the four residual
      stages (torchvision's `layer1`..`layer4`).
    """

    def __init__(self, model: nn.Module, input_size: int | None = None) -> None:
        super().__init__()
        self.resnet = model
        self.input_size = input_size

    @property
    def head(self) -> nn.Linear:
        return self.resnet.classifier[1]

    @property
    def stages(self) -> nn.ModuleList:
        return self.resnet.resnet.encoder.stages

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.input_size is not None and images.shape[-2:] != (self.input_size, self.input_size):
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                                   align_corners=False)
        return self.resnet(pixel_values=images).logits

    def train(self, mode: bool = True) -> ResNetClassifier:
        super().train(mode)
        if mode:
            for module in self.modules():
                params = list(module.parameters(recurse=False))
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and params and not any(
                    p.requires_grad for p in params
                ):
                    module.eval()
        return self


def load_resnet18(
    pretrained: bool | None = None, input_size: int | None = None, profile: str | None = None, seed: int = 0
) -> ResNetClassifier:
    """ResNet-18 with its 1000-class ImageNet head, as a `ResNetClassifier`.

    `pretrained` defaults to the profile: `full` loads the ImageNet weights of `microsoft/resnet-18`
    from the hub; `ci` builds the same network from its config with random weights, the same for
    the same `seed`, without touching the caller's random state.
    """
    from transformers import ResNetForImageClassification

    from ftcourse.hub import hub_errors, unavailable

    if pretrained is None:
        pretrained = active_profile(profile) == "full"
    if not pretrained:
        with torch.random.fork_rng(devices=[]):  # the caller's RNG is left as it was
            torch.manual_seed(seed)
            model = ResNetForImageClassification(resnet18_config(1000))
        return ResNetClassifier(model, input_size)
    try:
        model = ResNetForImageClassification.from_pretrained(RESNET18_HUB)
    except hub_errors() as err:
        raise unavailable(
            f"{RESNET18_HUB!r}", err, "Connect to the internet (and unset HF_HUB_OFFLINE), or set "
            "FTCOURSE_PROFILE=ci to build the network with random weights instead."
        ) from err
    return ResNetClassifier(model, input_size)


def replace_resnet_head(model: ResNetClassifier, num_classes: int) -> nn.Linear:
    """Swap the 1000-class head (`classifier[1]`, torchvision's `fc`) for a fresh trainable
    `Linear(512, num_classes)`; the config's labels follow. Returns the new layer."""
    if num_classes < 2:
        raise ValueError(f"a classification head needs at least 2 outputs, got {num_classes}")
    old = model.head
    new = nn.Linear(old.in_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)
    model.resnet.classifier[1] = new
    model.resnet.config.num_labels = num_classes
    model.resnet.num_labels = num_classes
    return new


def param_groups(model: nn.Module, lrs: Mapping[str, float]) -> list[dict]:
    """Optimizer parameter groups, one per parameter-name pattern, each with its own learning
    rate: `{"resnet.classifier": 1e-3, "*.stages.[23].*": 1e-4}` (patterns as `unfreeze` reads
    them: `ftcourse.adapt.basics.MATCHING_RULE`).

    Only trainable parameters are grouped; the first pattern that matches a name wins. Raises
    when a pattern matches no trainable parameter or a trainable parameter matches no pattern,
    so nothing trains at a rate you did not choose (or silently not at all).
    """
    if not lrs:
        raise ValueError("give at least one pattern -> learning rate")
    groups: dict[str, list[nn.Parameter]] = {pattern: [] for pattern in lrs}
    unmatched = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        pattern = next((p for p in lrs if parameter_matches(name, p)), None)
        if pattern is None:
            unmatched.append(name)
        else:
            groups[pattern].append(param)
    if unmatched:
        raise ValueError(f"trainable parameters match no pattern: "
                         f"{unmatched[:4]}{' ...' if len(unmatched) > 4 else ''}; "
                         "add a pattern for them or freeze them")
    empty = [p for p, params in groups.items() if not params]
    if empty:
        raise ValueError(f"patterns {empty} match no trainable parameter; unfreeze those parameters first")
    return [{"params": params, "lr": float(lrs[p]), "name": p} for p, params in groups.items()]


def as_rgb(data: ImageClassificationData) -> ImageClassificationData:
    """The same dataset with its one grey channel repeated three times (for RGB networks)."""
    splits = []
    for split in (data.train, data.test):
        if split.images.shape[1] != 1:
            raise ValueError(f"as_rgb expects 1-channel images, got {split.images.shape[1]} channels")
        splits.append(ImageSplit(split.images.expand(-1, 3, -1, -1).contiguous(), split.labels))
    return ImageClassificationData(data.name, splits[0], splits[1], list(data.classes), data.source + ", grey as RGB")


def read_image_parquet(
    path: str | Path, image_column: str = "img", label_column: str = "label"
) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W, 3] uint8 and labels [N] from a hub parquet file whose image column holds
    `{"bytes": <PNG/JPEG>, "path": ...}` structs (the layout `datasets` writes for Image features)."""
    import pyarrow.parquet as pq
    from PIL import Image

    table = pq.read_table(path, columns=None)
    missing = [c for c in (image_column, label_column) if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; the file has {table.column_names}")
    images = []
    for cell in table.column(image_column).to_pylist():
        raw = cell.get("bytes") if isinstance(cell, dict) else cell
        if not raw:
            raise ValueError(f"{path}: an image cell holds no bytes ({str(cell)[:80]})")
        with Image.open(io.BytesIO(raw)) as image:
            images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    if len({im.shape for im in images}) > 1:
        raise ValueError(f"{path}: images of different sizes {sorted({im.shape for im in images})[:3]}")
    labels = np.asarray(table.column(label_column).to_pylist(), dtype=np.int64)
    return (np.stack(images) if images else np.zeros((0, 0, 0, 3), np.uint8)), labels


def cifar10_files(profile: str | None = None) -> dict[str, Path]:
    """The train and test parquet files of CIFAR-10: from FTCOURSE_DATA_DIR/cifar10/ (the hub's
    layout, `plain_text/` or flat), else downloaded from the hub once (`uoft-cs/cifar10`)."""
    if active_profile(profile) == "ci":
        raise ValueError("CIFAR-10 is the full profile's dataset; on ci use as_rgb(load_digits_split())")
    root = data_dir()
    if root is not None:
        files = {}
        for split, name in CIFAR10_FILES.items():
            candidates = [root / "cifar10" / name, root / "cifar10" / Path(name).name]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise FileNotFoundError(
                    f"CIFAR-10 file {name} not found under {root / 'cifar10'}. Copy the hub's parquet "
                    f"files there (huggingface.co/datasets/{CIFAR10_HUB}), unset FTCOURSE_DATA_DIR to "
                    "download them, or set FTCOURSE_PROFILE=ci to use scikit-learn's digits instead."
                )
            files[split] = found
        return files
    from ftcourse.hub import download_file

    fix = ("Connect to the internet, point FTCOURSE_DATA_DIR at a folder holding cifar10/ with the "
           "parquet files, or set FTCOURSE_PROFILE=ci.")
    return {split: Path(download_file(CIFAR10_HUB, name, repo_type="dataset", fix=fix))
            for split, name in CIFAR10_FILES.items()}


def load_cifar10_subset(
    classes: Sequence[int] = (0, 1, 2, 3, 4), files: Mapping[str, str | Path] | None = None,
    profile: str | None = None,
) -> ImageClassificationData:
    """CIFAR-10 restricted to `classes` (default the first five: airplane, automobile, bird, cat,
    deer), labels renumbered 0..k-1, images [N, 3, 32, 32] scaled to 0..1 and normalised with
    ImageNet's mean and standard deviation (what ImageNet weights expect)."""
    classes = [int(c) for c in classes]
    if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c < 10 for c in classes):
        raise ValueError(f"classes must be at least two distinct CIFAR-10 labels 0..9, got {classes}")
    files = {k: Path(v) for k, v in files.items()} if files is not None else cifar10_files(profile)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    remap = {c: i for i, c in enumerate(classes)}
    splits = {}
    for split in ("train", "test"):
        images, labels = read_image_parquet(files[split])
        keep = np.flatnonzero(np.isin(labels, classes))
        if len(keep) == 0:
            raise ValueError(f"{files[split]}: no image of classes {classes}")
        pixels = torch.from_numpy(images[keep]).permute(0, 3, 1, 2).float() / 255.0
        targets = torch.tensor([remap[int(t)] for t in labels[keep]], dtype=torch.long)
        splits[split] = ImageSplit((pixels - mean) / std, targets)
    return ImageClassificationData(
        name="cifar10-" + "-".join(CIFAR10_CLASSES[c] for c in classes),
        train=splits["train"], test=splits["test"],
        classes=[CIFAR10_CLASSES[c] for c in classes],
        source=f"CIFAR-10 ({CIFAR10_HUB}, parquet: {files['train'].parent}), classes {classes}",
    )


def load_vision_transfer(profile: str | None = None, seed: int = 0) -> ImageClassificationData:
    """Chapter 14's five-class task: `full`, the first five CIFAR-10 classes; `ci`, digits 0-4
    (scikit-learn, 32x32, grey repeated to RGB)."""
    if active_profile(profile) == "ci":
        return as_rgb(load_digits_split(range(5), seed=seed))
    return load_cifar10_subset(profile=profile)


__all__ = [
    "CIFAR10_CLASSES",
    "EMNIST_LETTERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RESNET18_HUB",
    "RESNET18_LAYOUT",
    "TORCHVISION_NAMES",
    "TORCHVISION_RESNET18_PARAMETERS",
    "ResNetClassifier",
    "as_rgb",
    "cifar10_files",
    "count_resnet18_parameters",
    "load_cifar10_subset",
    "load_resnet18",
    "load_vision_transfer",
    "param_groups",
    "read_image_parquet",
    "replace_resnet_head",
    "ImageClassificationData",
    "ImageSplit",
    "emnist_folder",
    "load_digits_split",
    "load_emnist",
    "load_glyphs",
    "load_handwriting",
    "render_glyphs",
    "glyph_shapes",
    "make_image_loader",
    "read_emnist_images",
    "read_idx",
]
