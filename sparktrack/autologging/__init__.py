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
    library is installed; each flavor gets the flags it takes (as ``mlflow.autolog`` does), and
    a flag no flavor takes is an error. Returns the flavors."""
    import importlib
    import inspect

    from sparktrack.errors import InvalidValueError

    functions = {flavor: importlib.import_module(module).autolog for flavor, (library, module) in FLAVORS.items()
                 if importlib.util.find_spec(library) is not None}
    accepted = {flavor: set(inspect.signature(f).parameters) for flavor, f in functions.items()}
    known = set().union(*accepted.values())
    unknown = sorted(set(flags) - known)
    if unknown and functions:  # before any flavor is changed
        raise InvalidValueError("autolog flags", unknown, f"flags of the flavors' autolog; known {sorted(known)}")
    for flavor, function in functions.items():
        function(**{k: v for k, v in flags.items() if k in accepted[flavor]})
    return list(functions)
