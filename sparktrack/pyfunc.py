"""``sparktrack.pyfunc``: log and load models of the pyfunc flavor (see ``sparktrack.models.pyfunc``)."""

from sparktrack.models.pyfunc import load_model, log_model

__all__ = ["load_model", "log_model"]
