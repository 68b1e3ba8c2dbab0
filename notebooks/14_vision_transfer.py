# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 14. Vision transfer learning with ResNet-18
#
# Everything the text chapters did with encoders works the same way on images: start from a
# network pre-trained on a large dataset (here ResNet-18 trained on ImageNet's 1,000 classes),
# keep its feature extractor, and give it a new head for your own classes. The source notebook's
# section on vision is brief; this is its whole code (its code, not ours):
#
# ```python
# import torch.nn as nn
# from torchvision import models
#
# resnet = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
# for p in resnet.parameters():
#     p.requires_grad = False
# resnet.fc = nn.Linear(resnet.fc.in_features, 5)  # example 5 classes
# sum(p.numel() for p in resnet.parameters() if p.requires_grad), 'trainable params in head'
# ```
#
# It freezes the backbone, swaps the 1,000-class head for a 5-class one and counts what will
# train, but never trains. Its exercise 7 asks for the next step: *"Unfreeze the last two ResNet
# layers and fine-tune at a lower LR."* This chapter does both and compares them:
#
# | strategy | what trains |
# |---|---|
# | head only (feature extraction) | the new `Linear(512, 5)` |
# | last two stages + head (exercise 7) | `layer3`, `layer4` (learning rate 10x lower), the head |
#
# The source reports no accuracy for this section; every figure below comes from the run.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[hf] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import copy
import importlib.util

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

import ftcourse
from ftcourse import catalog, pages, plots, results, vision
from ftcourse.adapt import count_parameters, freeze, unfreeze
from ftcourse.experiment import Run, compare, run_strategy, seed_metrics, seed_table, table
from ftcourse.tables import markdown_table
from ftcourse.train import evaluate

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
# each strategy trained once per seed; full keeps one run because of its GPU budget
SEEDS = ftcourse.choose(ci=(0, 1, 2), full=(0,))
BATCH_SIZE = ftcourse.choose(ci=32, full=64)
EPOCHS = ftcourse.choose(ci=3, full=5)  # the same budget for both strategies
INPUT_SIZE = ftcourse.choose(ci=None, full=224)  # full: CIFAR's 32x32 resized to ImageNet's 224x224
TRAIN_SIZE, TEST_SIZE = None, None  # images per split (None: all of them)
HEAD_LR = 1e-3  # Adam, for the new head
# Adam, for the unfrozen stages: 10x lower, so the pre-trained features move slowly
BACKBONE_LR = 1e-4
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} epochs={EPOCHS} torch {torch.__version__}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("14"))

# %% [markdown]
# The source stops before training (it builds the frozen model and counts the head), so every
# size above is ours: the same epochs and batch for both strategies, so they differ only in what
# trains.

# %%
pages.banner("14_vision_transfer")

# %% [markdown]
# ## ResNet-18 without torchvision
#
# The source uses torchvision's `resnet18`. torchvision is built against one exact torch release:
# the version on PyPI does not import beside the CPU-only torch this course installs for its
# offline `ci` profile, and the pairing that does work is a 5.5 GB CUDA build. Hugging Face
# transformers ships the same network: `ResNetForImageClassification` with the resnet-18 layout
# (a 7x7 stem convolution, then four stages of two *basic* residual blocks with 64, 128, 256 and
# 512 channels), and the ImageNet weights are on the hub as `microsoft/resnet-18`. So this
# chapter uses it on both profiles. Colab has torchvision, and there the source's code runs as
# written; the names map one to one:

# %%
if importlib.util.find_spec("torchvision") is None:
    print("torchvision is not installed here; the comparison of the two builds is skipped")
else:
    import torchvision

    tv_total = sum(p.numel() for p in torchvision.models.resnet18().parameters())
    print(f"torchvision {torchvision.__version__} resnet18: {tv_total:,} parameters")

