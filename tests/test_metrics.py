import math

import numpy as np
import pytest

from iqlite.training.core import metrics


def test_perfect_agreement():
    h = np.array([0.5, 1.0, 2.0, 3.5, 4.5])
    m = metrics.evaluate(h, h)
    assert m["srcc"] == pytest.approx(1.0)
    assert m["plcc"] == pytest.approx(1.0)
    assert m["krcc"] == pytest.approx(1.0)
    assert m["rmse"] == 0.0 and m["mae"] == 0.0
    assert m["auc_good"] == pytest.approx(1.0)
    assert m["n"] == 5


def test_reversed_order_and_errors():
    h = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    p = h[::-1].copy()
    m = metrics.evaluate(p, h)
    assert m["srcc"] == pytest.approx(-1.0)
    assert m["krcc"] == pytest.approx(-1.0)
    assert m["rmse"] == pytest.approx(math.sqrt(np.mean((p - h) ** 2)))
    assert m["mae"] == pytest.approx(2.4)
    assert m["auc_good"] == pytest.approx(0.0)


def test_auc_counts_ties_half_and_matches_pair_counting():
    human = np.array([1.0, 2.0, 3.0, 4.0, 2.4, 2.6])
    pred = np.array([1.0, 3.0, 3.0, 2.0, 0.5, 4.0])
    good = human >= 2.5
    pairs = [(g, b) for g in pred[good] for b in pred[~good]]
    expected = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g, b in pairs) / len(pairs)
    assert metrics.auc_good_vs_bad(pred, human) == pytest.approx(expected)


def test_undefined_values_are_nan_not_zero():
    h = np.array([1.0, 2.0, 3.0])
    assert math.isnan(metrics.srcc(np.ones(3), h))
    assert math.isnan(metrics.auc_good_vs_bad(h, np.array([3.0, 4.0, 5.0])))


def test_spread_reports_percentiles():
    s = metrics.spread(np.linspace(0, 5, 101))
    assert s["p5"] == pytest.approx(0.25)
    assert s["p95"] == pytest.approx(4.75)
    assert s["min"] == 0.0 and s["max"] == 5.0


@pytest.mark.parametrize(
    "pred,human,msg",
    [([1.0, 2.0], [1.0], "differ in length"), ([1.0], [1.0], "at least two"), ([1.0, np.nan], [1.0, 2.0], "NaN")],
)
def test_bad_inputs_raise(pred, human, msg):
    with pytest.raises(ValueError, match=msg):
        metrics.evaluate(np.array(pred), np.array(human))
