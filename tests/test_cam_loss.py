"""The CAM-loss reference (solutions/cam_loss.py) against oracles that share no code with it: explicit
sums over pixels, einsum, torchcam's CAM extractor, nn.L1Loss, autograd and torch.autograd.gradcheck."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchcam.methods import CAM

from solutions import cam_loss as cl


def maps_and_weights(seed=0, b=4, k=5, h=3, w=6, c=7, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    # As after a ReLU, plus a little noise so that no map has tied minima (where min's gradient is a choice).
    fmap = torch.randn(b, k, h, w, generator=gen, dtype=dtype).relu() + 0.1 * torch.rand(
        b, k, h, w, generator=gen, dtype=dtype
    )
    labels = torch.randint(c, (b,), generator=gen)
    weight = torch.randn(c, k, generator=gen, dtype=dtype)
    return fmap, labels, weight


def cam_by_pixels(fmap, labels, weight):
    """The definition, one pixel at a time, in Python floats."""
    b, k, h, w = fmap.shape
    out = torch.zeros(b, h, w, dtype=torch.float64)
    for i in range(b):
        for y in range(h):
            for x in range(w):
                out[i, y, x] = sum(weight[labels[i], j].item() * fmap[i, j, y, x].item() for j in range(k))
    return out


@pytest.mark.parametrize("make", [cl.make_cam_naive, cl.make_cam])
@pytest.mark.parametrize("shape", [dict(), dict(b=1, k=1, h=1, w=1, c=1), dict(b=3, k=8, h=5, w=2, c=2)])
def test_cam_matches_the_definition_pixel_by_pixel(make, shape):
    fmap, labels, weight = maps_and_weights(**shape)
    torch.testing.assert_close(
        make(fmap, labels, weight), cam_by_pixels(fmap, labels, weight), rtol=1e-12, atol=1e-12
    )


def test_make_cam_follows_the_input_dtype_and_matches_einsum_in_float32():
    fmap, labels, weight = maps_and_weights(1, dtype=torch.float32)
    cams = cl.make_cam(fmap, labels, weight)
    assert cams.dtype == torch.float32
    torch.testing.assert_close(cams, torch.einsum("bk,bkhw->bhw", weight[labels], fmap))


@pytest.mark.parametrize(
    "model_factory,channels,target,fc",
    [
        (lambda: cl.SmallCNN(in_channels=1, num_classes=10), 1, "features", "fc"),
        (lambda: cl.ResNet18CAM(in_channels=3, num_classes=10), 3, "backbone.layer4", "backbone.fc"),
    ],
)
def test_make_cam_agrees_with_torchcam(model_factory, channels, target, fc):
    """torchcam's CAM is sum_k w_k A_k (with a ReLU when its relu option is on), per sample for the given
    classes, optionally min-max normalized."""
    torch.manual_seed(0)
    model = model_factory().eval()
    images = torch.randn(3, channels, 32, 32)
    labels = torch.tensor([2, 7, 2])
    with CAM(model, target_layer=target, fc_layer=fc) as extractor:
        with torch.no_grad():
            logits, fmap = model(images)
        (raw,) = extractor(labels.tolist(), logits, normalized=False)
        (normalized,) = extractor(labels.tolist(), logits, normalized=True)
        relu = extractor._relu
    ours = cl.make_cam(fmap, labels, model.fc.weight.detach())
    ours = ours.relu() if relu else ours
    torch.testing.assert_close(ours, raw, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cl.min_max_normalize(ours), normalized, rtol=1e-4, atol=1e-5)


def test_cam_mean_is_the_logit_minus_the_bias_under_average_pooling():
    torch.manual_seed(1)
    model = cl.SmallCNN(in_channels=3, num_classes=4).eval().double()
    images = torch.randn(5, 3, 16, 16, dtype=torch.float64)
    logits, fmap = model(images)
    labels = torch.tensor([0, 1, 2, 3, 1])
    cams = cl.make_cam(fmap, labels, model.fc.weight)
    torch.testing.assert_close(cams.mean(dim=(1, 2)), logits[torch.arange(5), labels] - model.fc.bias[labels])


def test_caam_is_the_channel_sum():
    fmap, _, _ = maps_and_weights(2)
    torch.testing.assert_close(
        cl.make_caam(fmap),
        cam_by_pixels(fmap, torch.zeros(4, dtype=torch.long), torch.ones(1, 5, dtype=torch.float64)),
    )


def test_min_max_normalize_is_per_sample_over_both_axes_and_zero_for_constant_maps():
    gen = torch.Generator().manual_seed(3)
    maps = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 10.0, 100.0]).view(
        3, 1, 1
    )
    maps[2] = 4.0
    out = cl.min_max_normalize(maps)
    for i in range(2):
        m = maps[i]
        torch.testing.assert_close(out[i], (m - m.min()) / (m.max() - m.min()), rtol=0, atol=1e-15)
        assert out[i].min() == 0 and out[i].max() == 1
    assert torch.equal(out[2], torch.zeros(4, 5, dtype=torch.float64))
    assert torch.equal(maps[2], torch.full((4, 5), 4.0, dtype=torch.float64))  # input untouched


def test_min_max_normalize_gradient_against_finite_differences():
    gen = torch.Generator().manual_seed(4)
    maps = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(cl.min_max_normalize, (maps,))


def l_cam_oracle(fmap, labels, weight):
    """L_cam written independently: a loop over samples, torchcam-free normalization, nn.L1Loss."""
    cams, caams = [], []
    for i in range(len(labels)):
        cam = (weight.detach()[labels[i]].view(-1, 1, 1) * fmap[i]).sum(0)
        caam = fmap[i].sum(0)
        cams.append((cam - cam.min()) / (cam.max() - cam.min()))
        caams.append((caam - caam.min()) / (caam.max() - caam.min()))
    return nn.L1Loss()(torch.stack(cams), torch.stack(caams))


def test_cam_loss_value_and_where_its_gradients_go():
    fmap, labels, weight = maps_and_weights(5, b=6, k=4, h=3, w=5, c=3)
    bias = torch.randn(3, dtype=torch.float64)
    leaves = [t.clone().requires_grad_(True) for t in (fmap, weight, bias)]
    logits = leaves[0].mean(dim=(2, 3)) @ leaves[1].t() + leaves[2]
    total, l_ce, l_cam = cl.cam_loss(logits, leaves[0], labels, leaves[1], alpha=3.0)
    oracle = [t.clone().requires_grad_(True) for t in (fmap, weight, bias)]
    oracle_logits = oracle[0].mean(dim=(2, 3)) @ oracle[1].t() + oracle[2]
    expected_ce, expected_cam = (
        F.cross_entropy(oracle_logits, labels),
        l_cam_oracle(oracle[0], labels, oracle[1]),
    )
    torch.testing.assert_close(l_ce, expected_ce)
    torch.testing.assert_close(l_cam, expected_cam)
    torch.testing.assert_close(total, expected_ce + 3.0 * expected_cam)

    # L_cam: nothing to the classifier, exactly the oracle's gradient to the feature maps.
    fmap_grad, weight_grad = torch.autograd.grad(l_cam, leaves[:2], retain_graph=True, allow_unused=True)
    assert weight_grad is None or torch.count_nonzero(weight_grad) == 0
    torch.testing.assert_close(fmap_grad, torch.autograd.grad(expected_cam, oracle[0], retain_graph=True)[0])
    assert fmap_grad.abs().sum() > 0
    # The total: the classifier's gradient is the cross-entropy's alone.
    grads = torch.autograd.grad(total, leaves)
    expected = torch.autograd.grad(expected_ce + 3.0 * expected_cam, oracle, retain_graph=True)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)
    torch.testing.assert_close(grads[1], torch.autograd.grad(expected_ce, oracle[1])[0])


@pytest.mark.parametrize(
    "mangle,words",
    [
        (lambda f, y, w: (f, y + 7, w), "labels should lie in [0, 7)"),
        (lambda f, y, w: (f, y - 1 - y.max(), w), "labels should lie in [0, 7)"),
        (lambda f, y, w: (f[:, :3], y, w), "K = 3 channels"),
        (lambda f, y, w: (f[0], y, w), "(B, K, H, W)"),
        (lambda f, y, w: (f, y[:2], w), "one per feature map"),
        (lambda f, y, w: (f, y.double(), w), "integer class indices"),
    ],
)
@pytest.mark.parametrize("function", [cl.make_cam_naive, cl.make_cam])
def test_bad_cam_input_is_a_value_error_naming_the_shapes(function, mangle, words):
    fmap, labels, weight = maps_and_weights(6)
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        function(*mangle(fmap, labels, weight))


def test_cam_loss_rejects_logits_of_the_wrong_shape_and_bad_labels():
    fmap, labels, weight = maps_and_weights(7)
    with pytest.raises(ValueError, match=r"logits should be \(B, C\) = \(4, 7\)"):
        cl.cam_loss(torch.zeros(4, 6, dtype=torch.float64), fmap, labels, weight, 1.0)
    with pytest.raises(ValueError, match="labels should lie"):
        cl.cam_loss(torch.zeros(4, 7, dtype=torch.float64), fmap, labels + 7, weight, 1.0)
    with pytest.raises(ValueError, match=r"maps should be \(B, H, W\)"):
        cl.min_max_normalize(fmap)


def test_resnet18_returns_layer4_maps_through_its_hook_for_one_channel_input():
    torch.manual_seed(0)
    model = cl.ResNet18CAM(in_channels=1, num_classes=10).eval()
    images = torch.randn(2, 1, 28, 28)
    logits, fmap = model(images)
    assert logits.shape == (2, 10) and fmap.shape == (2, 512, 4, 4)
    assert model._feature_map is None  # no reference kept between calls
    b = model.backbone
    expected = b.layer4(b.layer3(b.layer2(b.layer1(b.maxpool(b.relu(b.bn1(b.conv1(images))))))))
    torch.testing.assert_close(fmap, expected)
    torch.testing.assert_close(
        logits, model.fc(fmap.mean(dim=(2, 3)))
    )  # average pooling: CAMs decompose logits
    big = cl.ResNet18CAM(in_channels=3, num_classes=5, small_images=False).eval()
    assert big(torch.randn(1, 3, 64, 64))[1].shape == (1, 512, 2, 2)


def test_resnet18_pretrained_offline_says_what_to_do(monkeypatch):
    def offline(**kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cl, "resnet18", offline)
    with pytest.raises(RuntimeError, match="pretrained=False"):
        cl.ResNet18CAM(pretrained=True)


@pytest.mark.parametrize("model", [cl.SmallCNN(), cl.ResNet18CAM()], ids=["small_cnn", "resnet18"])
def test_split_parameters_separates_the_classifier(model):
    backbone, classifier = cl.split_parameters(model)
    assert {id(p) for p in classifier} == {id(p) for p in model.fc.parameters()}
    assert len(backbone) + len(classifier) == len(list(model.parameters()))
    assert not {id(p) for p in backbone} & {id(p) for p in classifier}


def test_training_follows_the_alpha_schedule_and_learns():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(128) % 2
    X = torch.randn(128, 1, 12, 12, generator=gen) * 0.3
    X[y == 1, :, :6] += 1.0  # class 1: a bright top half
    torch.manual_seed(0)
    model = cl.SmallCNN(in_channels=1, num_classes=2, widths=(8, 8, 8))
    history = cl.train_cam_model(model, X, y, epochs=4, batch_size=32, lr=1e-2, alpha=2.0, warmup_epochs=2)
    assert [h["alpha"] for h in history] == [0.0] * 8 + [2.0] * 8
    assert all(abs(h["total"] - h["ce"] - h["alpha"] * h["cam"]) < 1e-5 for h in history)
    assert cl.evaluate(model, X, y)["accuracy"] >= 0.95
    with pytest.raises(ValueError, match="fewer than one batch"):
        cl.train_cam_model(model, X[:10], y[:10], epochs=1, batch_size=32)


def test_localization_scores_by_hand():
    maps = torch.tensor([[[0.0, 1.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[2.0, 2.0], [1.0, 0.0]]])
    masks = torch.tensor(
        [[[False, True], [False, False]], [[True, False], [False, False]], [[False, True], [True, True]]]
    )
    torch.testing.assert_close(cl.cam_mass_inside(maps, masks), torch.tensor([0.25, 0.0, 0.6]))
    # Peaks: (1, 0) unmasked; all zero, so (0, 0), masked; a tie between (0, 0) and (0, 1): the first, unmasked.
    assert cl.pointing_game(maps, masks).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="non-negative"):
        cl.cam_mass_inside(-maps, masks)
    with pytest.raises(ValueError, match="boolean"):
        cl.pointing_game(maps, masks.float())


def test_evaluate_scores_a_model_whose_maps_sit_on_the_object():
    """A model whose only feature is the input itself localizes perfectly when the object is the bright part."""

    class Identity(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 2)
            nn.init.ones_(self.fc.weight)

        def forward(self, x):
            return self.fc(x.mean(dim=(2, 3))), x

    X = torch.zeros(3, 1, 8, 8)
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    for i, (r, c) in enumerate([(0, 0), (3, 5), (6, 2)]):
        X[i, 0, r : r + 2, c : c + 2] = 1.0
        masks[i, r : r + 2, c : c + 2] = True
    result = cl.evaluate(Identity(), X, torch.zeros(3, dtype=torch.long), masks)
    assert result["pointing"] == 1.0 and result["mass_inside"] > 0.99
    assert set(result) == {"accuracy", "l_ce", "l_cam", "mass_inside", "pointing"}
