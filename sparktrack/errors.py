"""Every error sparktrack raises on purpose.

Each message says what was received and how to fix it.

    SparkTrackError
    ├── InvalidInputError              (also a ValueError)
    │   ├── InvalidNameError           a key, experiment or run name breaks the naming rules
    │   ├── LimitExceededError         a value is longer than its limit
    │   ├── InvalidValueError          a metric value, step or timestamp of the wrong kind
    │   ├── ParamOverwriteError        a param logged again with a different value
    │   └── FilterSyntaxError          a malformed filter_string or order_by clause
    ├── NotFoundError                  (also a LookupError)
    │   ├── ExperimentNotFoundError
    │   ├── RunNotFoundError
    │   ├── ArtifactNotFoundError
    │   ├── TableNotFoundError             a job's input table (Delta path or catalog name)
    │   └── RegisteredModelNotFoundError   a registered model, version or alias that does not exist
    ├── AlreadyExistsError             create_experiment with a name in use
    ├── RunStateError                  no active run, a run already active, a deleted run
    ├── PromotionBlockedError          a promotion the configured policy does not allow
    ├── ConfigError                    an unknown or malformed setting or config file key
    ├── SessionError                   a SparkSession without Delta Lake configured
    └── StoreError                     the store cannot be read or written (records stay spooled)
        └── SchemaVersionError         the store was written by a newer sparktrack
"""

from __future__ import annotations

#: How much of a received value a message repeats: enough to recognise it, never a megabyte.
SHOWN_CHARS = 200


def shown(value: object) -> str:
    """``repr(value)``, cut to SHOWN_CHARS with the full length said."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


class SparkTrackError(Exception):
    """Root of all sparktrack errors."""


class InvalidInputError(SparkTrackError, ValueError):
    """The caller passed something sparktrack cannot accept."""


class InvalidNameError(InvalidInputError):
    def __init__(self, kind: str, name: object, rule: str):
        self.kind, self.name, self.rule = kind, name, rule
        super().__init__(f"Invalid {kind} {shown(name)}: {rule}")


class LimitExceededError(InvalidInputError):
    def __init__(self, what: str, length: int, limit: int, preview: str = ""):
        self.what, self.length, self.limit = what, length, limit
        shown = f" (starts {preview[:40]!r})" if preview else ""
        super().__init__(
            f"{what} is {length} characters long{shown}; the limit is {limit}. "
            "Shorten it, or log long text as an artifact with log_text()."
        )


class InvalidValueError(InvalidInputError):
    def __init__(self, what: str, value: object, expected: str):
        self.what, self.value = what, value
        super().__init__(f"{what} must be {expected}; got {shown(value)} of type {type(value).__name__}.")


class ParamOverwriteError(InvalidInputError):
    def __init__(self, run_id: str, key: str, old: str, new: str):
        self.run_id, self.key, self.old, self.new = run_id, key, old, new
        super().__init__(
            f"Param {key!r} of run {run_id} is already {old!r}; cannot change it to {new!r}. "
            "Params are immutable: log the new value under another key or in a new run."
        )


class FilterSyntaxError(InvalidInputError):
    def __init__(self, text: str, position: int, message: str):
        self.text, self.position = text, position
        start, end = 0, len(text)
        if len(text) > SHOWN_CHARS:  # a window around the position, not the whole text
            start, end = max(0, position - SHOWN_CHARS // 2), min(len(text), position + SHOWN_CHARS // 2)
        excerpt = ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
        pointer = " " * (position - start + (3 if start else 0)) + "^"
        super().__init__(f"{message} at position {position}:\n  {excerpt}\n  {pointer}")


class NotFoundError(SparkTrackError, LookupError):
    """Something looked up by id, name or path does not exist."""


class TableNotFoundError(NotFoundError):
    def __init__(self, ref: str, detail: str):
        self.ref, self.detail = ref, detail
        super().__init__(
            f"No table {ref!r}: {detail}. Give a Delta table path (a directory, s3a://..., or "
            "./name for a relative path) or a catalog table name such as db.table."
        )


class ExperimentNotFoundError(NotFoundError):
    def __init__(self, ref: str, by: str = "id"):
        self.ref = ref
        hint = (
            "Check the name, or call set_experiment() to create it."
            if by == "name"
            else "List experiments with search_experiments() or `sparktrack experiments`."
        )
        super().__init__(f"No experiment with {by} {ref!r}. {hint}")


class RunNotFoundError(NotFoundError):
    def __init__(self, run_id: str):
        self.run_id = run_id
        super().__init__(
            f"No run with id {run_id!r}. Find run ids with search_runs() or `sparktrack runs`."
        )


class ArtifactNotFoundError(NotFoundError):
    def __init__(self, path: str):
        self.path = path
        super().__init__(f"No artifact or local file at {path!r}.")


class RegisteredModelNotFoundError(NotFoundError):
    def __init__(self, what: str, hint: str):
        self.what = what
        super().__init__(f"{what} does not exist. {hint}")


class PromotionBlockedError(SparkTrackError):
    def __init__(self, target: str, name: str, version: int, missing: dict[str, str], tags: dict[str, str]):
        self.target, self.name, self.version, self.missing = target, name, version, missing
        needed = ", ".join(f"{k}={v!r}" for k, v in missing.items())
        super().__init__(
            f"Promotion policy blocks {target} for {name} version {version}: it needs the version "
            f"tag(s) {needed}, and the version has {tags or 'no tags'}. Set them with "
            f"set_model_version_tag({name!r}, {version}, key, value) after validation."
        )


class AlreadyExistsError(SparkTrackError):
    def __init__(self, kind: str, name: str, hint: str):
        self.kind, self.name = kind, name
        super().__init__(f"{kind} {name!r} already exists. {hint}")


class RunStateError(SparkTrackError):
    """An operation that the run's state does not allow."""


class ConfigError(SparkTrackError):
    """A setting or config file sparktrack cannot use."""


class SessionError(SparkTrackError):
    """The SparkSession cannot serve as a sparktrack session."""


class StoreError(SparkTrackError):
    """The store cannot be read or written."""


class ConcurrentWriteError(SparkTrackError):
    """Other writers kept committing first; nothing of this write landed and it can be run again."""

    retryable = True


class SchemaVersionError(StoreError):
    def __init__(self, root: str, found: int, supported: int):
        self.found, self.supported = found, supported
        super().__init__(
            f"The store at {root} has schema version {found}, but this sparktrack reads up to "
            f"version {supported}. Upgrade sparktrack (pip install -U sparktrack)."
        )
