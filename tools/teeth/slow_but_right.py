"""Submissions that are right but slow, for the speed checks' tests and margins: the reference and the
alternative (correct), the mutants that only slow a timed function down, and the few below."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth import material

# {topic: {speed question: the function its check times}}
SPEED_QUESTIONS = {
    "linear_classifier": {
        "svm_vectorized_speedup": "svm_loss_vectorized",
        "softmax_vectorized_speedup": "softmax_loss_vectorized",
    },
    "cam_loss": {"make_cam": "make_cam"},
    "neural_collapse": {"etf_objective": "etf_objective"},
}

# Right but slow: each replaces one function of the reference (appended, so the definition wins).
SLOW_BUT_RIGHT = {
    "linear_classifier": {
        "svm_loss_vectorized calls svm_loss_naive": """
def svm_loss_vectorized(W, X, y, reg):
    return svm_loss_naive(W, X, y, reg)
""",
        "svm_loss_vectorized loops over the samples": """
def svm_loss_vectorized(W, X, y, reg):
    loss, dW = torch.zeros((), dtype=W.dtype), torch.zeros_like(W)
    for i in range(X.shape[0]):
        margins = (X[i] @ W - X[i] @ W[:, y[i]] + 1).clamp(min=0)
        margins[y[i]] = 0
        active = (margins > 0).to(W.dtype)
        active[y[i]] = -active.sum()
        loss += margins.sum()
        dW += torch.outer(X[i], active)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W
""",
        "softmax_loss_vectorized loops over the samples": """
def softmax_loss_vectorized(W, X, y, reg):
    loss, dW = torch.zeros((), dtype=W.dtype), torch.zeros_like(W)
    for i in range(X.shape[0]):
        scores = X[i] @ W
        probs = torch.softmax(scores, dim=0)
        loss -= torch.log_softmax(scores, dim=0)[y[i]]
        probs[y[i]] -= 1
        dW += torch.outer(X[i], probs)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W
""",
    },
    "cam_loss": {},
    "neural_collapse": {
        "etf_objective calls etf_objective_naive": """
def etf_objective(W):
    return etf_objective_naive(W)
""",
    },
}


def submissions(topic: str) -> dict[str, tuple[str, str | None]]:
    """{label: (source, the function it slows down)}: the reference and the alternative (None: correct),
    and the mistakes that are only slow."""
    hidden, reference = material(topic), reference_source(topic)
    found = {"reference": (reference, None), "written differently": (hidden.ALTERNATIVE, None)}
    for name, mutant in hidden.MUTANTS.items():
        for key, words in mutant.must_fail.items():
            if key in SPEED_QUESTIONS[topic] and "faster than" in words:
                found[f"mutant {name}"] = (mutant.source, SPEED_QUESTIONS[topic][key])
    for label, definition in SLOW_BUT_RIGHT[topic].items():
        found[label] = (reference + "\n" + definition, label.split()[0])
    return found
