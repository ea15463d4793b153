"""Datasets the project generates itself, seeded and offline, with ground-truth masks for localization:
ten shape classes on cluttered backgrounds (make_shapes), and handwritten digits drawn at random
positions on cluttered canvases (make_digit_canvas). Each split loader returns the dict utils/data.py
describes, with masks_* as well."""

from __future__ import annotations

import math

import torch

from utils.loaders import DIGIT_CLASSES, load_digits_splits

SHAPE_CLASSES = [
    "circle",
    "ring",
    "triangle",
    "square",
    "pentagon",
    "star",
    "cross",
    "crescent",
    "ellipse",
    "heart",
]
MIN_CONTRAST = 0.6  # least L1 distance in RGB between a shape's colour and its background
MIN_GREY_CONTRAST = 0.3  # least difference of grey levels between a grey shape and its background
NOISE_STD = 0.03  # pixel noise of the cluttered shapes
CLUTTER_MAX = 6  # most clutter elements an image
SUPERSAMPLE = 2  # shapes are anti-aliased from SUPERSAMPLE x SUPERSAMPLE samples a pixel


# The shapes are drawn in their own frame: centred at the origin, inside the unit disc (outer radius 1).
RING_INNER = 0.55  # inner radius of the ring
CROSS_HALF_WIDTH = 0.3  # each bar of the cross is 0.6 wide
STAR_INNER = 0.45  # radius of the star's inner vertices
ELLIPSE_RATIO = 0.5  # minor / major axis
CRESCENT_BITE = (0.45, 0.8)  # the disc cut out of the unit disc: its centre's offset along x, its radius


def _star_inside(x: torch.Tensor, y: torch.Tensor, points: int, inner: float) -> torch.Tensor:
    """Inside test of a regular star: `points` vertices at radius 1 (one on the +x axis) alternating with
    inner vertices at radius `inner`. A regular polygon is the star whose inner vertices are its edge
    midpoints, inner = cos(pi / points).
    """
    sector = 2 * math.pi / points
    phi = torch.atan2(y, x) % sector
    phi = torch.minimum(
        phi, sector - phi
    )  # the star is mirror-symmetric: fold every point onto [0, sector / 2]
    rho = torch.hypot(x, y)
    px, py = rho * torch.cos(phi), rho * torch.sin(phi)
    # Inside = on the origin's side of the edge from the outer vertex (1, 0) to the inner vertex q.
    qx, qy = inner * math.cos(sector / 2), inner * math.sin(sector / 2)
    return (qx - 1) * py - qy * (px - 1) >= 0


def _shape_inside(shape: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """True where the points (x, y) lie inside the shape; x, y: same-sized tensors of coordinates in its frame."""
    r2 = x * x + y * y
    if shape == "circle":
        return r2 <= 1
    if shape == "ring":
        return (r2 <= 1) & (r2 >= RING_INNER**2)
    if shape in ("triangle", "square", "pentagon"):
        points = {"triangle": 3, "square": 4, "pentagon": 5}[shape]
        return _star_inside(x, y, points, math.cos(math.pi / points))
    if shape == "star":
        return _star_inside(x, y, 5, STAR_INNER)
    if shape == "cross":
        half_length = math.sqrt(1 - CROSS_HALF_WIDTH**2)  # the bars' corners touch the unit circle
        ax, ay = x.abs(), y.abs()
        return ((ax <= CROSS_HALF_WIDTH) & (ay <= half_length)) | (
            (ay <= CROSS_HALF_WIDTH) & (ax <= half_length)
        )
    if shape == "crescent":
        offset, radius = CRESCENT_BITE
        return (r2 <= 1) & ((x - offset) ** 2 + y * y > radius**2)
    if shape == "ellipse":
        return x * x + (y / ELLIPSE_RATIO) ** 2 <= 1
    if shape == "heart":
        # The square |x| + |y| <= 1 standing on a corner, with a disc on each upper side; the disc of
        # radius 1.262 around (0, 0.26) holds it. (The implicit heart curve looks like a blob at 32x32.)
        hx, hy = 1.262 * x.abs(), 1.262 * y + 0.26
        return (hx + hy.abs() <= 1) | ((hx - 0.5) ** 2 + (hy - 0.5) ** 2 <= 0.5)
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPE_CLASSES)}")


