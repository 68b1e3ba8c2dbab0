"""ftcourse.vision: the IDX reader and EMNIST loader on small gzip files written in the original
format, scikit-learn's digits split, the image loaders; and the two chapter 04 plots."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ftcourse import download, plots, vision
from ftcourse.models import LeNet


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("FTCOURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FTCOURSE_OFFLINE", "1")  # a test that tried to download would fail loudly


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """An IDX file as MNIST/EMNIST ship them: 0, 0, type 0x08, ndim, big-endian sizes, bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
    return path


def upright_letters(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Upright 28x28 images, each with one bright pixel at a known place, and labels 1..26."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    rows, cols = rng.integers(0, 28, count), rng.integers(0, 28, count)
    images[np.arange(count), rows, cols] = 255
    images[:, 0, 5] = 80  # an asymmetric mark: transposing would move it to (5, 0)
    labels = (np.arange(count) % 26 + 1).astype(np.uint8)
    return images, labels


def write_emnist(folder: Path, split: str = "letters", counts=(52, 26)) -> dict[str, np.ndarray]:
    """The four gzip files of an EMNIST split; images stored transposed, as EMNIST does."""
    upright = {}
    for part, count in zip(("train", "test"), counts):
        images, labels = upright_letters(count, seed=len(part))
        if split != "letters":
            labels = (np.arange(count) % 10).astype(np.uint8)
        write_idx(folder / f"emnist-{split}-{part}-images-idx3-ubyte.gz", images.transpose(0, 2, 1))
        write_idx(folder / f"emnist-{split}-{part}-labels-idx1-ubyte.gz", labels)
        upright[part], upright[f"{part}_labels"] = images, labels
    return upright


# --- IDX -------------------------------------------------------------------------------------


def test_read_idx_round_trips_gzip_and_raw(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress, name in ((True, "a-idx3-ubyte.gz"), (False, "a-idx3-ubyte")):
        got = vision.read_idx(write_idx(tmp_path / name, array, compress))
        assert got.shape == (2, 3, 4) and got.dtype == np.uint8
        np.testing.assert_array_equal(got, array)
    labels = vision.read_idx(write_idx(tmp_path / "l-idx1-ubyte.gz", np.array([3, 1, 4], dtype=np.uint8)))
    np.testing.assert_array_equal(labels, [3, 1, 4])


def test_read_idx_magic_number_is_checked(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"\x1f\x8b not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        vision.read_idx(path)


def test_read_idx_truncated_file_is_named(tmp_path):
    path = write_idx(tmp_path / "t-idx3-ubyte", np.zeros((4, 28, 28)), compress=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"announces shape \(4, 28, 28\).*truncated"):
        vision.read_idx(path)


def test_emnist_images_are_transposed_back_upright(tmp_path):
    upright = np.zeros((1, 3, 5), dtype=np.uint8)
    upright[0, 0, 4] = 9  # top right corner
    path = write_idx(tmp_path / "x-idx3-ubyte.gz", upright.transpose(0, 2, 1))  # stored 5x3
    got = vision.read_emnist_images(path)
    assert got.shape == (1, 3, 5)
    np.testing.assert_array_equal(got, upright)


# --- EMNIST ----------------------------------------------------------------------------------


def test_load_emnist_letters_from_a_folder(tmp_path):
    upright = write_emnist(tmp_path / "emnist")
    ds = vision.load_emnist("letters", folder=tmp_path / "emnist")
    assert ds.classes == list("ABCDEFGHIJKLMNOPQRSTUVWXYZ") and ds.num_classes == 26
    assert ds.train.images.shape == (52, 1, 32, 32) and ds.test.images.shape == (26, 1, 32, 32)
    assert ds.train.images.dtype == torch.float32 and ds.train.labels.dtype == torch.long
    # labels 1..26 in the files become 0..25
    assert ds.train.labels.tolist() == [int(v) - 1 for v in upright["train_labels"]]
    assert ds.test.labels.min() == 0 and ds.test.labels.max() == 25
    # normalised with the training images' statistics
    assert abs(float(ds.train.images.mean())) < 1e-4
    assert abs(float(ds.train.images.std()) - 1) < 1e-3
    # upright and padded by 2: the brightest pixel of each image sits where it was drawn, +2
    for i in range(5):
        row, col = np.unravel_index(upright["train"][i].argmax(), (28, 28))
        flat = int(ds.train.images[i, 0].argmax())
        assert divmod(flat, 32) == (row + 2, col + 2)
    # the padding is black: the smallest value after normalising
    assert float(ds.train.images[0, 0, 0, 0]) == pytest.approx(float(ds.train.images.min()))


def test_load_emnist_digits_keeps_labels(tmp_path):
    write_emnist(tmp_path / "emnist", split="digits", counts=(20, 10))
    ds = vision.load_emnist("digits", folder=tmp_path / "emnist")
    assert ds.classes == [str(c) for c in range(10)]
    assert ds.train.labels.tolist() == [i % 10 for i in range(20)]


def test_emnist_read_from_ftcourse_data_dir_official_zip_layout(tmp_path, monkeypatch):
    write_emnist(tmp_path / "mirror" / "emnist" / "gzip")  # as the official gzip.zip unpacks
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path / "mirror"))
    ds = vision.load_emnist("letters", profile="full")
    assert len(ds.train) == 52 and "emnist" in ds.source
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    assert vision.load_handwriting("adapt").num_classes == 26


def test_missing_emnist_folder_names_the_fixes(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError) as info:
        vision.load_emnist("letters", profile="full")
    assert "FTCOURSE_DATA_DIR" in str(info.value) and "FTCOURSE_PROFILE=ci" in str(info.value)


def test_missing_emnist_file_is_named(tmp_path):
    write_emnist(tmp_path / "emnist")
    (tmp_path / "emnist" / "emnist-letters-test-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="emnist-letters-test-labels-idx1-ubyte.gz"):
        vision.load_emnist("letters", folder=tmp_path / "emnist")


def test_emnist_is_not_read_on_ci_and_split_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match="load_digits_split"):
        vision.emnist_folder(profile="ci")
    with pytest.raises(ValueError, match="unknown EMNIST split"):
        vision.load_emnist("kanji", folder=tmp_path)


def test_emnist_download_goes_through_the_artefact_table(monkeypatch, tmp_path):
    artefact = download.ARTEFACTS["emnist"]
    assert artefact.urls == ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",)
    assert artefact.archive == "zip" and artefact.target == "emnist/gzip"
    with pytest.raises(download.DownloadError, match="FTCOURSE_PROFILE=ci"):  # offline in tests
        vision.emnist_folder(profile="full")


# --- scikit-learn digits (ci) ------------------------------------------------------------------


def test_digits_split_shapes_labels_and_remap():
    ds = vision.load_digits_split(range(5, 10))
    assert ds.classes == ["5", "6", "7", "8", "9"] and ds.num_classes == 5
    assert ds.train.images.shape[1:] == (1, 32, 32) and ds.test.images.shape[1:] == (1, 32, 32)
    assert sorted(set(ds.train.labels.tolist())) == [0, 1, 2, 3, 4]
    assert sorted(set(ds.test.labels.tolist())) == [0, 1, 2, 3, 4]
    assert 850 < len(ds.train) + len(ds.test) < 950  # scikit-learn has ~180 images per digit
    assert len(ds.test) == pytest.approx(0.25 * (len(ds.train) + len(ds.test)), abs=5)
    # the renumbering follows the given order of classes
    reverse = vision.load_digits_split([9, 8, 7, 6, 5])
    assert torch.equal(reverse.train.images, ds.train.images)
    assert torch.equal(reverse.train.labels, 4 - ds.train.labels)
    assert torch.isfinite(ds.train.images).all()
    assert LeNet(num_classes=5)(ds.test.images[:4]).shape == (4, 5)


def test_digits_split_is_deterministic_and_disjoint():
    a, b = vision.load_digits_split(), vision.load_digits_split()
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    c = vision.load_digits_split(seed=1)
    assert not torch.equal(a.test.images, c.test.images)
    train = {tuple(x.flatten().tolist()) for x in a.train.images[:, :, ::4, ::4]}
    test = {tuple(x.flatten().tolist()) for x in a.test.images[:, :, ::4, ::4]}
    assert len(train & test) <= 2  # a few digits are duplicated in the set itself


def test_digits_split_rejects_bad_classes():
    with pytest.raises(ValueError, match="distinct digits"):
        vision.load_digits_split([1, 1])
    with pytest.raises(ValueError, match="distinct digits"):
        vision.load_digits_split([10])


def test_load_handwriting_on_ci_uses_many_glyphs_to_pretrain_and_new_ones_to_adapt(monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "ci")
    pre, new = vision.load_handwriting("pretrain"), vision.load_handwriting("adapt")
    assert pre.num_classes == vision.GLYPH_PRETRAIN_CLASSES == 80
    assert new.classes == list("ABCDEFGHIJ")
    assert pre.train.images.shape[1:] == new.test.images.shape[1:] == (1, 32, 32)
    assert sorted(torch.bincount(new.train.labels).tolist()) == [40] * 10
    with pytest.raises(ValueError, match="pretrain"):
        vision.load_handwriting("finetune")


def test_glyph_classes_are_distinct_and_new_ones_reuse_pretraining_strokes():
    shapes = vision.glyph_shapes(vision.GLYPH_PRETRAIN_CLASSES + vision.GLYPH_ADAPT_CLASSES)
    assert shapes == vision.glyph_shapes(len(shapes))  # the same on every call
    assert all(4 <= len(s) <= 6 for s in shapes)
    assert all(len(a ^ b) >= 3 for i, a in enumerate(shapes) for b in shapes[i + 1:])
    pretrain, adapt = shapes[: vision.GLYPH_PRETRAIN_CLASSES], shapes[vision.GLYPH_PRETRAIN_CLASSES:]
    seen = set().union(*pretrain)
    assert all(s <= seen for s in adapt)  # every stroke of a new glyph was met in pre-training
    assert not set(adapt) & set(pretrain)


def test_glyph_images_are_reproducible_normalised_and_differ_by_class():
    a, b = vision.load_glyphs("adapt", 5, 5), vision.load_glyphs("adapt", 5, 5)
    assert torch.equal(a.train.images, b.train.images)
    assert not torch.equal(a.train.images, vision.load_glyphs("adapt", 5, 5, seed=1).train.images)
    assert not torch.equal(a.train.images, a.test.images[: len(a.train)])
    pixels = vision.load_glyphs("pretrain", 20, 1).train.images
    assert abs(pixels.mean().item()) < 0.1 and 0.9 < pixels.std().item() < 1.1
    # Two hands writing the same glyph agree more than two different glyphs do.
    means = torch.stack([a.train.images[a.train.labels == k].mean(0) for k in range(a.num_classes)]).flatten(1)
    same = (a.train.images.flatten(1) - means[a.train.labels]).norm(dim=1).mean()
    other = (a.train.images.flatten(1) - means[(a.train.labels + 1) % a.num_classes]).norm(dim=1).mean()
    assert same < other
    with pytest.raises(ValueError, match="pretrain"):
        vision.load_glyphs("letters")


# --- splits and loaders ------------------------------------------------------------------------


def test_image_split_take_and_split():
    ds = vision.load_digits_split()
    part = ds.train.take(100, seed=3)
    assert len(part) == 100 and len(ds.train.take(10**6)) == len(ds.train)
    assert torch.equal(part.images, ds.train.take(100, seed=3).images)
    train, valid = ds.train.split(0.2, seed=0)
    assert len(train) + len(valid) == len(ds.train)
    assert sorted(set(valid.labels.tolist())) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="valid_fraction"):
        ds.train.split(1.5)
    with pytest.raises(ValueError, match="images"):
        vision.ImageSplit(torch.zeros(3, 32, 32), torch.zeros(3, dtype=torch.long))