Markdown(markdown_table(
    [(f"`{tv}`", f"`{ours}`") for tv, ours in vision.TORCHVISION_NAMES.items()],
    ["torchvision `resnet18`", "`ftcourse.vision.ResNetClassifier` (transformers)"]))

# %% [markdown]
# transformers' head is `classifier = Sequential(Flatten(), Linear(512, 1000))`, so torchvision's
# `resnet.fc` is `classifier[1]` here. `ResNetClassifier` wraps the transformers model so that it
# takes images and returns logits, as `ftcourse.train.fit` expects. Is it the same network? Count
# its parameters with the 1,000-class head, building it on PyTorch's `meta` device (no memory, no
# download), and compare with the figure torchvision publishes for `resnet18`:

# %%
ours_1000 = vision.count_resnet18_parameters(1000)
print(f"ours: {ours_1000:,}   torchvision's published resnet18: "
      f"{vision.TORCHVISION_RESNET18_PARAMETERS:,}")
assert ours_1000 == vision.TORCHVISION_RESNET18_PARAMETERS

# %% [markdown]
# ## The data
#
# The `full` profile uses the first five classes of CIFAR-10 (airplane, automobile, bird, cat,
# deer: 25,000 training and 5,000 test images, 32x32 colour), read from the hub's parquet files
# (`uoft-cs/cifar10`) or from `FTCOURSE_DATA_DIR/cifar10/`, normalised with ImageNet's mean and
# standard deviation and resized by the model to 224x224, the resolution the weights were trained
# at. The `ci` profile has no download: it uses scikit-learn's bundled handwritten digits 0-4
# (real scans, 8x8, upscaled to 32x32, the grey channel repeated three times for an RGB network).
#
# The source loads `ResNet18_Weights.DEFAULT` but shows no preprocessing. Pretrained weights only
# work on inputs prepared like the images they were trained on (torchvision bundles this as
# `weights.transforms()`: resize, crop to 224x224, ImageNet normalisation); skipping it feeds the
# network pixel values on a scale it has never seen. Here the loader normalises and the model
# resizes.

# %%
dataset = vision.load_vision_transfer(seed=SEED).take(TRAIN_SIZE, TEST_SIZE, seed=SEED)
print(dataset)
train_split, valid_split = dataset.train.split(valid_fraction=0.1, seed=SEED)
print(f"train {len(train_split):,}  valid {len(valid_split):,}  test {len(dataset.test):,}  "
      f"images {tuple(train_split.images.shape[1:])}")
train_loader = vision.make_image_loader(train_split, BATCH_SIZE, shuffle=True, seed=SEED)
valid_loader = vision.make_image_loader(valid_split, 256)
test_loader = vision.make_image_loader(dataset.test, 256)

