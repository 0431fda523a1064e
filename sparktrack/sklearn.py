"""``sparktrack.sklearn``: log and load models of the sklearn flavor (see ``sparktrack.models.sklearn``)."""

from sparktrack.models.sklearn import load_model, log_model

__all__ = ["load_model", "log_model"]
