"""An up-front estimate of a solve's time, and the warning for a fit far beyond its data.

The estimates are deliberately simple: the interior-point method's flops per iteration
(:func:`~skconvexrelu.solvers.ipm.ipm_iteration_flops`) times a typical number of
iterations, and the first-order method's planned steps times the work of one step
(three products with ``X~`` and about 30 passes over the ``n K`` entries of ``X~ U``),
each divided by a rate of :class:`~skconvexrelu.solvers.settings.SolverChoiceSettings`.
They are meant to tell a five-second fit from a one-hour fit, not to time it.
"""

import warnings

__all__ = ["LongFitWarning", "expected_seconds", "warn_if_long"]


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


def warn_if_long(name, program, steps, choice, ipm_settings=None, max_time=None):
    """Warn (:class:`LongFitWarning`) when the solve is expected to take more than
    ``choice.warn_seconds`` and more than ``choice.seconds_per_entry`` per entry of the
    data, unless ``max_time`` already bounds it below that. Returns the estimate."""
    seconds = expected_seconds(name, program, steps, choice, ipm_settings)
    if seconds is None:
        return None
    n, d = program.Xt.shape
    limit = max(choice.warn_seconds, choice.seconds_per_entry * n * d)
    if seconds > limit and (max_time is None or max_time > limit):
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
