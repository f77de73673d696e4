"""Settings of the native solvers, as declared dataclasses.

Every tuning knob of the interior-point method, its working sets of constraints, its
preconditioner, the first-order method, the seed network and the automatic solver choice
is a field here, with its default and what it controls. The estimators take them through
their ``solver_options`` parameter::

    from skconvexrelu import ConvexThreeLayerRegressor
    from skconvexrelu.solvers.settings import IPMSettings, WorkingSetSettings

    reg = ConvexThreeLayerRegressor(
        solver="ipm",
        solver_options=IPMSettings(working_set=WorkingSetSettings(min_n=1000)),
    )

A solver given no settings of its own kind uses the defaults. The measurements behind
the defaults are in ``benchmarks/`` (``benchmarks/README.md``).
"""

import math
from dataclasses import dataclass, field, fields, replace

__all__ = [
    "DaskSettings",
    "FirstOrderSettings",
    "IPMSettings",
    "PreconditionerSettings",
    "SeedSettings",
    "SolverChoiceSettings",
    "WorkingSetSettings",
    "settings_of",
]


#: the precisions and sign rules the first-order settings accept
_DTYPES = (None, "float32", "float64")
_SIGNS = ("both", "start")


@dataclass(frozen=True)
class WorkingSetSettings:
    """Per-neuron working sets of cone constraints (interior-point method).

    At the optimum only a few of the ``n`` cone constraints of each column are active;
    from ``min_n`` samples on each column (block) keeps its own working set, which grows
    inside the run (``grow_in_run``) or by rounds that restart the barrier.

    Attributes
    ----------
    min_n : int, default=400
        From this many samples on the cone constraints go through working sets.
    first_rows, second_rows : int, default=4, 1
        Rows of the first working set per column (times ``d~``) and per block (times
        ``m d~``), chosen as the likeliest facets of each cone.
    small_n, first_rows_small : int, default=700, 1
        Below ``small_n`` samples the first set keeps ``first_rows_small * d~`` rows per
        column (a smaller start leaves a smaller final set there).
    add_first, add_second : int, default=2, 1
        At most this many rows per column (times ``d~``) and per block (times ``m d~``)
        join per round.
    max_rounds : int, default=20
        At most this many rounds (each an interior-point solve, warm started).
    near : float, default=1e-3
        Constraints with a slack below this (relative to ``max |X~ u_j|``) join with the
        violated ones.
    round_tol : float, default=0.1
        Relative gap at which the rounds before the last stop (the next round restarts the
        barrier anyway).
    warm_slack : float, default=0.05
        A warm start's slacks are at least this fraction of its worst violation.
    grow_in_run : bool, default=True
        Grow the working set inside one interior-point run (no barrier restart) up to the
        sizes below; larger programs go by rounds.
    grow_max_n, grow_max_n_nonsmooth, grow_max_n_curved : int or None
        Largest number of samples for growth inside the run for losses of constant
        curvature (squared, 6000), non-smooth losses (hinge, 12000) and curved smooth
        losses (cross-entropy, None: every size).
    grow_every : int, default=2
        Iterations between two growths inside a run.
    grow_slack : float, default=1e-3
        Joining constraints get slacks of at least this times ``max |X~ u|``.
    grow_fraction : float, default=0.25
        Fraction of a round's quota that joins at each growth.
    pilot_min_n : int, default=6000
        From this many samples on, the first working set comes from a pilot solve.
    pilot_fraction : float, default=0.125
        Fraction of the samples the pilot solves on.
    pilot_tol : float, default=1e-3
        Tolerance of the pilot solve.
    pilot_grow_fraction : float, default=0.5
        After a pilot, the growth quota (instead of ``grow_fraction``).
    pilot_add_fraction, pilot_add_fraction_curved : float, default=1.0, 12.0
        Quotas of the rows the pilot's point violates that join the first working set
        (curved smooth losses grow in the run at every size and take many up front).
    """

    min_n: int = 400
    first_rows: int = 4
    second_rows: int = 1
    small_n: int = 700
    first_rows_small: int = 1
    add_first: int = 2
    add_second: int = 1
    max_rounds: int = 20
    near: float = 1e-3
    round_tol: float = 1e-1
    warm_slack: float = 0.05
    grow_in_run: bool = True
    grow_max_n: int | None = 6000
    grow_max_n_nonsmooth: int | None = 12000
    grow_max_n_curved: int | None = None
    grow_every: int = 2
    grow_slack: float = 1e-3
    grow_fraction: float = 0.25
    pilot_min_n: int = 6000
    pilot_fraction: float = 0.125
    pilot_tol: float = 1e-3
    pilot_grow_fraction: float = 0.5
    pilot_add_fraction: float = 1.0
    pilot_add_fraction_curved: float = 12.0

    def grows_in_run(self, loss, n_samples):
        """Whether a working set on ``n_samples`` grows inside the run for ``loss``."""
        if not self.grow_in_run:
            return False
        if not loss.smooth:
            cap = self.grow_max_n_nonsmooth
        elif loss.constant_curvature:
            cap = self.grow_max_n
        else:
            cap = self.grow_max_n_curved
        return cap is None or n_samples <= cap

    def pilot_quota(self, loss):
        """Round quotas of the pilot's violated rows that join the first working set."""
        curved = loss.smooth and not loss.constant_curvature
        return self.pilot_add_fraction_curved if curved else self.pilot_add_fraction


