"""Batch scoring into Delta prediction tables.

    from sparktrack.scoring import batch_score
    batch_score("models:/churn@Champion", "/data/customers", "/data/churn_predictions",
                id_cols=["customer_id"])

Each prediction row carries lineage columns (``LINEAGE_COLUMNS``): the registered model's name and
version, the run that trained it, the batch id and when the batch was scored. A batch replaces its
own earlier rows, so re-running it never duplicates.
"""

from sparktrack.scoring.batch import (
    LINEAGE_COLUMNS,
    MODES,
    ScoreResult,
    batch_score,
    prepare_batch,
    write_batch,
)

__all__ = ["LINEAGE_COLUMNS", "MODES", "ScoreResult", "batch_score", "prepare_batch", "write_batch"]
