"""scripts/fit_router.py: the threshold of mode auto, chosen from two evaluation runs."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def fit_router():
    spec = importlib.util.spec_from_file_location("fit_router", os.path.join(ROOT, "scripts", "fit_router.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_choose_reasons_on_the_fewest_queries_that_keep_the_quality(fit_router):
    # query -> (metric, best direct score). Reasoning helps the two unsure queries (a, b) and
    # hurts the sure one (d); c is the same either way.
    reason = {"a": (1.0, 0.0), "b": (0.8, 0.0), "c": (0.5, 0.0), "d": (0.6, 0.0)}
    direct = {"a": (0.0, 0.40), "b": (0.2, 0.50), "c": (0.5, 0.60), "d": (0.9, 0.90)}
    threshold, curve = fit_router.choose(reason, direct, keep=1.0)
    # Reasoning below 0.6 (on a and b) gives (1.0 + 0.8 + 0.5 + 0.9) / 4 = 0.8, above always
    # reasoning's 0.725 with half the queries; reasoning on a alone gives 0.65, too little.
    assert threshold == 0.60  # a query reasons when its best direct score is below the threshold
    chosen = next(c for c in curve if c[0] == threshold)
    assert chosen[1] == 0.5 and chosen[2] == pytest.approx(0.8)
    # A looser target (0.85 x 0.725) is met reasoning on a alone: 0.65.
    assert fit_router.choose(reason, direct, keep=0.85)[0] == 0.50
    # When direct is worse on every query, only always reasoning keeps the quality.
    flat = {q: (0.5, 0.0) for q in reason}
    assert fit_router.choose(flat, {q: (0.1, s) for q, (_, s) in direct.items()}, keep=1.0)[0] == float("inf")


def test_max_share_picks_the_best_quality_within_the_reasoning_budget(fit_router):
    reason = {"a": (1.0, 0.0), "b": (0.8, 0.0), "c": (0.5, 0.0), "d": (0.6, 0.0)}
    direct = {"a": (0.0, 0.40), "b": (0.2, 0.50), "c": (0.5, 0.60), "d": (0.9, 0.90)}
    # Within half the queries the best is reasoning on a and b (0.8); reasoning on c too gives the
    # same 0.8 with more reasoning, so the budget rule stops at 0.60, not at 0.90.
    assert fit_router.choose(reason, direct, max_share=0.5)[0] == 0.60
    assert fit_router.choose(reason, direct, max_share=0.75)[0] == 0.60
    # With a budget of one query: a alone (0.65).
    assert fit_router.choose(reason, direct, max_share=0.25)[0] == 0.50
    # No budget: always direct (the threshold below every score).
    assert fit_router.choose(reason, direct, max_share=0.0)[0] == 0.40


def test_keep_and_max_share_are_refused_together(fit_router, capsys):
    # Two rules at once would leave one of them silently ignored.
    with pytest.raises(SystemExit) as exit_info:
        fit_router.main(["--lrem", "lrem", "--model", "m", "--data", "d", "--out", "o",
                         "--keep", "0.9", "--max-share", "0.5"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
