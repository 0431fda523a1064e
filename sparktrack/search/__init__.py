"""Search, shared by runs, experiments, registered models, model versions and feature tables: MLflow's filter
grammar parsed once (``grammar``), bound to an entity's schema (``schemas``), then evaluated on
Arrow in the driver (``arrow``) or compiled to Spark Columns (``spark``).

    query = search.bind("metrics.acc > 0.9 AND params.model = 'gbt'", ["metrics.acc DESC"], RUNS)
    rows = search.arrow.apply(candidates, query)
"""

from sparktrack.search import arrow, spark
from sparktrack.search.grammar import Comparison, Query, Target, bind, parse_filter
from sparktrack.search.schemas import (EXPERIMENTS, FEATURE_TABLES, MODEL_VERSIONS, REGISTERED_MODELS, RUNS,
                                       SearchSchema)

__all__ = ["EXPERIMENTS", "FEATURE_TABLES", "MODEL_VERSIONS", "REGISTERED_MODELS", "RUNS", "Comparison", "Query",
           "SearchSchema", "Target", "arrow", "bind", "parse_filter", "spark"]