@dataclass(frozen=True)
class PreconditionerSettings:
    """The interior-point method's preconditioner (exact inverse of the Newton matrix).

    Attributes
    ----------
    capacitance : {"auto", "samples", "variables"}, default="auto"
        Where the Woodbury capacitance matrix of the loss term lives: ``n x n`` (sample
        space) or ``P m d~`` square (variable space); "auto" takes the cheaper by
        :func:`~skconvexrelu.solvers.ipm.capacitance_costs`.
    cholesky_cost : float, default=4.0
        Cost of a Cholesky flop in matrix-product flops, for that choice.
    rows_cache_bytes : int, default=256 MiB
        The unweighted loss rows ``(P, n, m d~)`` are cached up to this size.
    coupled_samples_max, coupled_variables_max : int, default=4000, 8000
        The softmax's coupled capacitance lives in sample space up to this many rows
        (``n o``), else in variable space up to this many (``o P m d~``).
    deflate_max_entries : int, default=10_000_000
        The coarse space (exact Newton matrix on the columns' radial directions) is left
        out beyond this many entries per dense array.
    dense_max : int, default=6000
        Late iterations may factor one output's Newton matrix (side ``2 P m d~``)
        directly up to this side.
    """

    capacitance: str = "auto"
    cholesky_cost: float = 4.0
    rows_cache_bytes: int = 256 * 2**20
    coupled_samples_max: int = 4000
    coupled_variables_max: int = 8000
    deflate_max_entries: int = 10_000_000
    dense_max: int = 6000

    def __post_init__(self):
        if self.capacitance not in ("auto", "samples", "variables"):
            raise ValueError(
                "capacitance must be 'auto', 'samples' or 'variables'; "
                f"got {self.capacitance!r}."
            )


@dataclass(frozen=True)
class IPMSettings:
    """The structured primal-dual interior-point method (``solver="ipm"``).

    Attributes
    ----------
    sigma_min : float, default=1e-3
        Smallest centering parameter of the Mehrotra corrector.
    max_correctors, few_correctors : int, default=3, 1
        Gondzio centrality correctors per iteration: ``max_correctors`` where the
        preconditioner costs many Newton solves (working sets, or
        ``(m d~)^2 >= corrector_ratio * n``), else ``few_correctors``.
    corrector_ratio : float, default=60
        See ``max_correctors``.
    reuse_jtr : bool, default=True
        Squared loss on working sets: the certificate's ``J^T r`` also gives the KKT
        residual and the Newton right-hand side (one pass over the data, not three).
    gram_float32 : bool, default=True
        Curved smooth losses (cross-entropy): form the loss-curvature Gram matrix by
        float32 products while the certified gap is above ``gram_float32_gap``.
    gram_float32_gap : float, default=1e-4
        See ``gram_float32``.
    prec_loss_products : bool, default=True
        On working sets, conjugate gradients apply the loss Hessian through the
        preconditioner's Gram matrices when it has them (no pass over the data).
    cg_maxiter : int, default=200
        Conjugate-gradient steps per Newton solve (a quarter of it on large systems).
    deflate_after_cg : float, default=5
        Add the preconditioner's coarse space from the first iteration whose solves
        needed more than this many CG steps each on average.
    cg_fail_patience : int, default=5
        Stop ("stalled") after this many iterations in a row whose solves hit the CG cap
        without a better iterate.
    dense_after_cg : float, default=25
        With the coarse space in use, factor the Newton matrix directly from the first
        iteration whose solves needed this many CG steps each (or hit the cap).
    dense_cg_rtol : float, default=1e-12
        CG tolerance with the direct factorization.
    working_set : WorkingSetSettings
    preconditioner : PreconditionerSettings
    """

    sigma_min: float = 1e-3
    max_correctors: int = 3
    few_correctors: int = 1
    corrector_ratio: float = 60
    reuse_jtr: bool = True
    gram_float32: bool = True
    gram_float32_gap: float = 1e-4
    prec_loss_products: bool = True
    cg_maxiter: int = 200
    deflate_after_cg: float = 5
    cg_fail_patience: int = 5
    dense_after_cg: float = 25
    dense_cg_rtol: float = 1e-12
    working_set: WorkingSetSettings = field(default_factory=WorkingSetSettings)
    preconditioner: PreconditionerSettings = field(default_factory=PreconditionerSettings)


