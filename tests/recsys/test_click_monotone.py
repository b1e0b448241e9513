"""The click model's monotone constraints: more usual clicking never lowers the predicted click
probability, longer idleness never raises it, whatever the noise in the training data."""

import numpy as np

from recsys.click import CLICK_FEATURES, ClickModel, ClickParams


def noisy_world(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CLICK_FEATURES))).astype(np.float32)
    col = {name: j for j, name in enumerate(CLICK_FEATURES)}
    x[:, col["baseline_ctr"]] = rng.beta(1, 30, n)
    x[:, col["days_inactive"]] = rng.exponential(20, n)
    # a law that is monotone only on average, plus a bump the trees would chase
    logit = (-4 + 25 * x[:, col["baseline_ctr"]] - 0.02 * x[:, col["days_inactive"]] + 0.8 * x[:, col["mf"]]
             + 1.5 * ((x[:, col["baseline_ctr"]] > 0.05) & (x[:, col["baseline_ctr"]] < 0.06)))
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return x, y, rng.integers(0, 200, n), col


def sweep(model, x, col, name, values):
    rows = np.repeat(x[:200], len(values), axis=0)
    rows[:, col[name]] = np.tile(values, 200)
    return model.predict_raw(rows).reshape(200, len(values))


def test_the_default_constraints_hold_on_every_row():
    x, y, g, col = noisy_world()
    model = ClickModel(ClickParams(n_estimators=120, min_child_samples=50)).fit(x, y, g)
    ctr = sweep(model, x, col, "baseline_ctr", np.linspace(0.0, 0.2, 41))
    assert (np.diff(ctr, axis=1) >= -1e-9).all()
    idle = sweep(model, x, col, "days_inactive", np.linspace(0, 120, 41))
    assert (np.diff(idle, axis=1) <= 1e-9).all()
    assert (ctr[:, -1] > ctr[:, 0]).mean() > 0.9  # and the model does use the usual CTR


def test_without_constraints_the_bump_breaks_monotonicity():
    """What the constraint prevents: free trees follow the bump at CTR 0.05-0.06 back down."""
    x, y, g, col = noisy_world()
    free = ClickModel(ClickParams(n_estimators=120, min_child_samples=50, monotone=())).fit(x, y, g)
    ctr = sweep(free, x, col, "baseline_ctr", np.linspace(0.0, 0.2, 41))
    assert (np.diff(ctr, axis=1) < -1e-6).any()