def test_make_image_loader_yields_labels_then_images():
    ds = vision.load_digits_split()
    labels, images = next(iter(vision.make_image_loader(ds.test, batch_size=8)))
    assert labels.shape == (8,) and images.shape == (8, 1, 32, 32)
    assert torch.equal(labels, ds.test.labels[:8])  # no shuffle: the split's order
    first = [b[0] for b in vision.make_image_loader(ds.train, 16, shuffle=True, seed=1)]
    again = [b[0] for b in vision.make_image_loader(ds.train, 16, shuffle=True, seed=1)]
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert not torch.equal(first[0], ds.train.labels[:16])
    with pytest.raises(ValueError, match="empty"):
        empty = vision.ImageSplit(torch.zeros(0, 1, 32, 32), torch.zeros(0, dtype=torch.long))
        vision.make_image_loader(empty)


# --- plots -------------------------------------------------------------------------------------


def test_plot_column_space_draws_planes_and_lines():
    import matplotlib.pyplot as plt

    plane = plots.plot_column_space(np.array([[1, 0], [0, 1], [0, 0]]))
    assert "rank 2" in plane.axes[0].get_title()
    line = plots.plot_column_space(np.array([[1], [2], [3]]) @ np.array([[1, -1, 2]]))
    assert "rank 1" in line.axes[0].get_title()
    with pytest.raises(ValueError, match="3-row"):
        plots.plot_column_space(np.eye(2))
    with pytest.raises(ValueError, match="3-D axis"):
        plots.plot_column_space(np.eye(3), ax=plt.figure().add_subplot())
    plt.close("all")


