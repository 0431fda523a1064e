"""Settings, each declared once with its type, environment variable and default.

A value is taken from, in order: the argument passed in code, the environment variable, the
config file (``SPARKTRACK_CONF``, else ``./conf/sparktrack.toml`` when it exists), the default.
Unknown keys in the config file are an error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from sparktrack.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

T = TypeVar("T")

#: The Delta Lake jars for Spark 4.2. delta-spark 4.4.1 on PyPI is identical to 4.4.0 apart from its
#: version string, and Maven Central has no 4.4.1 jars, so the 4.4.0 jars are the ones to resolve.
DEFAULT_DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"


@dataclass(frozen=True)
class Setting(Generic[T]):
    key: str  # the key in conf/sparktrack.toml
    env: str
    default: T
    parse: Callable[[Any], T]
    doc: str

    def get(self, override: T | None = None) -> T:
        if override is not None:
            return override
        raw = os.environ.get(self.env)
        source = f"environment variable {self.env}"
        if raw is None:
            file_values = _config_file()
            if self.key not in file_values:
                return self.default
            raw, source = file_values[self.key], f"key {self.key!r} of {_config_path()}"
        try:
            return self.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Cannot read {source}={raw!r}: {exc}") from None


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a number greater than 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be an integer greater than 0")
    return value


STORE = Setting(
    "store", "SPARKTRACK_STORE", "./sparktrack-store", str,
    "Store root: a local directory or a URI (s3://, s3a://, gs://, abfss://, hdfs://).",
)
DATABASE = Setting(
    "database", "SPARKTRACK_DATABASE", "sparktrack", str,
    "Catalog database in which the store's tables and views are visible to spark.sql.",
)
SPARK_MASTER = Setting(
    "spark_master", "SPARKTRACK_SPARK_MASTER", "local[*]", str,
    "Master of the SparkSession sparktrack builds when none is active.",
)
DELTA_PACKAGE = Setting(
    "delta_package", "SPARKTRACK_DELTA_PACKAGE", DEFAULT_DELTA_PACKAGE, str,
    "Maven coordinate of Delta Lake, resolved from Maven Central on first use and cached by Ivy.",
)
DELTA_JARS = Setting(
    "delta_jars", "SPARKTRACK_DELTA_JARS", "", str,
    "Comma-separated local jar paths used instead of DELTA_PACKAGE (air-gapped clusters).",
)
SPOOL_DIR = Setting(
    "spool_dir", "SPARKTRACK_SPOOL_DIR", str(Path.home() / ".cache" / "sparktrack" / "spool"),
    lambda raw: os.path.expanduser(str(raw)),
    "Local directory where logged records are spooled until they are committed.",
)
FLUSH_INTERVAL = Setting(
    "flush_interval", "SPARKTRACK_FLUSH_INTERVAL", 5.0, _positive_float,
    "Seconds between background commits of buffered records.",
)
FLUSH_SIZE = Setting(
    "flush_size", "SPARKTRACK_FLUSH_SIZE", 200_000, _positive_int,
    "Buffered records that trigger a commit before the interval ends (200,000 metric points: "
    "about 34 MB of memory, 19 MB of spool).",
)
STORAGE_OPTIONS = Setting(
    "storage_options", "SPARKTRACK_STORAGE_OPTIONS", {}, lambda raw: _parse_string_table(raw, "storage_options"),
    "Options for the store's object storage, handed to delta-rs and pyarrow.fs: credentials, "
    "endpoints, S3's commit protocol ({AWS_ENDPOINT_URL = '...', conditional_put = 'etag'}).",
)
SPARK_CONF = Setting(
    "spark", "SPARKTRACK_SPARK_CONF", {}, lambda raw: _parse_spark_conf(raw),
    "Extra Spark settings for the session sparktrack builds ([spark] table in the config file).",
)

PROMOTION_POLICY = Setting(
    "promotion_policy", "SPARKTRACK_PROMOTION_POLICY", {}, lambda raw: _parse_policy(raw),
    "Version tags an alias or stage requires, e.g. {Champion = {validation_status = 'approved'}}.",
)

ALL: tuple[Setting[Any], ...] = (
    STORE, DATABASE, SPARK_MASTER, DELTA_PACKAGE, DELTA_JARS, SPOOL_DIR,
    FLUSH_INTERVAL, FLUSH_SIZE, STORAGE_OPTIONS, SPARK_CONF, PROMOTION_POLICY,
)


def _parse_policy(raw: Any) -> dict[str, dict[str, str]]:
    """``{target: {tag: value}}`` from a TOML table or a JSON string (the environment variable)."""
    import json

    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError('expected {"<alias or stage>": {"<tag>": "<value>"}}')
    return {str(target): {str(k): str(v) for k, v in tags.items()} for target, tags in data.items()}


def _parse_string_table(raw: Any, key: str) -> dict[str, str]:
    """``{name: value}`` from a TOML table or a JSON object (the environment variable)."""
    import json

    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ValueError(f'expected a table of strings ([sparktrack.{key}]) or a JSON object such as {{"name": "value"}}')
    return {str(name): str(value) for name, value in data.items()}


def _parse_spark_conf(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):  # a [sparktrack.spark] table
        return {str(key): str(value) for key, value in raw.items()}
    pairs = {}
    for item in filter(None, (part.strip() for part in str(raw).split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value pairs separated by commas, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _config_path() -> Path | None:
    explicit = os.environ.get("SPARKTRACK_CONF")
    if explicit:
        return Path(explicit)
    default = Path("conf") / "sparktrack.toml"
    return default if default.is_file() else None


def _config_file() -> dict[str, Any]:
    path = _config_path()
    return _read_config(str(path)) if path else {}


def read_toml(path: str, kind: str, origin: str = "") -> dict[str, Any]:
    """The TOML file at ``path``; a missing or malformed file is a ConfigError naming ``kind``
    (e.g. "Config file") and, when it is missing, where the path came from (``origin``)."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{kind} {path}{origin} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{kind} {path} is not valid TOML: {exc}") from None


@lru_cache(maxsize=8)
def _read_config(path: str) -> dict[str, Any]:
    data = read_toml(path, "Config file", " (from SPARKTRACK_CONF)")
    values = data.get("sparktrack", {})
    unknown = sorted(set(data) - {"sparktrack"}) + sorted(set(values) - {s.key for s in ALL})
    if unknown:
        known = ", ".join(s.key for s in ALL)
        raise ConfigError(
            f"Unknown key(s) {unknown} in {path}. Settings live in a [sparktrack] table with the "
            f"keys: {known}."
        )
    return values
