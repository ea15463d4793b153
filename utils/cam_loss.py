# Student version, generated from the reference solution: fill in each TODO block.
# Replace the `raise NotImplementedError(...)` line with your code; leave the rest as it is.
# ruff: noqa: F821, F841  (the names a TODO block defines are missing until it is filled)
"""Assignment 3: CAM-loss, class activation maps as a training signal (Wang et al., ICCV 2021).

Conventions:
- A network ends with feature maps F of shape (B, K, H, W), global average pooling and a linear
  layer whose weight is ``fc_weight`` (C, K). ``labels`` is (B,) int64 in [0, C).
- The class activation map (CAM) of class c is sum_k fc_weight[c, k] F[:, k]: (B, H, W).
- The class-agnostic activation map (CAAM) is sum_k F[:, k]: (B, H, W).
- CAM-loss = L_ce + alpha * L_cam, where L_cam is the mean absolute difference between the
  min-max normalized CAM of the target class and the min-max normalized CAAM, and fc_weight enters
  L_cam detached: the CAM term trains the backbone only.
- Unless a docstring says otherwise, compute in the inputs' dtype and on their device: the checks hold
  float64 inputs to float64's precision and float32 inputs to float32's.

Fill in the code between the TODO markers only; everything else is provided.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import ResNet18_Weights, resnet18
from tqdm.auto import tqdm


def hello_cam_loss() -> str:
    """Says hello: the notebook calls it to check that the module imports."""
    return "Hello from utils/cam_loss.py!"


# --------------------------------------------------------------------------------------
# Models that return (logits, feature_map)
# --------------------------------------------------------------------------------------
class SmallCNN(nn.Module):
    """Three conv layers (3x3, BatchNorm, ReLU; the first two followed by 2x2 max pooling), global
    average pooling and a linear layer ``fc``.

    forward(x) with x (B, in_channels, S, S) returns (logits (B, num_classes), feature_map (B, K, S/4, S/4))
    with K = widths[-1]: the last conv layer's output, from which the logits are pooled.
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, widths: tuple[int, int, int] = (32, 64, 128)
    ):
        super().__init__()
        layers, channels = [], in_channels
        for i, width in enumerate(widths):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature_map = self.features(x)
        return self.fc(feature_map.mean(dim=(2, 3))), feature_map


class ResNet18CAM(nn.Module):
    """torchvision's ResNet-18 returning (logits, feature_map), the feature map being the output of its
    last stage (layer4, K = 512), caught by a forward hook.

    in_channels: 1 for MNIST, 3 for colour images (a new first convolution when it is not 3).
    small_images: for 32 x 32 inputs, a 3 x 3 stride-1 first convolution and no max pooling (the usual
    CIFAR stem), so that layer4's maps are 4 x 4 rather than 1 x 1.
    pretrained: ImageNet weights (downloaded by torchvision, so online only); random weights by default.
    The classifier is always new: ``fc`` = Linear(512, num_classes).
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, pretrained: bool = False, small_images: bool = True
    ):
        super().__init__()
        try:
            self.backbone = resnet18(weights=ResNet18_Weights.DEFAULT if pretrained else None)
        except Exception as error:  # torchvision raises URLError and others when offline
            raise RuntimeError(
                f"could not load ResNet-18's ImageNet weights ({type(error).__name__}: {error}); they are downloaded "
                "on first use, so go online once, or use pretrained=False"
            ) from error
        if small_images:
            self.backbone.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            self.backbone.maxpool = nn.Identity()
        elif in_channels != 3:
            self.backbone.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.backbone.fc = nn.Linear(self.backbone.fc.in_features, num_classes)
        self._feature_map = None
        self.backbone.layer4.register_forward_hook(self._keep_feature_map)

    @property
    def fc(self) -> nn.Linear:
        return self.backbone.fc

    def _keep_feature_map(self, module, inputs, output) -> None:
        self._feature_map = output

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.backbone(x)
        feature_map, self._feature_map = self._feature_map, None  # hold no reference between calls
        return logits, feature_map


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone parameters, classifier parameters): everything but model.fc, and model.fc."""
    fc_ids = {id(p) for p in model.fc.parameters()}
    return [p for p in model.parameters() if id(p) not in fc_ids], list(model.fc.parameters())