@dataclass(frozen=True)
class FirstOrderSettings:
    """The augmented-Lagrangian first-order method (``solver="al-fista"``).

    Attributes
    ----------
    max_iter : int, default=20000
        Inner (FISTA) steps when the estimator's ``max_iter`` is None ...
    work_cap : float, default=7.5e12
        ... unless that many steps exceed this many floating-point operations (each costs
        ``4 n d~ (o 2 P m)``); on an accelerator the cap does not apply.
    rho : float, default=10.0
        Penalty relative to the loss's curvature bound.
    rho_nonsmooth : float, default=3.0
        Penalty for non-smooth losses (hinge).
    rho_envelope : float, default=1.0
        Curvature of a non-smooth loss's Moreau envelope relative to the sample weight.
    inner_min, inner_max : int, default=10, 100
        Inner steps per multiplier update: at least, at most.
    inner_tol0, inner_decay : float, default=1.0, 0.5
        Inner stopping threshold (stationarity relative to ``beta``) and its factor at
        every outer iteration.
    stall_outer, stall_iters : int, default=30, 10000
        Stop ("stalled") after this many outer iterations and inner steps without a 10%
        improvement of the stopping criterion.
    chunk_elements : int, default=2**18
        Entries of ``X~ U`` per chunk of samples on a CPU (temporaries stay in cache).
    dtype : {None, "float32", "float64"}, default=None
        Precision of the method's arrays: None is the program's (that of ``X``).
        ``"float32"`` halves the memory traffic of every step; ``tol`` is then floored
        at 1e-3. The returned point and its objective are in the program's precision.
    signs : {"both", "start"}, default="both"
        ``"start"`` keeps, for each output and configuration, only the output sign
        whose block is the larger at the starting point (the warm start): the other
        block stays zero, the method works on half the columns, and the stopping
        criterion still certifies the whole program (the dual columns of the blocks
        held at zero are checked too). Without a starting point both signs are kept.
    """

    max_iter: int = 20000
    work_cap: float = 7.5e12
    rho: float = 10.0
    rho_nonsmooth: float = 3.0
    rho_envelope: float = 1.0
    inner_min: int = 10
    inner_max: int = 100
    inner_tol0: float = 1.0
    inner_decay: float = 0.5
    stall_outer: int = 30
    stall_iters: int = 10000
    chunk_elements: int = 2**18
    dtype: str | None = None
    signs: str = "both"

    def __post_init__(self):
        _check_choice("FirstOrderSettings.dtype", self.dtype, _DTYPES)
        _check_choice("FirstOrderSettings.signs", self.signs, _SIGNS)


