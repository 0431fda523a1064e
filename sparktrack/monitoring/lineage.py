"""The baseline by lineage: for each model version a monitored table's rows name, the data that
version was trained on, read at the Delta version its run recorded, with the features its
feature spec looks up read at the versions the spec recorded. No configuration: the registry
and the run's inputs hold all of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from sparktrack.errors import InvalidValueError, NotFoundError
from sparktrack.tracking.datasets import TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparktrack.client import SparkTrackClient

TRAINING_CONTEXT = "training"


class LineageError(NotFoundError):
    """A model version whose training data cannot be found (no such version, no Delta input)."""


@dataclass(frozen=True)
class TrainingData:
    """Where one model version's training data is: the table, its Delta version, and the feature
    spec (a dict, as the model's descriptor holds it) whose lookups complete it."""

    model_name: str
    model_version: str
    source: str
    delta_version: int
    feature_spec: dict[str, Any] | None

    @property
    def pinned(self) -> dict[str, Any]:
        """What a refresh records to tell that the baseline has not changed."""
        tables = {} if self.feature_spec is None else {
            lookup["table_name"]: lookup["delta_version"] for lookup in self.feature_spec["lookups"]}
        return {"source": self.source, "delta_version": self.delta_version, "feature_tables": tables}


def training_data(client: SparkTrackClient, name: str, version: str) -> TrainingData:
    """The training data of model ``name`` version ``version``: the run's Delta input logged
    with context ``training`` (the jobs, autologging and FeatureEngineeringClient.log_model log
    it so), and the model's feature spec."""
    from sparktrack.models.uris import locate

    where = f"model {name} version {version}"
    try:
        located = locate(f"models:/{name}/{version}", client)
    except NotFoundError as error:
        raise LineageError(f"The monitored table names {where}, which the registry of {client.store_root} "
                           f"cannot load ({error}); pass baseline= to compare with a table instead.") from None
    run_id = located.descriptor.run_id
    inputs = [d for d in client.get_run_inputs(run_id) if d.context == TRAINING_CONTEXT] if run_id else []
    delta = [d for d in inputs if d.source_type == "delta" and d.delta_version is not None]
    if not delta:
        raise LineageError(
            f"The run {run_id} of {where} logged no Delta table as its training input (inputs with "
            f"context 'training': {[d.source for d in inputs]}), so there is no baseline by lineage; log it "
            f"with log_input(dataset, context='training'), or pass baseline= to create_monitor.")
    found = delta[-1]
    return TrainingData(name, str(version), found.source, int(found.delta_version), located.descriptor.feature_spec)


def baseline_frame(client: SparkTrackClient, trained: Sequence[TrainingData], columns: Sequence[str],
                   model_cols: tuple[str, str]) -> DataFrame:
    """The union of every model version's training data (features looked up), each row tagged
    with its model version and name in ``model_cols``, and the monitored ``columns`` that all of
    them have (a training table has no prediction column, say)."""
    from pyspark.sql import functions as F

    from sparktrack.features.spec import FeatureSpec, with_features

    spark = client.spark
    frames = []
    for data in trained:
        frame = TableRef.parse(data.source).read(spark, data.delta_version)
        if data.feature_spec is not None:
            frame, _ = with_features(spark, FeatureSpec.from_dict(data.feature_spec), frame,
                                     f"model {data.model_name} version {data.model_version}", pinned=True)
        frames.append((data, frame))
    shared = [c for c in columns if all(c in frame.columns for _, frame in frames)]
    if not shared:
        raise InvalidValueError("The baseline by lineage", [d.source for d in trained],
                                f"training data with some of the monitored columns {list(columns)}")
    version_col, name_col = model_cols
    union = None
    for data, frame in frames:
        part = frame.select(*shared, F.lit(data.model_version).alias(version_col),
                            F.lit(data.model_name).alias(name_col))
        union = part if union is None else union.unionByName(part)
    return union


def model_versions(rows: Sequence[Any]) -> list[tuple[str, str]]:
    """The distinct (name, version) pairs of collected rows, sorted, without nulls."""
    return sorted({(str(r[0]), str(r[1])) for r in rows if r[0] is not None and r[1] is not None})


def pinned_state(trained: Sequence[TrainingData]) -> dict[str, Any]:
    """Per "name/version", where its training data was read: what tells a refresh the baseline
    is the one it compared with before."""
    return {f"{d.model_name}/{d.model_version}": d.pinned for d in trained}
