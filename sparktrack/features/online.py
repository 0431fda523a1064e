"""Feature lookups at serving: a model's feature spec answered from an in-memory snapshot of each
feature table, read with delta-rs and pandas (no JVM).

    lookup = OnlineLookup(FeatureSpec.from_dict(descriptor.feature_spec), model="model models:/churn/3")
    lookup.start()                      # follow the tables' new Delta versions in the background
    frame = lookup.augment(request)     # the request's rows with their features
    lookup.close()

Each feature table is held as one row per lookup key: for a time-series table, the row with the
greatest timeseries value (rows with a null key or time are left out); a stored null stays null.
Serving is not point in time: a request gets the latest row of its key, whatever its
``timestamp_lookup_key``, and the lookback window is not applied.

Every ``refresh_interval`` seconds a background thread asks each table for its latest Delta
version (``update_incremental``, a listing of the log); when it moved, the new snapshot is built
beside the one serving and takes its place in one assignment, so a request sees either the old
tables or the new ones, never a half-built one. A table that cannot be read keeps its last
snapshot (the error is logged and shown in ``errors``).

The snapshot is read with delta-rs' query engine (DataFusion), which applies deletion vectors
(what a Spark MERGE writes when ``delta.enableDeletionVectors`` is set); its plain readers
(``to_pyarrow_table``) refuse such tables.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sparktrack.errors import InvalidValueError, TableNotFoundError
from sparktrack.features.tables import KEYS, TIMESERIES
from sparktrack.models.errors import ModelInputError

if TYPE_CHECKING:
    import pandas as pd

    from sparktrack.features.spec import FeatureSpec, LookupSpec

logger = logging.getLogger(__name__)
#: Seconds between checks of the feature tables' Delta versions, unless told otherwise.
REFRESH_INTERVAL = 2.0
_RANK = "__sparktrack_rank"


class MissingLookupKeysError(ModelInputError):
    """A request without the key columns its features are looked up by."""

    def __init__(self, missing: Iterable[str], present: Iterable[str], keys: Iterable[str],
                 training_columns: Iterable[str], model: str):
        self.missing, self.present = list(missing), list(present)
        super().__init__(
            f"The input lacks the lookup key columns that {model} looks its features up by: missing "
            f"{self.missing}; present {self.present}. Send each row's keys {list(keys)} and the "
            f"columns it was trained on besides its looked-up features {list(training_columns)}; "
            "a looked-up feature sent as a column is used as sent.")


class LookupKeyTypeError(ModelInputError):
    """A key column whose values cannot be compared with the feature table's key."""

    def __init__(self, column: str, received: str, table: str, table_key: str, expected: str, model: str):
        self.column = column
        super().__init__(
            f"Lookup key column {column!r} of {model} holds {received}, which cannot match "
            f"{table}.{table_key} ({expected}). Send the key as the table's type.")


@dataclass(frozen=True)
class Snapshot:
    """A feature table at one Delta version: one row per lookup key (``frame``'s index, the
    table's key columns), the columns the lookups use."""

    table_name: str
    version: int
    frame: pd.DataFrame


