"""The settings dataclasses of the native solvers (``skconvexrelu.solvers.settings``)."""

import dataclasses

import numpy as np
import pytest

from skconvexrelu.solvers.settings import (
    FirstOrderSettings,
    IPMSettings,
    PreconditionerSettings,
    SeedSettings,
    SolverChoiceSettings,
    WorkingSetSettings,
    settings_of,
    with_changes,
)

KINDS = [IPMSettings, FirstOrderSettings, SolverChoiceSettings, SeedSettings]


@pytest.mark.parametrize("kind", KINDS)
def test_settings_of_none_is_the_defaults(kind):
    assert settings_of(None, kind) == kind()
    assert settings_of([], kind) == kind()


def test_settings_of_picks_its_kind():
    ipm = IPMSettings(cg_maxiter=7)
    fo = FirstOrderSettings(max_iter=11)
    assert settings_of(ipm, IPMSettings) is ipm
    assert settings_of(ipm, FirstOrderSettings) == FirstOrderSettings()  # another kind
    for options in ([ipm, fo], (fo, ipm)):
        assert settings_of(options, IPMSettings) is ipm
        assert settings_of(options, FirstOrderSettings) is fo
        assert settings_of(options, SolverChoiceSettings) == SolverChoiceSettings()


@pytest.mark.parametrize("bad", [{"cg_maxiter": 7}, "ipm", WorkingSetSettings(), [3]])
def test_settings_of_rejects_other_types(bad):
    # the nested settings are not options of their own: they go inside IPMSettings
    with pytest.raises(TypeError) as exc:
        settings_of(bad, IPMSettings)
    message = str(exc.value)
    for name in ("IPMSettings", "FirstOrderSettings", "SolverChoiceSettings", "SeedSettings"):
        assert name in message
    assert "got" in message


def test_settings_of_rejects_two_of_a_kind():
    with pytest.raises(ValueError, match="two IPMSettings"):
        settings_of([IPMSettings(), FirstOrderSettings(), IPMSettings()], IPMSettings)
    # two of another kind are only an error when that kind is asked for
    two_fo = [FirstOrderSettings(), FirstOrderSettings()]
    assert settings_of(two_fo, IPMSettings) == IPMSettings()
    with pytest.raises(ValueError, match="two FirstOrderSettings"):
        settings_of(two_fo, FirstOrderSettings)


def test_with_changes_copies_with_nested_changes():
    base = IPMSettings(cg_maxiter=50)
    new = with_changes(
        base, sigma_min=0.01, working_set={"min_n": 10}, preconditioner={"dense_max": 3}
    )
    assert new.sigma_min == 0.01 and new.cg_maxiter == 50
    assert new.working_set == WorkingSetSettings(min_n=10)
    assert new.preconditioner == PreconditionerSettings(dense_max=3)
    assert base == IPMSettings(cg_maxiter=50)  # left alone
    # a settings object as a value replaces the nested one as it is
    ws = WorkingSetSettings(max_rounds=2)
    assert with_changes(base, working_set=ws).working_set is ws
    assert with_changes(base) == base


@pytest.mark.parametrize(
    "changes, name",
    [({"cg_max_iter": 3}, "'cg_max_iter'"), ({"working_set": {"minn": 1}}, "'minn'")],
)
def test_with_changes_rejects_unknown_fields(changes, name):
    with pytest.raises(TypeError, match=name):
        with_changes(IPMSettings(), **changes)


@pytest.mark.parametrize(
    "obj, field",
    [
        (IPMSettings(), "cg_maxiter"),
        (WorkingSetSettings(), "min_n"),
        (PreconditionerSettings(), "capacitance"),
        (FirstOrderSettings(), "rho"),
        (SolverChoiceSettings(), "native_size"),
        (SeedSettings(), "n_steps"),
    ],
)
def test_settings_are_frozen(obj, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, field, 1)


def test_settings_compare_and_hash_by_value():
    # frozen dataclasses: equal fields make equal, hashable settings (nested ones too)
    assert IPMSettings().working_set == WorkingSetSettings()
    assert hash(IPMSettings()) == hash(IPMSettings())


@pytest.mark.parametrize("mode", ["auto", "samples", "variables"])
def test_preconditioner_capacitance_modes(mode):
    assert PreconditionerSettings(capacitance=mode).capacitance == mode


@pytest.mark.parametrize("mode", ["sample", "Variables", None])
def test_preconditioner_rejects_a_bad_capacitance(mode):
    with pytest.raises(ValueError, match="capacitance must be"):
        PreconditionerSettings(capacitance=mode)
    with pytest.raises(ValueError, match="capacitance must be"):
        with_changes(IPMSettings(), preconditioner={"capacitance": mode})


def test_settings_of_picks_seed_settings_among_others():
    seed = SeedSettings(n_steps=7)
    assert settings_of(seed, SeedSettings) is seed
    assert settings_of([IPMSettings(), seed], SeedSettings) is seed
    assert settings_of([IPMSettings()], SeedSettings) == SeedSettings()
    assert settings_of(seed, IPMSettings) == IPMSettings()


def _fit(solver_options):
    from sklearn.preprocessing import StandardScaler

    from skconvexrelu import ConvexThreeLayerRegressor

    rng = np.random.default_rng(0)
    X = StandardScaler().fit_transform(rng.standard_normal((30, 2)))
    y = np.sin(2 * X[:, 0])
    est = ConvexThreeLayerRegressor(width=3, n_arrangements=4, random_state=0)
    return est.set_params(solver_options=solver_options).fit(X, y)


def test_estimators_take_seed_settings_alone_or_in_a_list():
    short = SeedSettings(n_steps=5)
    alone = _fit(short)
    listed = _fit([short, FirstOrderSettings(), SolverChoiceSettings()])
    assert listed.objective_ == alone.objective_
    assert listed.nonconvex_objective_ == alone.nonconvex_objective_
    # the settings reach the seed network: 5 Adam steps leave it worse than the default
    assert alone.nonconvex_objective_ > _fit(None).nonconvex_objective_


@pytest.mark.parametrize("bad", [{"n_steps": 5}, [SeedSettings(), "seed"]])
def test_estimators_reject_other_solver_options(bad):
    with pytest.raises(TypeError, match="SeedSettings"):
        _fit(bad)
