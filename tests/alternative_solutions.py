"""Correct solutions written differently from the reference (another vectorization, library calls where the
reference does the arithmetic, another construction): graders must give them full marks.

Each replaces the solution region (between `### BEGIN SOLUTION` and `### END SOLUTION`) of some functions
of the reference module; the code after a region uses the same variable names.
"""

from __future__ import annotations

import re
import textwrap

from autograde_cases import ASSIGNMENTS


def rewrite(source: str, function: str, body: str) -> str:
    """source with the solution region of function (top level or a method) replaced by body."""
    start = re.search(rf"\n(\s*)def {function}\(", source)
    assert start, f"no function {function}"
    region = re.compile(r"( *)### BEGIN SOLUTION\n.*?\1### END SOLUTION\n", re.DOTALL).search(
        source, start.end()
    )
    indent = region.group(1)
    replacement = f"{indent}### BEGIN SOLUTION\n{textwrap.indent(textwrap.dedent(body).strip(), indent)}\n{indent}### END SOLUTION\n"
    return source[: region.start()] + replacement + source[region.end() :]


def _apply(topic: str, bodies: dict[str, str]) -> str:
    source = ASSIGNMENTS[topic].solution
    for function, body in bodies.items():
        source = rewrite(source, function, body)
    return source


ALTERNATIVES = {
    "linear_classifier": _apply(
        "linear_classifier",
        {
            "svm_loss_vectorized": """
            one_hot = torch.nn.functional.one_hot(y, W.shape[1]).to(X.dtype)
            scores = X @ W
            margins = torch.relu(scores - scores.gather(1, y[:, None]) + 1) * (1 - one_hot)
            loss = margins.sum() / X.shape[0] + reg * (W ** 2).sum()
            active = (margins > 0).to(X.dtype)
            dW = X.t() @ (active - one_hot * active.sum(dim=1, keepdim=True)) / X.shape[0] + 2 * reg * W
        """,
            "softmax_loss_vectorized": """
            one_hot = torch.nn.functional.one_hot(y, W.shape[1]).to(X.dtype)
            log_probs = torch.log_softmax(X @ W, dim=1)
            loss = -(log_probs * one_hot).sum() / X.shape[0] + reg * (W ** 2).sum()
            dW = X.t() @ (log_probs.exp() - one_hot) / X.shape[0] + 2 * reg * W
        """,
            "predict_linear_classifier": "y_pred = torch.max(X @ W, dim=1).indices",
        },
    ),
    "simclr": _apply(
        "simclr",
        {
            "sim": "norm_dot_product = F.cosine_similarity(z_i, z_j, dim=0)",
            "compute_sim_matrix": "sim_matrix = F.cosine_similarity(out[:, None, :], out[None, :, :], dim=2)",
            "simclr_loss_vectorized": """
            out = torch.cat([out_left, out_right]).to(torch.promote_types(out_left.dtype, torch.float32))
            self_pairs = torch.eye(2 * N, dtype=torch.bool, device=out.device)
            logits = (compute_sim_matrix(out) / tau).masked_fill(self_pairs, float("-inf"))
            targets = torch.cat([torch.arange(N, 2 * N), torch.arange(N)]).to(out.device)
            loss = F.cross_entropy(logits, targets)
        """,
        },
    ),
    "cam_loss": _apply(
        "cam_loss",
        {
            "make_cam": 'cams = torch.einsum("bk,bkhw->bhw", fc_weight[labels], feature_map)',
            "min_max_normalize": """
            low, high = maps.amin(dim=(1, 2), keepdim=True), maps.amax(dim=(1, 2), keepdim=True)
            normalized = (maps - low) / (high - low + eps)
        """,
        },
    ),
    "neural_collapse": _apply(
        "neural_collapse",
        {
            "etf_objective": """
            W_ = W.detach().requires_grad_(True)
            gram = W_.t() @ W_
            target = torch.full_like(gram, -1 / (W.shape[1] - 1)).fill_diagonal_(1)
            loss = ((gram - target) ** 2).sum()
            (grad,) = torch.autograd.grad(loss, W_)
            loss = loss.detach()
        """,
            "simplex_etf": """
            # An orthonormal (D, C - 1) basis times the Helmert basis: W^T W = C/(C-1) H H^T, for every D >= C - 1.
            P, _ = torch.linalg.qr(torch.randn(D, C - 1, generator=generator, dtype=torch.float64))
            W = math.sqrt(C / (C - 1)) * P @ _helmert_basis(C, torch.float64, "cpu").t()
        """,
            "dot_regression_loss": """
            cosine = F.cosine_similarity(features, weight.t()[labels], dim=1)
            loss = ((1 - cosine) ** 2).mean() / 2
        """,
        },
    ),
}