@dataclass(frozen=True)
class SolverChoiceSettings:
    """How ``solver="auto"`` and ``solver="native"`` choose, and when "auto" falls back.

    Attributes
    ----------
    native_size : float, default=1_000_000
        Above this many samples x variables ``"auto"`` uses the native solvers (below,
        Clarabel is fast and robust); curved smooth losses (cross-entropy) use them at
        every size.
    ipm_max_flops : float, default=1e11
        Largest estimated cost of one interior-point iteration for which ``"native"``
        picks the interior-point method (about 2 s on 2 cores), else the first-order one.
    fallback_max_size : float, default=10_000_000
        ``"auto"`` solves with cvxpy after a numerical failure of the native solver only
        up to this size (samples x variables); beyond, the fit raises ``SolverError``.
    fallback_criterion : float, default=1e-3
        ``"auto"`` solves again with cvxpy when the native solver stalled above this
        stopping criterion on a program small enough for cvxpy.
    warn_seconds : float, default=60
        A fit whose solve is expected to take longer than this, and longer than
        ``seconds_per_entry`` per entry of the data, warns before it starts
        (:class:`~skconvexrelu.LongFitWarning`, with the parameter to change) unless
        ``max_time`` bounds it.
    seconds_per_entry : float, default=1e-5
        See ``warn_seconds``: 10 s per million entries (the default fit of a million
        rows of 50 features takes about half that).
    flops_per_second : float, default=2.5e10
        Rate of the interior-point method's dense linear algebra in that estimate.
    ipm_iterations : int, default=40
        Typical interior-point iterations to ``tol``, in that estimate.
    work_per_second : float, default=5e9
        First-order work units ``n K (d~ + 32)`` per second, in that estimate (see
        ``SeedSettings.polish_work``).
    """

    native_size: float = 1_000_000
    ipm_max_flops: float = 1e11
    fallback_max_size: float = 10_000_000
    fallback_criterion: float = 1e-3
    warn_seconds: float = 60.0
    seconds_per_entry: float = 1e-5
    flops_per_second: float = 2.5e10
    ipm_iterations: int = 40
    work_per_second: float = 5e9


@dataclass(frozen=True)
class SeedSettings:
    """The seed network of ``arrangements="trained"`` and the convex solve that follows.

    Attributes
    ----------
    n_steps : int, default=500
        Adam steps of the seed network (``n_arrangements`` sub-networks): at least this
        many, ...
    n_epochs : int, default=60
        ... or this many passes over the data in mini-batches of ``batch_size`` samples
        when that is more steps (more samples than ``batch_size``): on large tables a
        pass of mini-batch steps lowers the objective more than one full-batch step.
    max_steps : int, default=20000
        At most this many mini-batch steps: on large tables the seed makes fewer than
        ``n_epochs`` passes (5 over a million rows), so its cost stops growing with the
        number of samples.
    batch_size : int, default=256
        Samples per Adam step; full batches up to that many samples.
    learning_rate : float, default=1e-2
        Adam's step size for the seed network.
    decay : bool, default=True
        When the passes over the data set the number of steps (``n_epochs`` times the
        mini-batches per pass above ``n_steps``: from about 2,100 samples on), the step
        size falls along a cosine to 1% of ``learning_rate`` over the run, so that the
        last mini-batch steps settle.
    polish_steps : int, default=200
        With ``solver="auto"`` and ``max_iter=None``: steps of the first-order method
        from the seed network's point of the convex program (each about the cost of
        one Adam step). It stops earlier when the relative duality gap reaches ``tol``;
        the returned network is never worse than the seed. No steps when the program
        holds fewer configurations than the targets have outputs (four classes or more
        at the default ``max_output_blocks``): it cannot hold the seed network then, and
        the fit is the seed network.
    polish_work : float, default=1e12
        On very large programs at most ``polish_work / (n K (d~ + 32))`` of those steps
        (at least 10): a step makes three products with ``X~`` (``n d~ K`` multiply-adds
        each, ``K = n_outputs * 2 * P * m`` columns of the program, of which the polish
        works on half, see ``polish_signs``) and about 30 passes over the ``n K``
        entries of ``X~ U``. At the default ``width`` and ``n_arrangements`` a
        million rows of 50 features get 60 steps, 60,000 rows of 784 features 101, and
        tables of up to 100,000 rows of 100 features all 200.
    polish_dtype : {"float32", None}, default="float32"
        Precision of those steps (``FirstOrderSettings.dtype`` when that is set; None:
        that of ``X``). The polish stops far above single precision's rounding (its
        relative duality gap is about 0.1 after 200 steps), and its point is then
        evaluated, rebuilt and compared with the seed in the data's precision.
    polish_signs : {"start", "both"}, default="start"
        ``FirstOrderSettings.signs`` of the steps from the seed network (when that is
        left at "both"): each sub-network of the seed is one configuration with one
        output sign, and the polish keeps that sign, on half the columns of the
        program (the other sign's blocks stay zero; the stopping criterion is still the
        whole program's). A fit from a previous solution (``warm_steps``) and a round
        of column generation keep both signs: at another ``beta``, or for the
        configurations a round adds, the other sign may be needed.
    warm_steps : int, default=50
        The same budget for a fit that starts from the previous solution
        (``warm_start=True``, e.g. the CV estimators' path of ``beta``).
    max_output_blocks : int, default=10
        Several outputs (multi-class): at most this many configurations times outputs,
        so that a step's cost does not grow with the number of classes (at least one
        configuration per output is kept).
    auto_beta : float, default=0.4
        ``beta="auto"`` is ``auto_beta / sqrt(n_eff)``, ``n_eff = 1 / sum_i w_i^2`` the
        effective number of samples (``n`` for equal weights): the weight decay falls
        like the statistical noise of a mean over the samples, ...
    auto_beta_rows : float, default=1000
        ... up to this many samples, and beyond them like ``1 / n_eff`` (continuous at
        ``auto_beta_rows``): a fixed weight decay on the summed loss, as in
        scikit-learn's MLP, so that large tables are not over-regularized.
    """

    def auto_beta_for(self, n_eff):
        """``beta="auto"`` for ``n_eff`` effective samples."""
        n_eff = float(n_eff)
        knee = float(self.auto_beta_rows)
        if n_eff <= knee:
            return self.auto_beta / math.sqrt(n_eff)
        return self.auto_beta * math.sqrt(knee) / n_eff

    n_steps: int = 500
    n_epochs: int = 60
    max_steps: int = 20_000
    batch_size: int = 256
    learning_rate: float = 1e-2
    decay: bool = True
    polish_steps: int = 200
    polish_work: float = 1e12
    polish_dtype: str | None = "float32"
    polish_signs: str = "start"
    warm_steps: int = 50
    max_output_blocks: int = 10
    auto_beta: float = 0.4
    auto_beta_rows: float = 1000

    def __post_init__(self):
        _check_choice("SeedSettings.polish_dtype", self.polish_dtype, _DTYPES)
        _check_choice("SeedSettings.polish_signs", self.polish_signs, _SIGNS)