def test_plot_image_grid_titles_are_class_names():
    import matplotlib.pyplot as plt

    ds = vision.load_digits_split(range(5, 10))
    fig = plots.plot_image_grid(ds.train.images, ds.train.labels, ds.classes, columns=4, rows=1)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [ds.classes[int(label)] for label in ds.train.labels[:4]]
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# Chapter 14: ResNet-18, parameter groups, CIFAR-10 parquet
def small_resnet(num_classes: int = 5, **kwargs) -> vision.ResNetClassifier:
    model = vision.load_resnet18(pretrained=False, seed=0, **kwargs)
    vision.replace_resnet_head(model, num_classes)
    return model


def test_resnet18_config_counts_torchvisions_published_size():
    assert vision.count_resnet18_parameters(1000) == vision.TORCHVISION_RESNET18_PARAMETERS == 11_689_512
    # only the head differs: 512 x 5 + 5 instead of 512 x 1000 + 1000
    assert vision.count_resnet18_parameters(5) == 11_689_512 - 513_000 + 2_565


def test_frozen_resnet_with_new_head_trains_the_sources_2565():
    from ftcourse.adapt import count_parameters, freeze

    model = vision.load_resnet18(pretrained=False, seed=0)
    assert model.head.out_features == 1000
    freeze(model)
    head = vision.replace_resnet_head(model, 5)
    assert head is model.head and head.weight.requires_grad
    assert count_parameters(model).trainable == 512 * 5 + 5
    assert model.resnet.config.num_labels == 5
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 5)
    with pytest.raises(ValueError, match="at least 2"):
        vision.replace_resnet_head(model, 1)


