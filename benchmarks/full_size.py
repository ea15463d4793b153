"""The full-size runs of assignments 2-4, prepared for one GPU: one command, under 8 minutes on an H200.

    python -m benchmarks.full_size --device cuda     # full size; records the results
    python -m benchmarks.full_size --smoke           # every recipe at toy size on the CPU, in under a minute

1. SimCLR: a ResNet-18 (CIFAR stem) trained with the reference NT-Xent loss on 50,000 generated 32x32 shapes
   (augmented on the device), then kNN and linear-probe accuracy of its features against the same
   encoder untrained.
2. CAM-loss: the assignment's ResNet18CAM on 50,000 digit canvases, cross-entropy against CAM-loss:
   test accuracy and how well the CAMs localize the digit (mass inside its box, pointing game).
3. Neural collapse: a ResNet-18 with BatchNorm features on a long-tailed generated shapes set (ratio 0.01,
   CIFAR-10-LT's profile), trained into the terminal phase with a learnable head and with the fixed ETF
   head: the NC curves on the training set and the per-class test accuracy.
When datasets/ holds CIFAR-10, recipes 1 and 3 use it instead of the shapes (CIFAR-10 has no masks, so
recipe 2 stays on the digit canvases).

Each recipe trains for a wall-clock budget, which it prints: the learning rate follows a cosine of the
budget's elapsed fraction and reaches zero as the budget runs out (budgeted training, Li et al., ICLR
2020), so a slower machine trains for fewer steps, not for longer. Results go to
<out>/full_size.json and <out>/full_size.md, and into the full-size sections of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from benchmarks.common import HERE, write_section
from solutions.cam_loss import ResNet18CAM, cam_loss_train_step, evaluate, make_optimizers
from solutions.neural_collapse import (
    FeatureNet,
    first_zero_error_epoch,
    long_tailed_indices,
    neural_collapse_metrics,
)
from solutions.simclr import (
    extract_features,
    few_labels,
    knn_accuracy,
    linear_probe_accuracy,
    simclr_loss_vectorized,
)
from utils.data import load_dataset
from utils.loaders import DATASETS_DIR

# Sizes and budgets (seconds of training) per recipe; the smoke sizes exercise the same code on a CPU.
FULL = {
    "simclr": dict(num_train=50000, num_test=10000, batch_size=512, train_s=100, probe_per_class=500),
    "cam_loss": dict(num_train=50000, num_test=10000, batch_size=256, train_s=50, alpha=3.0),
    "neural_collapse": dict(num_train=50000, num_test=10000, batch_size=256, train_s=60, ratio=0.01),
}
SMOKE = {
    "simclr": dict(num_train=128, num_test=64, batch_size=32, train_s=2, probe_per_class=4),
    "cam_loss": dict(num_train=128, num_test=64, batch_size=32, train_s=1, alpha=3.0),
    "neural_collapse": dict(num_train=400, num_test=100, batch_size=64, train_s=2, ratio=0.1),
}
WARMUP_FRACTION = 0.5  # CAM-loss: cross-entropy alone for the first half of the budget, as in the notebook


class Budget:
    """A wall-clock training budget that also sets the learning rate: a cosine of the elapsed fraction."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.perf_counter()

    def fraction(self) -> float:
        return min((time.perf_counter() - self.start) / self.seconds, 1.0)

    def spent(self) -> bool:
        return self.fraction() >= 1.0

    def anneal(self, optimizer: torch.optim.Optimizer, base_lr: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = base_lr * 0.5 * (1 + math.cos(math.pi * self.fraction()))


def resnet18_features(in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet-18 with the CIFAR stem (3x3 stride-1 first convolution, no max pooling) and no
    classifier: (B, in_channels, 32, 32) -> (B, 512), the pooled features."""
    net = torchvision.models.resnet18()
    net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    net.maxpool, net.fc = nn.Identity(), nn.Identity()
    return net


def autocast(device: torch.device):
    """bfloat16 autocast on a GPU; nothing on the CPU."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@functools.lru_cache(maxsize=1)  # SimCLR and neural collapse share one generated set
def images(name: str, num_train: int, num_test: int, seed: int = 0) -> dict:
    """X_train, y_train, X_test, y_test: generated shapes, or CIFAR-10 when datasets/ holds a copy
    (num_train and num_test then cap its splits)."""
    if name == "cifar10":
        raw = load_dataset("cifar10", num_val=0, download=False)
    else:
        raw = load_dataset("shapes", num_train=num_train, num_val=0, num_test=num_test, seed=seed)
    return {
        key: raw[key][: num_train if "train" in key else num_test] for key in raw if key[:2] in ("X_", "y_")
    }


def image_dataset() -> str:
    return "cifar10" if (DATASETS_DIR / "cifar-10-batches-py" / "batches.meta").is_file() else "shapes"


def standardize(X: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-channel standardization with the statistics of reference (the training images)."""
    mean, std = reference.mean(dim=(0, 2, 3), keepdim=True), reference.std(dim=(0, 2, 3), keepdim=True)
    return (X - mean) / std


# --------------------------------------------------------------------------------------
# 1. SimCLR
# --------------------------------------------------------------------------------------
def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """SimCLR's augmentation on a batch (B, 3, S, S) in [0, 1], drawn per image on x's device: a random
    resized crop (area 0.08-1, aspect 3/4-4/3) with a horizontal flip half the time, colour jitter
    (brightness, contrast, saturation 0.4) 80% of the time, greyscale 20% of the time."""
    B, device = len(x), x.device

    def uniform(low, high):
        return low + (high - low) * torch.rand(B, generator=gen, device=device)

    area, aspect = uniform(0.08, 1.0), torch.exp(uniform(math.log(3 / 4), math.log(4 / 3)))
    width, height = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)
    flip = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0)
    theta = torch.zeros(B, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 1, 1] = width * flip, height
    theta[:, 0, 2], theta[:, 1, 2] = uniform(-1, 1) * (1 - width), uniform(-1, 1) * (1 - height)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)

    def grey(images):
        weights = torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True)

    jitter = (uniform(0, 1) < 0.8).view(B, 1, 1, 1)
    brightness, contrast, saturation = (uniform(0.6, 1.4).view(B, 1, 1, 1) for _ in range(3))
    jittered = x * brightness
    jittered = (jittered - grey(jittered).mean(dim=(2, 3), keepdim=True)) * contrast + grey(jittered).mean(
        dim=(2, 3), keepdim=True
    )
    jittered = grey(jittered) + (jittered - grey(jittered)) * saturation
    x = torch.where(jitter, jittered.clamp(0, 1), x)
    return torch.where((uniform(0, 1) < 0.2).view(B, 1, 1, 1), grey(x).expand_as(x), x)


def simclr_recipe(config: dict, device: torch.device) -> dict:
    dataset = image_dataset()
    data = images(dataset, config["num_train"], config["num_test"])
    X_train, X_test = data["X_train"].to(device), data["X_test"]
    mean = X_train.mean(dim=(0, 2, 3), keepdim=True)
    std = X_train.std(dim=(0, 2, 3), keepdim=True)
    torch.manual_seed(0)
    encoder = resnet18_features().to(device)
    projection = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128)).to(device)
    untrained = resnet18_features().to(device).eval()  # the baseline: same architecture, random weights
    parameters = [*encoder.parameters(), *projection.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3, weight_decay=1e-6)
    gen = torch.Generator(device=device).manual_seed(0)
    budget, steps, losses = Budget(config["train_s"]), 0, []
    while not budget.spent():
        for batch in torch.randperm(len(X_train), generator=gen, device=device).split(config["batch_size"]):
            if len(batch) < config["batch_size"] or budget.spent():
                break
            budget.anneal(optimizer, 1e-3)
            views = torch.cat([augment(X_train[batch], gen), augment(X_train[batch], gen)])
            with autocast(device):
                z = projection(encoder((views - mean) / std)).float()
            loss = simclr_loss_vectorized(*z.chunk(2), 0.2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            losses.append(loss.item())
    trained_s = time.perf_counter() - budget.start
    labelled = few_labels(data["y_train"], config["probe_per_class"])
    test_x, test_y = (X_test.to(device) - mean) / std, data["y_test"]
    train_x, train_y = (X_train[labelled.to(device)] - mean) / std, data["y_train"][labelled]
    scores = {}
    for name, net in (("SimCLR", encoder), ("random encoder", untrained)):
        train_f, test_f = extract_features(net, train_x), extract_features(net, test_x)
        scores[name] = {
            "knn": knn_accuracy(train_f, train_y, test_f, test_y, k=20),
            "linear_probe": linear_probe_accuracy(train_f, train_y, test_f, test_y),
        }
    return {
        "dataset": dataset,
        "num_train": len(X_train),
        "num_test": len(test_y),
        "labels_per_class": config["probe_per_class"],
        "budget_s": config["train_s"],
        "trained_s": trained_s,
        "steps": steps,
        "epochs": steps * config["batch_size"] / len(X_train),
        "loss_first_last": [losses[0], losses[-1]] if losses else None,
        "accuracy": scores,
    }


# --------------------------------------------------------------------------------------
# 2. CAM-loss
# --------------------------------------------------------------------------------------
def cam_recipe(config: dict, device: torch.device) -> dict:
    raw = load_dataset(
        "digit_canvas", num_train=config["num_train"], num_val=0, num_test=config["num_test"], seed=0
    )
    X_train, X_test = standardize(raw["X_train"], raw["X_train"]), standardize(raw["X_test"], raw["X_train"])
    X_train, y_train = X_train.to(device), raw["y_train"].to(device)
    runs = {}
    for name, alpha in (("cross-entropy", 0.0), ("CAM-loss", config["alpha"])):
        torch.manual_seed(0)
        model = ResNet18CAM(in_channels=1, num_classes=10).to(device)
        backbone_optimizer, fc_optimizer = make_optimizers(model, lr=1e-3)
        gen = torch.Generator(device=device).manual_seed(0)
        budget, steps = Budget(config["train_s"]), 0
        while not budget.spent():
            for batch in torch.randperm(len(X_train), generator=gen, device=device).split(
                config["batch_size"]
            ):
                if len(batch) < config["batch_size"] or budget.spent():
                    break
                for optimizer in (backbone_optimizer, fc_optimizer):
                    budget.anneal(optimizer, 1e-3)
                weight = alpha if budget.fraction() >= WARMUP_FRACTION else 0.0
                model.train()
                cam_loss_train_step(
                    model, backbone_optimizer, fc_optimizer, X_train[batch], y_train[batch], weight
                )
                steps += 1
        trained_s = time.perf_counter() - budget.start
        runs[name] = {
            "trained_s": trained_s,
            "steps": steps,
            **evaluate(model, X_test, raw["y_test"], raw["masks_test"]),
        }
    return {
        "dataset": "digit_canvas",
        "num_train": len(X_train),
        "num_test": len(X_test),
        "budget_s_per_run": config["train_s"],
        "runs": runs,
    }


# --------------------------------------------------------------------------------------
# 3. Neural collapse
# --------------------------------------------------------------------------------------
class CollapseNet(FeatureNet):
    """FeatureNet's heads and forward on ResNet-18 features through a BatchNorm (so that they can centre)."""

    def __init__(self, num_classes: int, head: str):
        super().__init__(in_features=1, num_classes=num_classes, num_features=512, head=head, depth=0)
        self.backbone = nn.Sequential(resnet18_features(), nn.BatchNorm1d(512))


@torch.no_grad()
def logits_and_features(model: nn.Module, X: torch.Tensor, batch_size: int = 1024):
    """(logits, features) in eval mode and float32 (collapse metrics need the precision)."""
    model.eval()
    outputs = [model(X[s : s + batch_size]) for s in range(0, len(X), batch_size)]
    return torch.cat([o[0] for o in outputs]), torch.cat([o[1] for o in outputs])


def collapse_recipe(config: dict, device: torch.device) -> dict:
    dataset = image_dataset()
    data = images(dataset, config["num_train"], config["num_test"])
    picks = long_tailed_indices(data["y_train"], config["ratio"], seed=0)
    X_train = standardize(data["X_train"][picks], data["X_train"][picks]).to(device)
    y_train = data["y_train"][picks].to(device)
    X_test = standardize(data["X_test"], data["X_train"][picks]).to(device)
    y_test = data["y_test"].to(device)
    num_classes = int(y_train.max()) + 1
    runs = {}
    for head in ("linear", "etf"):
        torch.manual_seed(0)
        model = CollapseNet(num_classes, head).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        gen = torch.Generator(device=device).manual_seed(0)
        budget, epoch, history = Budget(config["train_s"]), 0, []
        while not budget.spent():
            model.train()
            for batch in torch.randperm(len(X_train), generator=gen, device=device).split(
                config["batch_size"]
            ):
                if len(batch) < 2 or budget.spent():  # BatchNorm needs two samples
                    break
                budget.anneal(optimizer, 0.1)
                with autocast(device):
                    loss = F.cross_entropy(model(X_train[batch])[0].float(), y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            epoch += 1
            logits, features = logits_and_features(model, X_train)
            # On the CPU: the reference metrics build their ETF target and masks there.
            metrics = neural_collapse_metrics(
                features.cpu(), y_train.cpu(), model.classifier_weight.detach().cpu()
            )
            train_error = (logits.argmax(dim=1) != y_train).double().mean().item()
            history.append({"epoch": epoch, "train_error": train_error, **metrics})
        logits, _ = logits_and_features(model, X_test)
        correct = (logits.argmax(dim=1) == y_test).double()
        per_class = torch.zeros(num_classes, dtype=torch.float64, device=device).index_add_(
            0, y_test, correct
        )
        per_class = (per_class / torch.bincount(y_test, minlength=num_classes)).tolist()
        zero = first_zero_error_epoch(history)
        runs[head] = {
            "trained_s": time.perf_counter() - budget.start,
            "epochs": epoch,
            "zero_error_epoch": zero,
            "nc1_at_zero_error": history[zero - 1]["nc1"] if zero else None,
            "final": history[-1],
            "test_accuracy": sum(per_class) / num_classes,
            "tail_accuracy": sum(per_class[-3:]) / 3,
            "per_class_accuracy": per_class,
            "history": history,
        }
    return {
        "dataset": f"{dataset}, long-tailed (ratio {config['ratio']})",
        "train_per_class": torch.bincount(y_train.cpu()).tolist(),
        "num_test": len(y_test),
        "budget_s_per_run": config["train_s"],
        "runs": runs,
    }


# --------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------
RECIPES = {"simclr": simclr_recipe, "cam_loss": cam_recipe, "neural_collapse": collapse_recipe}


def as_markdown(results: dict) -> dict[str, str]:
    """One Markdown section per recipe, keyed by its README marker (full_size_<recipe>)."""
    header = (
        f"Measured {results['date']} on {results['device']} ({results['machine']}, torch {results['torch']})"
        + (", **smoke mode** (toy sizes: the numbers mean nothing)" if results["smoke"] else "")
        + "."
    )
    s, c, n = results["simclr"], results["cam_loss"], results["neural_collapse"]
    simclr = [
        header,
        "",
        f"SimCLR, ResNet-18, {s['num_train']} {s['dataset']} images, {s['trained_s']:.0f} s of training "
        f"(budget {s['budget_s']} s; {s['steps']} steps, {s['epochs']:.1f} epochs); {s['labels_per_class']} "
        f"labels per class, {s['num_test']} test images:",
        "",
        "| encoder | kNN (k = 20) | linear probe |",
        "|---|---|---|",
        *(f"| {name} | {a['knn']:.3f} | {a['linear_probe']:.3f} |" for name, a in s["accuracy"].items()),
    ]
    cam = [
        header,
        "",
        f"ResNet18CAM, {c['num_train']} digit canvases, {c['budget_s_per_run']} s of training per run; "
        f"{c['num_test']} test canvases:",
        "",
        "| run | steps | accuracy | CAM mass inside the box | pointing game |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {r['steps']} | {r['accuracy']:.3f} | {r['mass_inside']:.3f} | {r['pointing']:.3f} |"
            for name, r in c["runs"].items()
        ),
    ]
    collapse = [
        header,
        "",
        f"ResNet-18 with BatchNorm features, {n['dataset']}, per class {n['train_per_class']}; "
        f"{n['budget_s_per_run']} s of training per head; NC measured on the training set every epoch:",
        "",
        "| head | epochs | zero training error from epoch | NC1 there | NC1 at the end | ETF distance | NC3 "
        "| test accuracy | tail accuracy (3 smallest) |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {head} | {r['epochs']} | {r['zero_error_epoch'] or 'never'} | "
            + (f"{r['nc1_at_zero_error']:.3g}" if r["nc1_at_zero_error"] else "-")
            + f" | {r['final']['nc1']:.3g} | {r['final']['nc2_etf_distance']:.3f} | {r['final']['nc3']:.3f} "
            f"| "
            f"{r['test_accuracy']:.3f} | {r['tail_accuracy']:.3f} |"
            for head, r in n["runs"].items()
        ),
    ]
    return {
        "full_size_simclr": "\n".join(simclr),
        "full_size_cam_loss": "\n".join(cam),
        "full_size_neural_collapse": "\n".join(collapse),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--smoke", action="store_true", help="toy sizes and budgets, for the CPU")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON and Markdown go")
    parser.add_argument(
        "--readme", type=Path, default=HERE / "README.md", help="the README whose sections update"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    configs = SMOKE if args.smoke else FULL
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "torch": torch.__version__,
        "smoke": args.smoke,
    }
    start = time.perf_counter()
    for name, recipe in RECIPES.items():
        recipe_start = time.perf_counter()
        print(f"{name}: training budget {configs[name]['train_s']} s per run", flush=True)
        results[name] = recipe(configs[name], device)
        results[name]["total_s"] = time.perf_counter() - recipe_start
        print(f"{name}: done in {results[name]['total_s']:.0f} s, data and evaluation included", flush=True)
    results["total_s"] = time.perf_counter() - start
    sections = as_markdown(results)
    markdown = "\n\n".join(sections.values()) + f"\n\nAll recipes: {results['total_s']:.0f} s.\n"
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "full_size.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "full_size.md").write_text(markdown)
    for marker, text in sections.items():
        write_section(text, marker=marker, readme=args.readme)
    return results


if __name__ == "__main__":
    main()