class _Source:
    """One feature table as delta-rs reads it: its handle, keys, and the columns the lookups need.
    Only the thread that builds snapshots touches the handle after load."""

    def __init__(self, name: str, columns: Iterable[str], storage_options: Mapping[str, str], model: str):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError as NoDeltaTable

        from sparktrack.engine.location import engine_uri
        from sparktrack.tracking.datasets import TableRef

        ref = TableRef.parse(name, "feature table name")
        if ref.path is None:
            raise InvalidValueError(
                f"Each feature table that serving reads for {model}", name,
                "a Delta table path: serving reads feature tables with delta-rs, without Spark, and "
                "cannot resolve a catalog table name. Log the model with FeatureLookups whose "
                "table_name is the table's path (its location, see DESCRIBE DETAIL)")
        self.name = name
        try:
            self.table = DeltaTable(engine_uri(ref.path), storage_options=dict(storage_options))
        except NoDeltaTable:
            raise TableNotFoundError(name, f"{model} looks its features up there, but there is no "
                                           "Delta table at that path") from None
        except OSError as exc:
            raise TableNotFoundError(name, f"{model} looks its features up there, but it cannot be "
                                           f"read ({str(exc).splitlines()[0]})") from None
        properties = self.table.metadata().configuration
        if KEYS not in properties:
            raise TableNotFoundError(name, f"{model} looks its features up there, but it is not a "
                                           f"feature table (it has no {KEYS} property)")
        self.timeseries = properties.get(TIMESERIES)
        self.keys = tuple(k for k in json.loads(properties[KEYS]) if k != self.timeseries)
        self.columns = list(dict.fromkeys(c for c in columns if c not in self.keys and c != self.timeseries))
        self.check(model)

    def check(self, model: str) -> None:
        """An error naming the table and the columns when the table lacks what the model needs."""
        present = [field.name for field in self.table.schema().fields]
        gone = [c for c in self.columns if c not in present]
        if gone:
            raise InvalidValueError(
                f"The feature table {self.name}", f"columns {present}",
                f"a table with the feature column(s) {gone} that {model} was trained with; restore "
                f"them in {self.name}, or send them as columns of each request")

    def latest_version(self) -> int:
        """The table's latest Delta version (the handle catches up: one listing of its log)."""
        self.table.update_incremental()
        return self.table.version()

    def read(self) -> Snapshot:
        """The table at the handle's version: the latest row per key, with only the needed columns."""
        import pyarrow as pa
        from deltalake import QueryBuilder

        version = self.table.version()
        keys = [_quoted(k) for k in self.keys]
        selected = ", ".join([*keys, *(_quoted(c) for c in self.columns)])
        present = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        if self.timeseries is None:
            sql = f"SELECT {selected} FROM t WHERE {present}"
        else:
            time = _quoted(self.timeseries)
            sql = (f"SELECT {selected} FROM (SELECT {selected}, ROW_NUMBER() OVER (PARTITION BY "
                   f"{', '.join(keys)} ORDER BY {time} DESC) AS {_RANK} FROM t WHERE {present} AND "
                   f"{time} IS NOT NULL) WHERE {_RANK} = 1")
        rows = pa.table(QueryBuilder().register("t", self.table).execute(sql))
        frame = rows.to_pandas().set_index(list(self.keys))
        if not frame.index.is_unique:  # a table written around write_table: keep one row per key
            frame = frame[~frame.index.duplicated(keep="last")]
        frame.index.get_indexer(frame.index[:1])  # build the index's hash table before serving it
        return Snapshot(self.name, version, frame)