def test_torchvision_names_resolve_to_the_same_kinds_of_module():
    model = small_resnet()
    kinds = {"conv1": torch.nn.Conv2d, "bn1": torch.nn.BatchNorm2d, "maxpool": torch.nn.MaxPool2d,
             "avgpool": torch.nn.AdaptiveAvgPool2d, "fc": torch.nn.Linear}
    for tv_name, ours in vision.TORCHVISION_NAMES.items():
        module = model.get_submodule(ours)
        if tv_name in kinds:
            assert isinstance(module, kinds[tv_name]), tv_name
    assert model.get_submodule(vision.TORCHVISION_NAMES["fc"]) is model.head
    assert model.get_submodule(vision.TORCHVISION_NAMES["layer4"]) is model.stages[3]
    assert model.get_submodule(vision.TORCHVISION_NAMES["conv1"]).kernel_size == (7, 7)
    out_channels = [model.stages[i].layers[-1].layer[-1].convolution.out_channels for i in range(4)]
    assert out_channels == [64, 128, 256, 512]


def test_input_size_resizes_inside_the_model():
    model = small_resnet(input_size=64).eval()
    images = torch.randn(2, 3, 32, 32)
    big = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
    with torch.no_grad():
        assert torch.allclose(model(images), model.resnet(pixel_values=big).logits)


