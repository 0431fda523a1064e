"""Autologging: ``fit`` tracked without logging calls, with MLflow's names and flags.

    import sparktrack
    sparktrack.autolog()                 # every supported flavor whose library is installed
    sparktrack.sklearn.autolog(log_input_examples=True)

Supported: scikit-learn (``sparktrack.autologging.sklearn``) and Spark ML
(``sparktrack.autologging.spark``). Each flavor module patches its
library's fit methods through ``safety``, which can put them all back (``disable=True``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

#: flavor -> (the library it patches, the module that does it)
FLAVORS = {"sklearn": ("sklearn", "sparktrack.autologging.sklearn"),
           "spark": ("pyspark", "sparktrack.autologging.spark")}


def autolog(**flags: Any) -> list[str]:
    """Turn autologging on (or, with ``disable=True``, off) for every supported flavor whose
    library is installed, with the same flags; returns those flavors."""
    import importlib

    turned = []
    for flavor, (library, module) in FLAVORS.items():
        if importlib.util.find_spec(library) is None:
            continue
        importlib.import_module(module).autolog(**flags)
        turned.append(flavor)
    return turned