def make_optimizers(
    model: nn.Module, lr: float = 1e-3, weight_decay: float = 0.0
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """One Adam optimizer for the backbone and one for the classifier, as in CAM-loss's training recipe."""
    backbone, classifier = split_parameters(model)
    return (
        torch.optim.Adam(backbone, lr=lr, weight_decay=weight_decay),
        torch.optim.Adam(classifier, lr=lr, weight_decay=weight_decay),
    )


# --------------------------------------------------------------------------------------
# Class activation maps
# --------------------------------------------------------------------------------------
def _check_cam_inputs(feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor) -> None:
    """ValueError naming the shapes when feature_map (B, K, H, W), labels (B,) and fc_weight (C, K) disagree."""
    if feature_map.dim() != 4:
        raise ValueError(f"feature_map should be (B, K, H, W); got shape {tuple(feature_map.shape)}")
    if fc_weight.dim() != 2 or fc_weight.shape[1] != feature_map.shape[1]:
        raise ValueError(
            f"fc_weight should be (C, K) with K = {feature_map.shape[1]} channels like feature_map "
            f"{tuple(feature_map.shape)}; got fc_weight of shape {tuple(fc_weight.shape)}"
        )
    if labels.shape != (feature_map.shape[0],):
        raise ValueError(
            f"labels should be ({feature_map.shape[0]},), one per feature map; got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels should be integer class indices; got dtype {labels.dtype}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= fc_weight.shape[0]):
        raise ValueError(
            f"labels should lie in [0, {fc_weight.shape[0]}) for fc_weight of shape {tuple(fc_weight.shape)}; "
            f"got values from {labels.min().item()} to {labels.max().item()}"
        )


def make_cam_naive(feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor) -> torch.Tensor:
    """The CAM of each sample's class, with explicit loops over samples and channels.

    Inputs: feature_map (B, K, H, W); labels (B,) int64 in [0, C); fc_weight (C, K).
    Returns cams (B, H, W): cams[b] = sum_k fc_weight[labels[b], k] * feature_map[b, k].
    """
    _check_cam_inputs(feature_map, labels, fc_weight)
    # TODO: make_cam_naive (see the docstring above).
    raise NotImplementedError(
        "make_cam_naive: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return cams


def make_cam(feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor) -> torch.Tensor:
    """make_cam_naive without Python loops; same inputs and output (B, H, W). Differentiable with respect to
    feature_map and fc_weight: CAM-loss backpropagates through it."""
    _check_cam_inputs(feature_map, labels, fc_weight)
    # TODO: make_cam (see the docstring above).
    raise NotImplementedError(
        "make_cam: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return cams


def make_caam(feature_map: torch.Tensor) -> torch.Tensor:
    """The class-agnostic activation map: the sum of the feature maps over channels, (B, K, H, W) -> (B, H, W)."""
    if feature_map.dim() != 4:
        raise ValueError(f"feature_map should be (B, K, H, W); got shape {tuple(feature_map.shape)}")
    # TODO: make_caam (see the docstring above).
    raise NotImplementedError(
        "make_caam: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return caam


def min_max_normalize(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each map rescaled to [0, 1] on its own: (m - min m) / (max m - min m), min and max taken over
    that sample's H x W pixels.

    maps: (B, H, W). Divide by the range clamped to at least eps, (max m - min m).clamp(min=eps), so that a
    constant map (range 0) becomes all zeros, not NaN. Dividing by (max m - min m) + eps is accepted too:
    the two differ by a relative eps / range, and the checks use no map whose range lies between 0 and eps.
    Differentiable; returns a new tensor (B, H, W).
    """
    if maps.dim() != 3:
        raise ValueError(f"maps should be (B, H, W); got shape {tuple(maps.shape)}")
    # TODO: min_max_normalize (see the docstring above).
    raise NotImplementedError(
        "min_max_normalize: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return normalized


# --------------------------------------------------------------------------------------
# The loss and its training step
# --------------------------------------------------------------------------------------
def cam_loss(
    logits: torch.Tensor,
    feature_map: torch.Tensor,
    labels: torch.Tensor,
    fc_weight: torch.Tensor,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CAM-loss of a batch: (total, l_ce, l_cam), three scalars.

    - l_ce: cross-entropy of logits (B, C) against labels (B,), averaged over the batch.
    - l_cam: the mean over B x H x W of |min_max_normalize(CAM) - min_max_normalize(CAAM)|, with the
      CAM of each sample's label (not its predicted class) built from fc_weight.detach(), so that
      l_cam sends gradients to the feature maps (the backbone) and none to fc_weight.
    - total = l_ce + alpha * l_cam.
    """
    _check_cam_inputs(feature_map, labels, fc_weight)
    if logits.shape != (feature_map.shape[0], fc_weight.shape[0]):
        raise ValueError(
            f"logits should be (B, C) = ({feature_map.shape[0]}, {fc_weight.shape[0]}) for feature_map "
            f"{tuple(feature_map.shape)} and fc_weight {tuple(fc_weight.shape)}; got {tuple(logits.shape)}"
        )
    # TODO: cam_loss (see the docstring above).
    raise NotImplementedError(
        "cam_loss: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return total, l_ce, l_cam


def alpha_schedule(epoch: int, warmup_epochs: int = 10, alpha: float = 3.0) -> float:
    """The weight of L_cam in epoch ``epoch`` (counted from 0): 0 during the first warmup_epochs
    epochs (cross-entropy alone), alpha afterwards."""
    # TODO: alpha_schedule (see the docstring above).
    raise NotImplementedError(
        "alpha_schedule: not implemented yet; fill the TODO in utils/cam_loss.py",
    )


def cam_loss_train_step(
    model: nn.Module,
    backbone_optimizer: torch.optim.Optimizer,
    fc_optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
) -> dict[str, float]:
    """One training step with CAM-loss on a batch.

    model(images) returns (logits, feature_map) and its classifier is model.fc; backbone_optimizer
    holds every parameter but model.fc's, fc_optimizer holds model.fc's. Zero both optimizers' gradients,
    compute cam_loss with model.fc.weight, backpropagate the total, and step both optimizers.
    Returns {"total": ..., "ce": ..., "cam": ...} as Python floats.
    """
    # TODO: cam_loss_train_step (see the docstring above).
    raise NotImplementedError(
        "cam_loss_train_step: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return {"total": total.item(), "ce": l_ce.item(), "cam": l_cam.item()}


def train_cam_model(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    alpha: float = 0.0,
    warmup_epochs: int = 0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    desc: str = "training",
) -> list[dict[str, float]]:
    """Trains model on (X, y) with cam_loss_train_step for epochs epochs (alpha_schedule(epoch,
    warmup_epochs, alpha) each epoch; alpha = 0 is cross-entropy alone), shuffling with seed.
    Returns each step's losses, with the epoch's alpha added."""
    if len(X) < batch_size:
        raise ValueError(f"{len(X)} training images are fewer than one batch of {batch_size}")
    backbone_optimizer, fc_optimizer = make_optimizers(model, lr)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(X) // batch_size
    history = []
    model.train()
    # Refreshed at most once a second: a notebook kernel sends every refresh as a message.
    with tqdm(total=epochs * steps_per_epoch, desc=desc, mininterval=1.0) as progress:
        for epoch in range(epochs):
            weight = alpha_schedule(epoch, warmup_epochs, alpha)
            order = torch.randperm(len(X), generator=gen)
            for step in range(steps_per_epoch):
                batch = order[step * batch_size : (step + 1) * batch_size]
                losses = cam_loss_train_step(
                    model, backbone_optimizer, fc_optimizer, X[batch].to(device), y[batch].to(device), weight
                )
                history.append({**losses, "alpha": weight})
                progress.update(1)
                progress.set_postfix(
                    ce=f"{losses['ce']:.3f}", cam=f"{losses['cam']:.3f}", alpha=weight, refresh=False
                )
    return history


# --------------------------------------------------------------------------------------
# Evaluation: accuracy and localization
# --------------------------------------------------------------------------------------
@torch.no_grad()
def predict_with_maps(
    model: nn.Module, X: torch.Tensor, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (N, C), feature maps (N, K, h, w)) of the model in evaluation mode, on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outputs = [model(X[s : s + batch_size].to(device)) for s in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat([o[0].cpu() for o in outputs]), torch.cat([o[1].cpu() for o in outputs])


def cams_at_image_size(
    feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Min-max normalized CAMs of the given classes, bilinearly upsampled to size (S, S): (N, S, S)."""
    cams = make_cam(feature_map, labels, fc_weight.detach())
    upsampled = F.interpolate(cams.unsqueeze(1), size=size, mode="bilinear", align_corners=False)
    return min_max_normalize(upsampled.squeeze(1))


def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, masks: torch.Tensor | None = None
) -> dict[str, float]:
    """How the model does on (X, y): accuracy, l_ce and l_cam (cam_loss over the whole set), and with masks
    (N, S, S) the localization of its CAMs of the true classes: mass_inside (mean cam_mass_inside) and
    pointing (the pointing game's hit rate)."""
    logits, feature_map = predict_with_maps(model, X)
    _, l_ce, l_cam = cam_loss(logits, feature_map, y, model.fc.weight.detach().cpu(), alpha=0.0)
    result = {
        "accuracy": (logits.argmax(dim=1) == y).double().mean().item(),
        "l_ce": l_ce.item(),
        "l_cam": l_cam.item(),
    }
    if masks is not None:
        cams = cams_at_image_size(feature_map, y, model.fc.weight.cpu(), tuple(X.shape[-2:]))
        result["mass_inside"] = cam_mass_inside(cams, masks).mean().item()
        result["pointing"] = pointing_game(cams, masks).double().mean().item()
    return result


def _check_maps_and_masks(maps: torch.Tensor, masks: torch.Tensor) -> None:
    if maps.dim() != 3 or masks.shape != maps.shape:
        raise ValueError(
            f"maps and masks should both be (B, H, W); got {tuple(maps.shape)} and {tuple(masks.shape)}"
        )
    if masks.dtype != torch.bool:
        raise ValueError(f"masks should be boolean (True on the object); got dtype {masks.dtype}")
    if (maps < 0).any():
        raise ValueError("maps should be non-negative, as min_max_normalize makes them")


def cam_mass_inside(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The share of each map's mass that falls on the object: sum(map * mask) / sum(map), (B,) float.

    maps: (B, H, W) non-negative; masks: (B, H, W) bool, True on the object. A map with zero mass has
    no mass inside: its share is 0.
    """
    _check_maps_and_masks(maps, masks)
    # TODO: cam_mass_inside (see the docstring above).
    raise NotImplementedError(
        "cam_mass_inside: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return share


def pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Whether each map's maximum lies on the object: (B,) bool.

    The maximum's location is the first one in row-major order when several pixels share it.
    maps: (B, H, W) non-negative; masks: (B, H, W) bool.
    """
    _check_maps_and_masks(maps, masks)
    # TODO: pointing_game (see the docstring above).
    raise NotImplementedError(
        "pointing_game: not implemented yet; fill the TODO in utils/cam_loss.py",
    )
    return hits