class OnlineLookup:
    """``spec``'s lookups answered from in-memory snapshots of its tables (each read once here, so
    a missing table or column is an error at load); ``start`` follows their new versions."""

    def __init__(self, spec: FeatureSpec, *, model: str, storage_options: Mapping[str, str] | None = None,
                 refresh_interval: float = REFRESH_INTERVAL):
        self.spec = spec
        self.model = model
        self.refresh_interval = refresh_interval
        needed: dict[str, list[str]] = {}
        for lookup in spec.lookups:
            needed.setdefault(lookup.table_name, []).extend(c for c, _, _ in lookup.features)
        self._sources = {name: _Source(name, columns, storage_options or {}, model)
                         for name, columns in needed.items()}
        for lookup in spec.lookups:
            table_keys = self._sources[lookup.table_name].keys
            if len(lookup.lookup_key) != len(table_keys):
                raise InvalidValueError(
                    f"The lookup of {model} in {lookup.table_name}", list(lookup.lookup_key),
                    f"{len(table_keys)} key column(s), matching the table's keys {list(table_keys)}")
        self._snapshots: Mapping[str, Snapshot] = {name: s.read() for name, s in self._sources.items()}
        self.errors: dict[str, str] = {}  # table -> why its last refresh failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def versions(self) -> dict[str, int]:
        """The Delta version each table's snapshot is at."""
        return {name: snapshot.version for name, snapshot in self._snapshots.items()}

    @property
    def keys(self) -> list[str]:
        """The request columns the lookups match (not the timestamp keys: serving takes the
        latest row of each key)."""
        return list(dict.fromkeys(k for lookup in self.spec.lookups for k in lookup.lookup_key))

    @property
    def request_columns(self) -> list[str]:
        """What a request needs: the lookup keys, then the columns the model was trained on."""
        return list(dict.fromkeys([*self.keys, *self.spec.training_columns]))

    def augment(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with each lookup's features added for its rows, by key: a key with no row
        gets the lookup's default values, or null. A column ``frame`` already has is kept as sent,
        and a lookup whose every feature is sent needs no keys."""
        snapshots = self._snapshots  # one set of tables for the whole request
        present = [str(c) for c in frame.columns]
        wanted = [(lookup, [f for f in lookup.features if f[1] not in present]) for lookup in self.spec.lookups]
        wanted = [(lookup, features) for lookup, features in wanted if features]
        missing = [k for lookup, _ in wanted for k in lookup.lookup_key if k not in present]
        if missing:
            raise MissingLookupKeysError(dict.fromkeys(missing), present, self.keys,
                                         self.spec.training_columns, self.model)
        added: dict[str, Any] = {}
        for lookup, features in wanted:
            added.update(self._looked_up(frame, lookup, features, snapshots[lookup.table_name]))
        return frame.assign(**added) if added else frame

    def _looked_up(self, frame: pd.DataFrame, lookup: LookupSpec, features: list[tuple[str, str, str]],
                   snapshot: Snapshot) -> dict[str, pd.Series]:
        import pandas as pd

        table = snapshot.frame
        names = list(table.index.names)
        columns = [_as_key(frame[k], table.index.get_level_values(i).dtype, k, snapshot.table_name, names[i],
                           self.model) for i, k in enumerate(lookup.lookup_key)]
        keys = pd.MultiIndex.from_arrays(columns) if len(columns) > 1 else pd.Index(columns[0])
        positions = table.index.get_indexer(keys)
        found = positions >= 0
        out = {}
        for column, output, _ in features:
            stored = table[column]
            values = stored.reindex(keys)
            values.index = frame.index
            if output in lookup.default_values and not found.all():
                values = values.astype(object).where(found, lookup.default_values[output])
            if values.dtype != stored.dtype and len(values) and not values.isna().any():
                try:
                    values = values.astype(stored.dtype)
                except (TypeError, ValueError):
                    pass
            elif values.dtype == object and stored.dtype != object:
                values = pd.Series(values.tolist(), index=frame.index)  # nulls: let pandas pick
            out[output] = values
        return out

    def refresh(self) -> list[str]:
        """Build a new snapshot of each table whose Delta version moved, and swap them in at once;
        returns the tables refreshed. A table that cannot be read keeps its snapshot."""
        built = {}
        for name, source in self._sources.items():
            try:
                if source.latest_version() != self._snapshots[name].version:
                    source.check(self.model)
                    built[name] = source.read()
                self.errors.pop(name, None)
            except Exception as exc:  # noqa: BLE001 - keep serving the last snapshot
                error = f"{type(exc).__name__}: {exc}"
                if self.errors.get(name) != error:  # once per new error, not every interval
                    logger.warning("sparktrack serving: feature table %s stays at version %s for %s: %s",
                                   name, self._snapshots[name].version, self.model, error)
                self.errors[name] = error
        if built:
            self._snapshots = {**self._snapshots, **built}
            logger.info("sparktrack serving: %s looks its features up in %s", self.model,
                        {name: snapshot.version for name, snapshot in built.items()})
        return sorted(built)

    def metadata(self) -> dict[str, Any]:
        """The spec, and the Delta version each table's snapshot is at (``snapshot_versions``)."""
        return {**self.spec.to_dict(), "snapshot_versions": self.versions}

    def start(self) -> None:
        """Refresh every ``refresh_interval`` seconds in a background thread until ``close``."""
        def run() -> None:
            while not self._stop.wait(self.refresh_interval):
                self.refresh()

        self._thread = threading.Thread(target=run, name="sparktrack-features", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_key(values: pd.Series, dtype: Any, column: str, table: str, table_key: str, model: str) -> pd.Series:
    """A request's key column as the table's key type: integers for an integer key (from
    integral floats too), text for a text key; otherwise a LookupKeyTypeError."""
    import numpy as np

    if values.dtype == dtype:
        return values
    kind, want = values.dtype.kind, np.dtype(dtype).kind if not hasattr(dtype, "tz") else "M"
    if want in "iu" and kind in "iuf":
        whole = values.dropna()
        if kind != "f" or bool((whole == np.floor(whole)).all()):
            return values if values.isna().any() else values.astype(dtype)
    elif want == "O" and kind == "O" and all(isinstance(v, str) for v in values.dropna()):
        return values
    elif want == "M":
        import pandas as pd

        try:
            return pd.to_datetime(values, utc=getattr(dtype, "tz", None) is not None)
        except (TypeError, ValueError):
            pass
    elif want == kind:
        return values
    sample = next((v for v in values if v is not None), None)
    raise LookupKeyTypeError(column, f"{values.dtype} values (for example {sample!r})", table, table_key,
                             str(dtype), model)