fig, axes = plt.subplots(1, 10, figsize=(9, 1.3))
for ax, image, label in zip(axes, train_split.images, train_split.labels):
    shown = image.permute(1, 2, 0)
    # undo the normalisation for display
    ax.imshow((shown - shown.min()) / (shown.max() - shown.min()))
    ax.set_title(dataset.classes[int(label)], fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Frozen backbone, new head
#
# On `full`, `load_resnet18()` downloads the ImageNet weights. On `ci` it builds the same
# network from its config with **random weights**: there is no pretrained ResNet that ships
# offline, so on `ci` the frozen features are those of an untrained network, and what the chapter
# shows there is the mechanics (what trains, what it costs, what stays fixed), not the value of
# ImageNet features.

# %%
def frozen_with_new_head(seed=SEED):
    """ResNet-18 (the profile's weights), every parameter frozen, a fresh 5-class head."""
    model = vision.load_resnet18(input_size=INPUT_SIZE, seed=seed)
    freeze(model)
    ftcourse.set_seed(seed)  # the same new head for both strategies
    vision.replace_resnet_head(model, dataset.num_classes)
    return model


resnet = frozen_with_new_head()
print(f"ResNet-18 with a {dataset.num_classes}-class head: {count_parameters(resnet)}")
# the source's expression
seed_count = sum(p.numel() for p in resnet.parameters() if p.requires_grad)
print(f"the source's count: {seed_count:,} trainable params in head = 512 x {dataset.num_classes} "
      f"weights + {dataset.num_classes} biases")
assert seed_count == 512 * dataset.num_classes + dataset.num_classes

# %%
Markdown(
    f"The source's cell shows no output; its expression gives the same {seed_count:,} on "
    f"torchvision's model, since only the head differs from the {ours_1000:,} counted above: "
    f"{ours_1000:,} - {512 * 1000 + 1000:,} (the 1,000-class head) + {seed_count:,} = "
    f"{count_parameters(resnet).total:,}, our total."
)

# %% [markdown]
# ### A frozen backbone that still changes: BatchNorm
#
# `requires_grad = False` stops gradient updates, but not every change. ResNet normalises each
# convolution's output with **BatchNorm**, which in training mode normalises with the statistics of
# the current batch and updates its stored *running* mean and variance, the ones it uses at test
# time. `model.train()`, which every training loop calls, therefore lets the "frozen" backbone
# drift towards the new data's statistics. Here is one batch through the source's way of freezing:

# %%
labels, images = next(iter(train_loader))
batchnorms = [m for m in resnet.modules() if isinstance(m, torch.nn.BatchNorm2d)]
seeds_way = copy.deepcopy(resnet)
torch.nn.Module.train(seeds_way)  # a plain module's train(): every layer in training mode
with torch.no_grad():
    seeds_way(images)
moved_seed = [m for m, ref in zip(seeds_way.modules(), resnet.modules())
              if isinstance(m, torch.nn.BatchNorm2d)
              and not torch.equal(m.running_mean, ref.running_mean)]
resnet.eval(), seeds_way.eval()
with torch.no_grad():
    drift = (seeds_way(images) - resnet(images)).abs().max().item()
print(f"after one batch in training mode, {len(moved_seed)} of {len(batchnorms)} BatchNorm layers "
      "have new running statistics; the 'frozen' model's test-time logits moved by up to "
      f"{drift:.3g}")

# %% [markdown]
# Sometimes re-estimating BatchNorm statistics on the new domain is wanted, but then it should be
# a choice, and it is not what "freeze the backbone" says. `ResNetClassifier.train()` keeps every
# BatchNorm layer whose parameters are all frozen in evaluation mode; layers you unfreeze train
# normally:

# %%
pages.show_code(vision.ResNetClassifier.train)

# %%
fixed = copy.deepcopy(resnet)
fixed.train()
with torch.no_grad():
    fixed(images)
moved = [m for m, ref in zip(fixed.modules(), resnet.modules())
         if isinstance(m, torch.nn.BatchNorm2d)
         and not torch.equal(m.running_mean, ref.running_mean)]
print(f"with ResNetClassifier.train(): {len(moved)} of {len(batchnorms)} BatchNorm layers changed")
assert not moved and len(moved_seed) == len(batchnorms)

# %% [markdown]
# ## Strategy 1: train the head only
#
# The source stops before training, so the recipe is ours: Adam at `HEAD_LR`, cross-entropy, the
# checkpoint with the best validation accuracy kept, `EPOCHS` epochs.
#
# Each strategy is trained and tested by `ftcourse.experiment.run_strategy` (as in chapter 2),
# with its own optimiser, once per seed in `SEEDS`: a seed fixes the network's initial weights,
# the new head and the order of the training batches; the data splits stay the same. One run
# cannot tell a real gap from luck; the spread over seeds measures the luck. The curves are
# plotted for the first seed.

# %%
strategies = ["head_only", "last_two_stages"]
runs = {name: [] for name in strategies}


def recipe(seed):
    """The loaders (training order shuffled by `seed`) and settings both strategies share."""
    train = vision.make_image_loader(train_split, BATCH_SIZE, shuffle=True, seed=seed)
    return (train, valid_loader, test_loader), dict(seed=seed, cache=False, epochs=EPOCHS,
                                                    clip=None, plot=seed == SEEDS[0])


untrained_acc = evaluate(resnet, test_loader)
print(f"untrained head: test accuracy {untrained_acc:.3f} "
      f"(chance is {1 / dataset.num_classes:.2f})")
for seed in SEEDS:
    model = frozen_with_new_head(seed)
    head_params = [p for p in model.parameters() if p.requires_grad]
    loaders, settings = recipe(seed)
    # fused=True: one kernel per step for all tensors; on CPU about 6x faster than the default
    runs["head_only"].append(run_strategy(
        "head_only", model, *loaders, title="head only (frozen backbone)",
        optimizer=torch.optim.Adam(head_params, lr=HEAD_LR, fused=True), **settings))

# %% [markdown]
# ## Strategy 2 (exercise 7): unfreeze the last two stages at a lower learning rate
#
# torchvision's `layer3` and `layer4` are `stages.2` and `stages.3` here. The new head starts from
# scratch and needs a large step size; the pre-trained stages need a small one, or the first
# updates, driven by the random head's large errors, wreck the features they hold. PyTorch
# optimisers take **parameter groups**, each with its own learning rate. `vision.param_groups`
# builds them from name patterns and refuses a trainable parameter that no pattern covers, so
# nothing trains at a rate you did not choose:

# %%
pages.show_code(vision.param_groups)

# %% [markdown]
# Unfreezing the two stages (`unfreeze`, chapter 02, sets `requires_grad` by name pattern) and
# giving each group its rate:

# %%
for seed in SEEDS:
    partial = frozen_with_new_head(seed)
    unfrozen = unfreeze(partial, ["resnet.resnet.encoder.stages.2.*",
                                  "resnet.resnet.encoder.stages.3.*"])
    groups = vision.param_groups(partial, {
        "resnet.classifier.*": HEAD_LR,
        "resnet.resnet.encoder.stages.*": BACKBONE_LR,
    })
    if seed == SEEDS[0]:
        for group in groups:
            print(f"{group['name']:32s} lr {group['lr']:g}  "
                  f"{sum(p.numel() for p in group['params']):>10,} parameters")
    loaders, settings = recipe(seed)
    runs["last_two_stages"].append(run_strategy(
        "last_two_stages", partial, *loaders, title="layer3 + layer4 (lr/10) + head",
        optimizer=torch.optim.Adam(groups, fused=True), **settings))

# %% [markdown]
# ## Comparison
#
# Built from the runs above: first the runs of the first seed, with what each trained and cost.

# %%
first = {n: runs[n][0] for n in strategies}  # the first seed's runs
# the new head, untrained
untrained = Run("untrained", {"accuracy": untrained_acc}, n_test=len(dataset.test))
Markdown(table([untrained] + list(first.values())))

# %% [markdown]
# Then each strategy's test accuracy per seed, with the mean and the standard deviation (sd) over
# the seeds:

# %%
Markdown(seed_table([runs[n] for n in strategies]))

# %%
fig = plots.plot_comparison(
    {"untrained": untrained_acc, **{n: first[n].accuracy for n in strategies}},
    title=f"{dataset.name}: test accuracy ({PROFILE} profile)",
    chance=1 / dataset.num_classes,
    annotations={n: f"{first[n].trainable:,} trained" for n in strategies},
)

# %% [markdown]
# What the runs above say, in words generated from them (`compare` names a winner only when the
# gap is larger than the noise, as in chapter 2; with several seeds the noise is two standard
# errors of the gap measured from the seeds' spread, with one the test set's):

# %%
head, deep = first["head_only"].summary(), first["last_two_stages"].summary()
weights = ("ImageNet weights (microsoft/resnet-18)" if PROFILE == "full"
           else "random weights (no pretrained ResNet ships offline)")
Markdown(
    f"On the `{PROFILE}` profile ({dataset.source}; ResNet-18 with {weights}), first seed: "
    f"training the head alone ({head['trainable']:,} parameters, "
    f"{head['trainable'] / head['total']:.2%} of the network) reached {head['accuracy']:.1%} test "
    f"accuracy in {head['seconds']:.1f} s; unfreezing "
    f"the last two stages ({deep['trainable']:,} parameters, "
    f"{deep['trainable'] / deep['total']:.1%}) took {deep['seconds'] / head['seconds']:.1f} times "
    f"the training time. {f'Over {len(SEEDS)} seeds' if len(SEEDS) > 1 else 'With one seed'}: "
    f"{compare(runs['last_two_stages'], runs['head_only'])}. "
    "The last two stages hold most of ResNet-18's weights: `layer4` alone has "
    f"{sum(p.numel() for p in partial.stages[3].parameters()):,}, because its 3x3 convolutions map "
    "512 channels to 512."
)

# %% [markdown]
# **What changes with pretrained weights.** On `ci` the frozen backbone is random, so the head-only
# run measures how far a linear classifier gets on random convolutional features, and unfreezing
# lets the network learn features for the first time. With ImageNet weights (`full`), the frozen
# features already separate many natural-image categories; this is the source's premise: *"Start
# from an ImageNet pre-trained model (e.g., ResNet18), freeze most layers, train a small classifier
# head for your classes."* Fine-tuning the last stages then adapts the most task-specific features
# (early stages detect edges and textures that transfer almost everywhere), and the lower learning
# rate keeps them close to what ImageNet taught them. The source gives no figures for this; a `full`
# run records its own in `results/full/` and on the [results page](../book/results.md).

# %% [markdown]
# ## What we learned
#
# - Vision transfer is the text recipe again: freeze the pre-trained backbone (`requires_grad =
#   False`), replace the head with one sized for the new classes, train the head.
# - Freezing parameters does not freeze BatchNorm: in training mode it keeps updating its running
#   statistics, so a "frozen" backbone drifts unless those layers stay in evaluation mode.
# - Unfreezing the last stages at a lower learning rate (optimizer parameter groups) lets the most
#   task-specific features adapt while the random head learns fast.
# - transformers' ResNet-18 is torchvision's, parameter for parameter, under other names.

# %% tags=["hide-input"]
# Records this page's metrics; on ci, checks them against the ranges a run that learns reaches.
path = results.record(
    "14_vision_transfer", seed_metrics([runs[n] for n in strategies]),
    runs=list(first.values()), controls=[untrained],
    data_source=f"{dataset.source}; ResNet-18 with {weights}",
    seconds=timer.seconds,
    extra={"seeds": list(SEEDS), "epochs": EPOCHS, "batch_size": BATCH_SIZE,
           "input_size": INPUT_SIZE, "head_lr": HEAD_LR, "backbone_lr": BACKBONE_LR,
           "resnet18_parameters_1000_classes": ours_1000,
           "batchnorm_layers_moved_when_frozen_by_requires_grad_only": f"{len(moved_seed)} of "
                                                                       f"{len(batchnorms)}"},
)
metrics = results.load("14_vision_transfer")["metrics"]
print("recorded", path.name)
if PROFILE == "ci":
    # Exact counts; the untrained head near chance; both strategies well above it, on the first seed
    # and on the mean of three (measured: untrained 0.19; head only 0.84, 0.92, 0.87 on seeds 0-2,
    # mean 0.874, sd 0.038; last two stages 0.987, 0.982, 0.987, mean 0.985, sd 0.003).
    results.check(metrics, {
        "trainable_params/head_only": (2565, 2565),
        "trainable_params/last_two_stages": (10_496_005, 10_496_005),
        "accuracy/untrained": (0.0, 0.4),
        "accuracy/head_only": (0.6, 1.0),
        "accuracy/last_two_stages": (0.85, 1.0),
        "accuracy_mean/head_only": (0.75, 1.0),
        "accuracy_mean/last_two_stages": (0.93, 1.0),
    })
