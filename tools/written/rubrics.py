"""The rubrics of the written questions: instructor material, kept here so that it never ships.

utils/course.py declares each written question once (its id and points) and ships to students; its
rubric lives here, keyed by (topic, question id), under tools/, which the release leaves out by
construction (tools/build/release.py copies nothing of tools/, and tests/test_written.py checks that no
rubric text is in a release). A rubric's items are what staff tick while grading; their points add up to
the question's, and tests/test_written.py fails when a question has no rubric, a rubric names no question
or the points disagree. They are where the grading page (python -m tools.written) starts: its store takes
each question's items once, and edits made on the page stay there. A rubric decides no autograded point,
so it lives apart from tools/grade/, which the repository fingerprint covers: editing it regrades nobody."""

from __future__ import annotations

from dataclasses import dataclass

from utils import course


@dataclass(frozen=True)
class RubricItem:
    points: float
    description: str  # one line, what the answer must say to earn the item


def _items(*items: tuple[float, str]) -> tuple[RubricItem, ...]:
    return tuple(RubricItem(points, description) for points, description in items)


RUBRICS: dict[tuple[str, str], tuple[RubricItem, ...]] = {
    ("linear_classifier", "gradcheck_kinks"): _items(
        (
            1,
            "Names the hinge's kink: max(0, x) is not differentiable at 0, and a margin near 0 is crossed by +-h.",
        ),
        (0.5, "Not a concern: it happens for few dimensions and rarely, not a bug in the gradient."),
        (0.5, "A 1-D example: f(x) = max(0, x) at x = 1e-6 with h = 1e-5 (numeric about 0.55, analytic 1)."),
    ),
    ("linear_classifier", "svm_weight_templates"): _items(
        (0.5, "Each class's weights look like a blurred average (template) of its images."),
        (0.5, "Why: the score is a dot product, so the weights grow where the class's pixels are bright."),
    ),
    ("linear_classifier", "softmax_initial_loss"): _items(
        (0.5, "Tiny weights give near-equal scores, so every class gets probability about 1/C."),
        (0.5, "The loss is -log(1/C) = log C per sample, so the mean is about log C."),
    ),
    ("linear_classifier", "svm_vs_softmax_new_point"): _items(
        (0.5, "Yes (true)."),
        (1, "SVM: a point whose correct score beats every other by the margin adds zero loss."),
        (0.5, "Softmax: every point adds a positive loss, since its probability is never exactly 1."),
    ),
    ("linear_classifier", "batch_max_stability"): _items(
        (
            1,
            "Subtracting one constant per row leaves softmax unchanged; the batch maximum is not each row's.",
        ),
        (0.5, "A row far below the batch maximum underflows: all its exp() are 0, the log of 0 is -inf."),
        (0.5, "Says what the cell prints then: an infinite or nan loss for that row (the batch loss inf)."),
    ),
    ("simclr", "denominator_self_pair"): _items(
        (1, "The k = i term is sim(z_i, z_i) = 1 / tau, the largest possible and constant: no information."),
        (1, "Included, it would dominate the denominator and reward nothing useful (a constant offset)."),
    ),
    ("simclr", "temperature"): _items(
        (1, "tau scales the similarities: small tau sharpens the softmax onto the hardest negatives."),
        (0.5, "As tau -> 0 the gradients grow like 1/tau and concentrate on few pairs (unstable)."),
        (0.5, "As tau grows the softmax flattens and the gradients shrink: every negative weighs alike."),
    ),
    ("simclr", "projection_head"): _items(
        (1, "The loss makes z invariant to the augmentations, so z throws away information (colour, etc.)."),
        (1, "h keeps that information, useful downstream; g absorbs the invariance the loss demands."),
    ),
    ("simclr", "colour_distortion"): _items(
        (1, "With colour, two crops of an image share a colour histogram: matching colours is a shortcut."),
        (0.5, "Colour jitter (and grey-scale conversion) would have to be stronger."),
        (0.5, "The paper: colour distortion matters most, and crops plus colour together are key."),
    ),
    ("cam_loss", "detached_classifier"): _items(
        (1, "The CAM is a target: L_cam should change the backbone's features, not the target itself."),
        (1, "Not detached, W could move its rows towards equal weights so CAM_y matches the CAAM trivially."),
    ),
    ("cam_loss", "warm_up"): _items(
        (1, "Early on, W is random: the target class's CAM is noise, not the object's location."),
        (
            1,
            "L_cam would then teach the backbone to match noise; the warm-up lets the CAMs become meaningful.",
        ),
    ),
    ("cam_loss", "caam_suppression"): _items(
        (1, "The CAAM is the sum of all channels: where the backbone's features are active, class-agnostic."),
        (1, "Pulling it to CAM_y lowers activity where y has no evidence: background and other classes."),
    ),
    ("neural_collapse", "etf_dimension"): _items(
        (1, "The C vectors sum to zero (the Gram matrix has rank C - 1), so they span at most C - 1 dims."),
        (
            1,
            "C - 1 suffices: centre the C standard basis vectors of R^C; they lie in a (C - 1)-dim subspace.",
        ),
    ),
    ("neural_collapse", "optimize_for_etf"): _items(
        (1, "When constraints or other losses come along (a target with extra terms, non-square layouts)."),
        (1, "Or as part of a network trained end to end, where the ETF is a term among others, not fixed."),
    ),
    ("neural_collapse", "minority_collapse"): _items(
        (1, "Few tail samples: the loss is dominated by the head classes, which push the tail vectors away."),
        (1, "A fixed ETF cannot move: the features must move to their fixed class vectors instead."),
    ),
}


def rubric(topic: str, question_id: str) -> tuple[RubricItem, ...]:
    """The rubric of a written question; KeyError when it has none."""
    course.by_topic(topic)  # a KeyError for a topic the course does not have
    return RUBRICS[(topic, question_id)]
