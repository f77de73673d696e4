"""An up-front estimate of a solve's time, and the warning for a fit far beyond its data.

The estimates are deliberately simple: the interior-point method's flops per iteration
(:func:`~skconvexrelu.solvers.ipm.ipm_iteration_flops`) times a typical number of
iterations, and the first-order method's planned steps times the work of one step
(three products with ``X~`` and about 30 passes over the ``n K`` entries of ``X~ U``),
each divided by a rate of :class:`~skconvexrelu.solvers.settings.SolverChoiceSettings`.
They are meant to tell a five-second fit from a one-hour fit, not to time it.
"""

import warnings

from ._validation import available_memory_bytes

__all__ = ["LongFitWarning", "check_seed", "expected_seconds", "warn_if_long"]


class LongFitWarning(UserWarning):
    """A fit is expected to take far longer than its data size calls for."""


def first_order_step_work(program):
    """Work units of one first-order step: ``n K (d~ + 32)``."""
    o, _, P, d, m = program.shape
    return float(program.Xt.shape[0]) * o * 2 * P * m * (d + 32)


def expected_seconds(name, program, steps, choice, ipm_settings=None):
    """Seconds the solver ``name`` ("ipm", "al-fista"; None for cvxpy) is expected to
    take on ``program``; ``steps`` is the first-order method's most steps."""
    if name == "ipm":
        from .solvers.ipm import ipm_iteration_flops

        flops = ipm_iteration_flops(program, settings=ipm_settings)
        return choice.ipm_iterations * flops / choice.flops_per_second
    if name == "al-fista":
        return steps * first_order_step_work(program) / choice.work_per_second
    return None


def _advice(name):
    if name == "ipm":
        return (
            "an interior-point iteration grows with (n_arrangements * width * n_features)^2 "
            "per sample: use fewer n_arrangements or a smaller width, or the defaults "
            "(arrangements='trained', solver='auto'), which polish a trained network "
            "within a fixed budget"
        )
    return (
        "set max_iter (the first-order method plans that many steps), or use the "
        "defaults (arrangements='trained', solver='auto', max_iter=None), which polish "
        "a trained network within a fixed budget"
    )


def _far_beyond(seconds, n_samples, n_features, choice, max_time):
    """Whether ``seconds`` exceed ``choice.warn_seconds`` and ``choice.seconds_per_entry``
    per entry of the data, with no ``max_time`` below that limit."""
    limit = max(choice.warn_seconds, choice.seconds_per_entry * n_samples * n_features)
    return seconds > limit and (max_time is None or max_time > limit)


def warn_if_long(name, program, steps, choice, ipm_settings=None, max_time=None):
    """Warn (:class:`LongFitWarning`) when the solve is expected to take more than
    ``choice.warn_seconds`` and more than ``choice.seconds_per_entry`` per entry of the
    data, unless ``max_time`` already bounds it below that. Returns the estimate."""
    seconds = expected_seconds(name, program, steps, choice, ipm_settings)
    if seconds is None:
        return None
    n, d = program.Xt.shape
    if _far_beyond(seconds, n, d, choice, max_time):
        what = "interior-point method" if name == "ipm" else f"{steps} first-order steps"
        warnings.warn(
            f"This fit is expected to take about {seconds:.0f} s ({what} on {n} samples "
            f"x {d} features), far longer than data of this size call for. Set max_time "
            f"to bound it (the best point found so far is returned); or "
            f"{_advice(name)}.",
            LongFitWarning,
            stacklevel=6,
        )
    return seconds


def seed_memory_bytes(plan, n_samples, n_features, width):
    """Peak bytes of the seed network's training (an estimate): about six arrays of the
    first layer's ``rows x sub-networks x width`` activations per step, three on all
    samples for the objective recorded once a pass, and six copies of the weights
    (Adam's moments, the gradient, the best iterate)."""
    units = plan.n_subnetworks * width
    rows = plan.rows_per_step(n_samples)
    return 8 * (6 * rows * units + 3 * n_samples * units + 6 * units * n_features)


def seed_seconds(plan, n_samples, n_features, width, choice):
    """Seconds the seed network's training is expected to take: per step a forward and
    a backward pass over ``rows x sub-networks x width`` activations of ``d~`` inputs,
    and with mini-batches as much again for the objectives recorded once a pass."""
    rows = plan.rows_per_step(n_samples)
    work = plan.n_steps * rows * plan.n_subnetworks * width * (n_features + 32)
    return (1 if plan.batch_size is None else 2) * work / choice.work_per_second


def check_seed(plan, n_samples, n_features, width, choice, max_time=None):
    """Refuse a seed network that cannot fit in memory (``ValueError`` with the size and
    what to change) and warn (:class:`LongFitWarning`) when its training is expected to
    take far longer than the data call for (the rule of :func:`warn_if_long`)."""
    need = seed_memory_bytes(plan, n_samples, n_features, width)
    avail = available_memory_bytes()
    if avail is not None and need > 0.5 * avail:
        raise ValueError(
            f"The seed network of {plan.n_subnetworks} sub-networks of width {width} needs "
            f"about {need / 2**30:.3g} GiB, more than half of the {avail / 2**30:.3g} GiB "
            "available. Use fewer n_arrangements or a smaller width."
        )
    seconds = seed_seconds(plan, n_samples, n_features, width, choice)
    if _far_beyond(seconds, n_samples, n_features, choice, max_time):
        warnings.warn(
            f"This fit is expected to take about {seconds:.0f} s to train its seed network "
            f"({plan.n_subnetworks} sub-networks of width {width}, {plan.n_steps} Adam steps "
            f"on {n_samples} samples x {n_features} features), far longer than data of "
            "this size call for. Set max_time to bound it; or use fewer n_arrangements or "
            "a smaller width.",
            LongFitWarning,
            stacklevel=6,
        )
    return seconds
