"""``ModelDescriptor``: the ``sparktrack_model.json`` at the root of every logged model directory.

It says how to load the model (``flavor``, ``data_path``), what it reads (``signature``: the input
columns and their Spark SQL types) and what it writes (``output_column`` of ``output_type``), and
where it came from (``run_id``, ``artifact_path``, ``library_versions``), and, for a model logged
with a training set, the features it looks up (``feature_spec``).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from sparktrack.models.errors import DescriptorError

DESCRIPTOR_FILE = "sparktrack_model.json"

SPARK = "spark"
SKLEARN = "sklearn"
PYTHON_FUNCTION = "python_function"
FLAVORS = (SPARK, SKLEARN, PYTHON_FUNCTION)

DEFAULT_OUTPUT_COLUMN = "prediction"
DEFAULT_OUTPUT_TYPE = "double"


@dataclass(frozen=True, kw_only=True)
class ModelDescriptor:
    flavor: str
    model_uuid: str
    run_id: str
    artifact_path: str
    created_at: int  # epoch milliseconds
    data_path: str  # the saved model, relative to the model directory
    library_versions: dict[str, str] = field(default_factory=dict)
    signature: list[dict[str, str]] | None = None  # [{"name": ..., "type": <Spark SQL type>}]
    input_example: list[dict[str, Any]] | None = None  # a few rows as JSON records
    output_column: str = DEFAULT_OUTPUT_COLUMN
    output_type: str = DEFAULT_OUTPUT_TYPE  # Spark SQL type string, e.g. "double"
    #: What the model's training set looked up in feature tables (sparktrack.features.spec), so
    #: that scoring looks the same features up; None for a model logged without a training set.
    feature_spec: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise DescriptorError("fields", f"flavor {self.flavor!r} is not one of {list(FLAVORS)}")
        for name in ("model_uuid", "run_id", "artifact_path", "data_path", "output_column",
                     "output_type"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise DescriptorError("fields", f"{name} must be a non-empty string, got {value!r}")
        if self.signature is not None:
            for column in self.signature:
                if not isinstance(column, dict) or set(column) != {"name", "type"}:
                    raise DescriptorError(
                        "fields", f"each signature entry must be {{'name': ..., 'type': ...}}, "
                                  f"got {column!r}")

    @property
    def input_columns(self) -> list[str] | None:
        """The signature's column names, or None when the model was logged without one."""
        return None if self.signature is None else [column["name"] for column in self.signature]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    @classmethod
    def from_dict(cls, data: Any, source: str = "(dict)") -> ModelDescriptor:
        if not isinstance(data, dict):
            raise DescriptorError(source, f"expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise DescriptorError(source, f"missing keys {missing}")
        # Keys written by a newer sparktrack are ignored, so old readers still load new models.
        values = {key: value for key, value in data.items() if key in known}
        try:
            return cls(**values)
        except DescriptorError as error:
            raise DescriptorError(source, error.problem) from None

    @classmethod
    def from_json(cls, text: str, source: str = "(text)") -> ModelDescriptor:
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise DescriptorError(source, f"not valid JSON ({error})") from None
        return cls.from_dict(data, source)