@dataclass(frozen=True)
class DaskSettings:
    """A fit on a Dask array (rows in chunks, see the user guide's "Data larger than
    memory").

    Attributes
    ----------
    sample_rows : int, default=100000
        The seed network (``arrangements="trained"``) and the random configurations are
        made on at most this many rows, drawn at random and brought to the client: the
        only rows of ``X`` that leave the workers. With fewer rows in all, every row is
        used, and the fit is the in-memory fit of the same data.
    block_elements : int, default=2**19
        Entries of ``X~ U`` per slice of a block inside a task: the task's temporaries
        are a few arrays of this size, whatever the chunks of ``X``.
    """

    sample_rows: int = 100_000
    block_elements: int = 2**19

    def __post_init__(self):
        for name in ("sample_rows", "block_elements"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(
                    f"DaskSettings.{name} must be a positive integer, got {value!r}."
                )


def _check_choice(name, value, choices):
    """``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        *head, last = (repr(c) for c in choices)
        raise ValueError(f"{name} must be {', '.join(head)} or {last}; got {value!r}.")


_KINDS = (IPMSettings, FirstOrderSettings, SolverChoiceSettings, SeedSettings, DaskSettings)


def settings_of(options, kind):
    """The settings of class ``kind`` among ``options`` (a settings object, a sequence
    of them, or None), or ``kind()`` when there are none.

    Raises ``TypeError`` for anything that is not one of the settings classes.
    """
    if options is None:
        return kind()
    items = options if isinstance(options, (list, tuple)) else (options,)
    found = None
    for item in items:
        if not isinstance(item, _KINDS):
            raise TypeError(
                "solver_options must be IPMSettings, FirstOrderSettings, "
                "SolverChoiceSettings, SeedSettings, DaskSettings or a list of them "
                "(skconvexrelu.solvers.settings); "
                f"got {type(item).__name__}."
            )
        if isinstance(item, kind):
            if found is not None:
                raise ValueError(f"solver_options holds two {kind.__name__} objects.")
            found = item
    return kind() if found is None else found


def with_changes(settings, **changes):
    """A copy of ``settings`` with ``changes`` (nested: ``working_set={"min_n": 10}``)."""
    out = {}
    names = {f.name for f in fields(settings)}
    for key, value in changes.items():
        if key not in names:
            raise TypeError(f"{type(settings).__name__} has no setting {key!r}.")
        if isinstance(value, dict):
            value = with_changes(getattr(settings, key), **value)
        out[key] = value
    return replace(settings, **out)