def _uniform(generator: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    """n samples uniform in [low, high)."""
    return low + (high - low) * torch.rand(n, generator=generator)


def _shape_coverage(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """The (N, S, S) share of each pixel covered by the shape of class labels[i], placed at random.

    The shape's outer radius is 0.25 to 0.45 of the image side, its centre keeps the whole shape inside
    the image, its rotation is uniform. Coverage is the mean over SUPERSAMPLE x SUPERSAMPLE samples a pixel.
    """
    n = labels.shape[0]
    radius = _uniform(generator, n, 0.25 * size, 0.45 * size)
    centre = radius[:, None] + (size - 2 * radius[:, None]) * torch.rand(n, 2, generator=generator)
    angle = _uniform(generator, n, 0, 2 * math.pi)
    # The frame coordinates are affine in the sample positions: (x, y) = R(-angle) (u, v) / radius.
    cos, sin = torch.cos(angle) / radius, torch.sin(angle) / radius
    samples = (torch.arange(SUPERSAMPLE * size) + 0.5) / SUPERSAMPLE  # in pixels from the left / top edge
    coverage = torch.empty(n, size, size)
    for label, shape in enumerate(SHAPE_CLASSES):  # one vectorized inside test per class
        idx = (labels == label).nonzero().squeeze(1)
        c, s = cos[idx, None, None], sin[idx, None, None]
        u = samples - centre[idx, 0, None, None]  # (k, 1, 2S): along the columns
        v = samples[:, None] - centre[idx, 1, None, None]  # (k, 2S, 1): along the rows
        inside = _shape_inside(shape, c * u + s * v, c * v - s * u)
        coverage[idx] = (
            inside.float().reshape(len(idx), size, SUPERSAMPLE, size, SUPERSAMPLE).mean(dim=(2, 4))
        )
    return coverage


def _object_colours(
    background: torch.Tensor, generator: torch.Generator, min_contrast: float = MIN_CONTRAST, tries: int = 4
) -> torch.Tensor:
    """Random (N, K) colours at L1 distance >= min_contrast from the (N, K) background colours (K = 3 for
    RGB, 1 for grey levels).

    Rejection sampling with a fixed number of tries keeps it vectorized; the rare image whose tries all
    fail (about 1 in 1000) gets the colour cube's corner farthest from its background.
    """
    candidates = torch.rand(tries, *background.shape, generator=generator)
    ok = (candidates - background).abs().sum(dim=-1) >= min_contrast  # (tries, N)
    colours = candidates[ok.int().argmax(dim=0), torch.arange(background.shape[0])]  # the first that is ok
    farthest_corner = (background < 0.5).float()
    return torch.where(ok.any(dim=0)[:, None], colours, farthest_corner)


def _draw_clutter(images: torch.Tensor, generator: torch.Generator, colour: bool = True) -> None:
    """Draws 3 to CLUTTER_MAX random line segments and dots in random colours (grey levels unless colour)
    into (N, 3, S, S) images, in place.

    Each element is a capsule (the points within a half-width of a segment; a dot is a segment of
    length 0), anti-aliased from the exact distance of the pixel centres to its segment.
    """
    n, _, size, _ = images.shape
    unit = size / 32  # the sizes below are in pixels of a 32x32 image
    count = torch.randint(3, CLUTTER_MAX + 1, (n,), generator=generator)
    centres = torch.arange(size) + 0.5
    for k in range(CLUTTER_MAX):
        is_dot = torch.rand(n, generator=generator) < 0.5
        start = size * torch.rand(n, 2, generator=generator)
        length = torch.where(is_dot, 0.0, _uniform(generator, n, 4 * unit, 12 * unit))
        direction = _uniform(generator, n, 0, 2 * math.pi)
        half_width = torch.where(is_dot, _uniform(generator, n, 0.8 * unit, 1.6 * unit), 0.5 * unit)
        ink = torch.rand(n, 3 if colour else 1, generator=generator).expand(n, 3)
        dx, dy = (
            (length * torch.cos(direction))[:, None, None],
            (length * torch.sin(direction))[:, None, None],
        )
        rx, ry = (
            centres - start[:, 0, None, None],
            centres[:, None] - start[:, 1, None, None],
        )  # (n, 1, S), (n, S, 1)
        # The segment's nearest point to a pixel is start + t (dx, dy), t its clamped projection.
        t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp(min=1e-12)).clamp_(0, 1)
        distance = torch.hypot(rx - t * dx, ry - t * dy)
        cover = (half_width[:, None, None] + 0.5 - distance).clamp_(0, 1) * (k < count)[:, None, None]
        images.lerp_(ink[:, :, None, None].expand_as(images), cover[:, None])


def make_shapes(
    num_images: int, image_size: int = 32, seed: int = 0, clutter: bool = True, colour: bool = True
) -> dict:
    """A seeded, procedurally generated dataset of RGB images of one shape each (SHAPE_CLASSES).

    The class is the shape alone; everything else is a random nuisance: the shape's centre, outer radius
    (0.25 to 0.45 of the image side; the whole shape lies inside the image) and rotation, its colour and
    the background colour (at L1 distance >= 0.6 in RGB, so the shape is always visible). With clutter,
    3 to 6 thin line segments and dots in random colours are drawn on the background (never over the
    shape) and Gaussian noise of std 0.03 is added everywhere. The shape is anti-aliased by 2x2
    supersampling. Vectorized over images; only its own generator is used (the global RNG is untouched),
    so the same seed gives bit-identical output. With clutter=False the same seed gives the same shapes,
    colours and masks, without the clutter and the noise. With colour=False every colour is a grey level
    (shape and background at least MIN_GREY_CONTRAST apart), still in three channels: a random colour
    identifies an image so well that SimCLR's mild colour jitter leaves it as a shortcut.

    Returns a dict with images: float32 (N, 3, S, S) in [0, 1] with S = image_size;
    labels: int64 (N,), balanced (N // 10 per class, one more for the first N % 10 classes), shuffled;
    masks: bool (N, S, S), True where the shape covers at least half the pixel;
    classes: SHAPE_CLASSES (index = label).
    """
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0; got {num_images}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8 (smaller shapes are unrecognisable); got {image_size}")
    gen = torch.Generator().manual_seed(seed)
    n, size = num_images, image_size
    labels = (torch.arange(n) % len(SHAPE_CLASSES))[torch.randperm(n, generator=gen)]
    coverage = _shape_coverage(labels, size, gen)
    background = torch.rand(n, 3 if colour else 1, generator=gen)
    foreground = _object_colours(background, gen, MIN_CONTRAST if colour else MIN_GREY_CONTRAST)
    background, foreground = background.expand(n, 3), foreground.expand(n, 3)

    images = background[:, :, None, None].expand(n, 3, size, size).clone()
    if clutter:  # drawn first, so that the shape covers it
        _draw_clutter(images, gen, colour)
    images = torch.lerp(images, foreground[:, :, None, None].expand_as(images), coverage[:, None])
    if clutter:
        images = images.add_(NOISE_STD * torch.randn(images.shape, generator=gen)).clamp_(0, 1)
    return {"images": images, "labels": labels, "masks": coverage >= 0.5, "classes": list(SHAPE_CLASSES)}


def load_shapes_splits(
    num_train: int = 5000,
    num_val: int = 500,
    num_test: int = 1000,
    image_size: int = 32,
    seed: int = 0,
    colour: bool = True,
) -> dict:
    """The shapes dataset (make_shapes, with clutter) split into train, val and test, with object masks.

    One make_shapes call generates num_train + num_val + num_test images, split in that order (the labels
    are already shuffled, so every split has about as many images of each class).

    Returns a dict with X_train, X_val, X_test: float32 (N, 3, S, S) in [0, 1] with S = image_size;
    y_train, y_val, y_test: int64 (N,); masks_train, masks_val, masks_test: bool (N, S, S), True on the
    object's pixels; classes: SHAPE_CLASSES.
    """
    if num_train < 1 or num_val < 0 or num_test < 0:
        raise ValueError(
            f"need num_train >= 1, num_val >= 0 and num_test >= 0; got num_train={num_train}, "
            f"num_val={num_val}, num_test={num_test}"
        )
    shapes = make_shapes(num_train + num_val + num_test, image_size=image_size, seed=seed, colour=colour)
    bounds = {
        "train": (0, num_train),
        "val": (num_train, num_train + num_val),
        "test": (num_train + num_val, None),
    }
    data = {"classes": shapes["classes"]}
    for split, (start, stop) in bounds.items():
        data[f"X_{split}"] = shapes["images"][start:stop]
        data[f"y_{split}"] = shapes["labels"][start:stop]
        data[f"masks_{split}"] = shapes["masks"][start:stop]
    return data


DIGIT_SCALE = 2  # each 8x8 digit is drawn 16x16 on the canvas


def make_digit_canvas(
    digits: torch.Tensor,
    labels: torch.Tensor,
    num_images: int,
    canvas_size: int = 32,
    seed: int = 0,
    clutter: bool = True,
) -> dict:
    """num_images grey canvases, each with one digit drawn from ``digits`` at a random position.

    digits: (M, 1, 8, 8) in [0, 1] with labels (M,), such as a split of load_digits_splits; each canvas
    takes a random one of them (with replacement), upsampled bilinearly to 16 x 16, and places it with
    its whole 16 x 16 square inside the canvas. The ink is white (the digit's intensity) over a black
    background; with clutter, 3 to 6 grey line segments and dots are drawn first (the digit covers them)
    and Gaussian noise of std 0.03 is added. Only its own generator is used (seeded, reproducible).

    Returns a dict with images: float32 (N, 1, S, S) in [0, 1] with S = canvas_size; labels: int64 (N,);
    masks: bool (N, S, S), True inside the tight bounding box of the digit's ink (pixels of intensity
    >= 0.5); classes: DIGIT_CLASSES.
    """
    size, glyph = canvas_size, 8 * DIGIT_SCALE
    if size < glyph:
        raise ValueError(f"canvas_size must be >= {glyph} (the drawn digit's side); got {canvas_size}")
    if (
        digits.dim() != 4
        or digits.shape[1:] != (1, 8, 8)
        or labels.shape != digits.shape[:1]
        or len(digits) == 0
    ):
        raise ValueError(
            "digits should be (M, 1, 8, 8) with M >= 1 and labels (M,); "
            f"got {tuple(digits.shape)} and {tuple(labels.shape)}"
        )
    gen = torch.Generator().manual_seed(seed)
    n = num_images
    pick = torch.randint(len(digits), (n,), generator=gen)
    ink = torch.nn.functional.interpolate(
        digits[pick], scale_factor=DIGIT_SCALE, mode="bilinear", align_corners=False
    )
    top, left = torch.randint(size - glyph + 1, (2, n), generator=gen)
    coverage = torch.zeros(n, size, size)
    rows = (top[:, None] + torch.arange(glyph))[:, :, None]  # (n, glyph, 1)
    cols = (left[:, None] + torch.arange(glyph))[:, None, :]  # (n, 1, glyph)
    coverage[torch.arange(n)[:, None, None], rows, cols] = ink[:, 0].clamp(0, 1)

    images = torch.zeros(n, 3, size, size)
    if clutter:  # drawn first, so that the digit covers it
        _draw_clutter(images, gen, colour=False)
    images = torch.lerp(images[:, :1], torch.ones(n, 1, size, size), coverage[:, None])
    if clutter:
        images = images.add_(NOISE_STD * torch.randn(images.shape, generator=gen)).clamp_(0, 1)

    inked = coverage >= 0.5
    any_rows, any_cols = inked.any(dim=2), inked.any(dim=1)  # (n, S) each
    index = torch.arange(size)

    def extent(present):  # first and last index where present, per image
        first = torch.where(present, index, size).min(dim=1).values
        last = torch.where(present, index, -1).max(dim=1).values
        return first[:, None], last[:, None]

    (r0, r1), (c0, c1) = extent(any_rows), extent(any_cols)
    masks = ((index >= r0) & (index <= r1))[:, :, None] & ((index >= c0) & (index <= c1))[:, None, :]
    return {"images": images, "labels": labels[pick].clone(), "masks": masks, "classes": list(DIGIT_CLASSES)}


def load_digit_canvas_splits(
    num_train: int = 5000, num_val: int = 500, num_test: int = 1000, canvas_size: int = 32, seed: int = 0
) -> dict:
    """Digits on cluttered canvases (make_digit_canvas), with bounding-box masks; works offline.

    Each split draws its digits from the same split of load_digits_splits (seeded by seed), so no
    handwritten digit appears in two splits; the canvases are then generated with seeds seed, seed + 1
    and seed + 2 for train, val and test.

    Returns a dict with X_train, X_val, X_test: float32 (N, 1, S, S) in [0, 1] with S = canvas_size;
    y_*: int64 (N,); masks_*: bool (N, S, S), True inside the digit's box; classes: ["0", ..., "9"].
    """
    if num_train < 1 or num_val < 0 or num_test < 0:
        raise ValueError(
            f"need num_train >= 1, num_val >= 0 and num_test >= 0; got num_train={num_train}, "
            f"num_val={num_val}, num_test={num_test}"
        )
    digits = load_digits_splits(seed=seed)
    data = {"classes": list(DIGIT_CLASSES)}
    for offset, (split, count) in enumerate((("train", num_train), ("val", num_val), ("test", num_test))):
        canvas = make_digit_canvas(
            digits[f"X_{split}"], digits[f"y_{split}"], count, canvas_size, seed + offset
        )
        data[f"X_{split}"], data[f"y_{split}"], data[f"masks_{split}"] = (
            canvas["images"],
            canvas["labels"],
            canvas["masks"],
        )
    return data
