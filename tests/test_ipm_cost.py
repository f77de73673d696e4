"""Tests of the interior-point method's up-front estimates
(``skconvexrelu.solvers.ipm._cost``): centrality correctors, memory and work per
iteration."""

from _programs import small_problem

from skconvexrelu.solvers.ipm import estimate_memory, ipm_iteration_flops, n_correctors
from skconvexrelu.solvers.settings import (
    IPMSettings,
    PreconditionerSettings,
    WorkingSetSettings,
)


def test_corrector_count_follows_the_cost_of_the_preconditioner():
    defaults = IPMSettings()
    assert defaults.max_correctors == 3 and defaults.few_correctors == 1
    program = small_problem(n=50, d=4, width=3)[0]  # blocks of 15: cheap next to n
    assert n_correctors(program, False, defaults) == 1
    assert n_correctors(program, True, defaults) == 3
    wide = small_problem(n=50, d=20, width=3)[0]  # blocks of 63: 63^2 >= 60 * 50
    assert n_correctors(wide, False, defaults) == 3


def test_corrector_count_follows_its_settings():
    program = small_problem(n=50, d=4, width=3)[0]  # 15^2 = 225 against ratio * 50
    assert n_correctors(program, False, IPMSettings(corrector_ratio=4.5)) == 3
    assert n_correctors(program, False, IPMSettings(corrector_ratio=4.6)) == 1
    assert n_correctors(program, True, IPMSettings(max_correctors=5)) == 5
    assert n_correctors(program, False, IPMSettings(few_correctors=2)) == 2
    # never more than max_correctors
    assert n_correctors(program, False, IPMSettings(few_correctors=4, max_correctors=2)) == 2


def test_memory_estimate_grows_with_the_program_and_shrinks_on_working_sets():
    small = small_problem(n=200, d=4, width=3, P=4)[0]
    large = small_problem(n=800, d=4, width=3, P=4)[0]
    assert estimate_memory(large) > estimate_memory(small) > 0
    # working sets keep most arrays at their rows instead of all n
    assert estimate_memory(large, n_constraints=40) < estimate_memory(large)
    # from min_n samples on the estimate counts working sets
    no_ws = IPMSettings(working_set=WorkingSetSettings(min_n=10**9))
    assert estimate_memory(large) < estimate_memory(large, settings=no_ws)
    assert estimate_memory(small) == estimate_memory(small, settings=no_ws)


def test_memory_estimate_counts_the_direct_factorization_up_to_dense_max():
    program = small_problem(n=200, d=4, width=3, P=4)[0]
    side = 2 * 4 * 3 * 5  # 2 P m d~
    within = IPMSettings(preconditioner=PreconditionerSettings(dense_max=side))
    beyond = IPMSettings(preconditioner=PreconditionerSettings(dense_max=side - 1))
    o = program.shape[0]
    with_direct = estimate_memory(program, settings=within)
    diff = with_direct - estimate_memory(program, settings=beyond)
    assert diff == (o + 1) * side * side * 8


def test_iteration_flops_grow_with_the_program_and_follow_min_n():
    small = small_problem(n=200, d=4, width=3, P=4)[0]
    large = small_problem(n=800, d=4, width=3, P=4)[0]
    assert ipm_iteration_flops(large) > ipm_iteration_flops(small) > 0
    # on working sets the constraint terms count rows of a few rounds, not n
    ws = IPMSettings(working_set=WorkingSetSettings(min_n=100))
    no_ws = IPMSettings(working_set=WorkingSetSettings(min_n=10**9))
    assert ipm_iteration_flops(large, ws) < ipm_iteration_flops(large, no_ws)
    assert ipm_iteration_flops(large, ws) == ipm_iteration_flops(large)