def test_train_keeps_frozen_batchnorm_fixed_and_trains_unfrozen_ones():
    from ftcourse.adapt import freeze, unfreeze

    model = vision.load_resnet18(pretrained=False, seed=0)
    freeze(model)
    vision.replace_resnet_head(model, 5)
    unfreeze(model, "resnet.resnet.encoder.stages.3.*")
    before = {n: b.clone() for n, b in model.named_buffers() if n.endswith("running_mean")}
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 32, 32))
    after = dict(model.named_buffers())
    changed = {n for n, b in before.items() if not torch.equal(b, after[n])}
    assert changed, "the unfrozen stage's BatchNorm layers should update their statistics"
    assert all(n.startswith("resnet.resnet.encoder.stages.3.") for n in changed), changed
    frozen_bn = model.get_submodule(vision.TORCHVISION_NAMES["bn1"])
    assert model.training and not frozen_bn.training
    # a plain nn.Module.train() moves every BatchNorm layer: the pitfall the class prevents
    torch.nn.Module.train(model)
    with torch.no_grad():
        model(torch.randn(4, 3, 32, 32))
    assert not torch.equal(before["resnet.resnet.embedder.embedder.normalization.running_mean"],
                           frozen_bn.running_mean)


def test_param_groups_assign_rates_and_refuse_gaps():
    from ftcourse.adapt import freeze, unfreeze

    model = small_resnet()
    freeze(model)
    unfreeze(model, ["resnet.classifier.*", "resnet.resnet.encoder.stages.2.*", "resnet.resnet.encoder.stages.3.*"])
    groups = vision.param_groups(model, {"resnet.classifier.*": 1e-3, "*.stages.[23].*": 1e-4})
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    assert sum(p.numel() for p in groups[0]["params"]) == 2565
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(p.numel() for g in groups for p in g["params"]) == trainable
    optimizer = torch.optim.Adam(groups)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-4]
    with pytest.raises(ValueError, match="match no pattern"):
        vision.param_groups(model, {"resnet.classifier.*": 1e-3})
    with pytest.raises(ValueError, match="match no trainable"):
        vision.param_groups(model, {"*.stages.*": 1e-4, "resnet.classifier.*": 1e-3, "*.embedder.*": 1e-5})
    with pytest.raises(ValueError, match="at least one"):
        vision.param_groups(model, {})


