"""``sparktrack.spark``: log and load models of the spark flavor (see ``sparktrack.models.spark``)."""

from sparktrack.models.spark import load_model, log_model

__all__ = ["load_model", "log_model"]
