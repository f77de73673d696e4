"""Small data sets bundled with skconvexrelu.

:func:`load_uci` loads one of the six UCI classification data sets of Ergen & Pilanci
(ICML 2021), Table 1, in the preprocessed form of Fernandez-Delgado et al. (JMLR 2014).
The files ship with the package (see ``data/SOURCES.md`` for their provenance).
"""

from ._uci import UCI_DATASETS, load_uci

__all__ = ["UCI_DATASETS", "load_uci"]