def test_pretrained_resnet_offline_says_what_to_do_and_a_bug_goes_through(monkeypatch):
    from transformers import ResNetForImageClassification

    from ftcourse.hub import HubUnavailableError

    def failing(error):
        def fail(*args, **kwargs):
            raise error

        return fail

    monkeypatch.setattr(ResNetForImageClassification, "from_pretrained", failing(OSError("no connection")))
    with pytest.raises(HubUnavailableError, match="FTCOURSE_PROFILE=ci"):
        vision.load_resnet18(pretrained=True)
    monkeypatch.setattr(ResNetForImageClassification, "from_pretrained", failing(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        vision.load_resnet18(pretrained=True)


def test_cifar10_download_failure_says_what_to_do(monkeypatch):
    import huggingface_hub

    from ftcourse.hub import HubUnavailableError

    def offline(*args, **kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError("offline and not in the cache")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(HubUnavailableError, match="uoft-cs/cifar10.*FTCOURSE_DATA_DIR"):
        vision.cifar10_files(profile="full")


def test_random_resnet_is_seeded_and_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = vision.load_resnet18(pretrained=False, seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched
    again = vision.load_resnet18(pretrained=False, seed=7)
    other = vision.load_resnet18(pretrained=False, seed=8)
    weights = [dict(m.state_dict()) for m in (first, again, other)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # same seed, same weights
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_as_rgb_and_the_ci_task(monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "ci")
    data = vision.load_vision_transfer()
    assert data.num_classes == 5 and data.train.images.shape[1:] == (3, 32, 32)
    assert torch.equal(data.train.images[:, 0], data.train.images[:, 2])
    grey = vision.load_digits_split(range(5))
    assert torch.equal(data.test.images[:, 1], grey.test.images[:, 0])
    with pytest.raises(ValueError, match="1-channel"):
        vision.as_rgb(data)
    with pytest.raises(ValueError, match="full profile"):
        vision.cifar10_files()


def write_cifar_parquet(path: Path, labels: list[int], seed: int = 0) -> np.ndarray:
    """A parquet file as the hub's uoft-cs/cifar10 stores it: img {bytes: PNG, path}, label."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(len(labels), 32, 32, 3), dtype=np.uint8)
    cells = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        cells.append({"bytes": buffer.getvalue(), "path": None})
    img_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"img": pa.array(cells, type=img_type), "label": pa.array(labels, type=pa.int64())})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return images


def test_read_image_parquet_round_trips(tmp_path):
    images = write_cifar_parquet(tmp_path / "t.parquet", [3, 1, 4])
    read, labels = vision.read_image_parquet(tmp_path / "t.parquet")
    assert np.array_equal(read, images) and labels.tolist() == [3, 1, 4]
    with pytest.raises(ValueError, match="no column"):
        vision.read_image_parquet(tmp_path / "t.parquet", image_column="image")


def test_cifar10_subset_from_ftcourse_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    folder = tmp_path / "cifar10" / "plain_text"
    train_images = write_cifar_parquet(folder / "train-00000-of-00001.parquet", [0, 5, 4, 9, 2, 0], seed=1)
    write_cifar_parquet(folder / "test-00000-of-00001.parquet", [1, 5, 3], seed=2)
    data = vision.load_cifar10_subset()
    assert data.classes == ["airplane", "automobile", "bird", "cat", "deer"]
    assert data.train.labels.tolist() == [0, 4, 2, 0] and data.test.labels.tolist() == [1, 3]
    assert data.train.images.shape == (4, 3, 32, 32)
    # pixel (0, 0) of the first kept image, red channel, ImageNet-normalised
    expected = (train_images[0, 0, 0, 0] / 255.0 - vision.IMAGENET_MEAN[0]) / vision.IMAGENET_STD[0]
    assert data.train.images[0, 0, 0, 0].item() == pytest.approx(expected, abs=1e-6)
    animals = vision.load_cifar10_subset(classes=(9, 5))
    assert animals.classes == ["truck", "dog"] and animals.train.labels.tolist() == [1, 0]
    assert vision.load_vision_transfer().name == data.name
    with pytest.raises(ValueError, match="distinct"):
        vision.load_cifar10_subset(classes=(1, 1))


def test_cifar10_missing_file_names_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    write_cifar_parquet(tmp_path / "cifar10" / "train-00000-of-00001.parquet", [0, 1])  # flat layout, no test
    with pytest.raises(FileNotFoundError, match="FTCOURSE_PROFILE=ci"):
        vision.cifar10_files()
