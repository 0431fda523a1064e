"""The errors of logging, loading and scoring models.

They derive from the classes in ``sparktrack.errors``, so ``except InvalidInputError`` and
``except NotFoundError`` catch them too. Each message says what was received and how to fix it.

    InvalidInputError
    ├── ModelURIError              a model URI of no accepted form
    ├── UnsupportedModelError      log_model given an object its flavor cannot save
    ├── FlavorMismatchError        a flavor's load_model pointed at a model of another flavor
    ├── DescriptorError            a sparktrack_model.json that cannot be read
    └── ModelInputError            data handed to predict() that the model cannot score
        ├── MissingColumnsError
        ├── SchemaMismatchError    columns of a kind the signature does not allow
        ├── ColumnTypeError        a pandas column whose values would narrow to the signature's type
        └── OutputColumnExistsError
    NotFoundError
    └── ModelNotFoundError         no logged model at a URI
    AlreadyExistsError
    └── ModelExistsError           log_model over a model already logged at that path
"""

from __future__ import annotations

from typing import Iterable

from sparktrack.errors import AlreadyExistsError, InvalidInputError, NotFoundError, shown

#: The model URIs that load_model accepts, as shown in error messages.
ACCEPTED_URIS = (
    "runs:/<run_id>/<artifact_path>",
    "models:/<name>/<version>",
    "models:/<name>/latest",
    "models:/<name>@<alias>",
    "a directory URI or path that contains sparktrack_model.json",
)


def _accepted() -> str:
    return "; ".join(ACCEPTED_URIS)


class ModelURIError(InvalidInputError):
    def __init__(self, uri: object, reason: str):
        self.uri, self.reason = uri, reason
        super().__init__(f"Model URI {shown(uri)} {reason}. Accepted forms: {_accepted()}.")


class UnsupportedModelError(InvalidInputError):
    def __init__(self, function: str, model: object, expected: str, hint: str = ""):
        self.model_type = f"{type(model).__module__}.{type(model).__qualname__}"
        super().__init__(
            f"{function} needs {expected}; got an object of type {self.model_type}."
            + (f" {hint}" if hint else "")
        )


class FlavorMismatchError(InvalidInputError):
    def __init__(self, uri: str, found: str, expected: Iterable[str], loader: str):
        self.uri, self.found = uri, found
        wanted = " or ".join(repr(flavor) for flavor in expected)
        super().__init__(
            f"The model at {uri!r} has flavor {found!r}, but {loader} loads flavor {wanted}. "
            "Load it with sparktrack.models.load_model(), which picks the flavor from the model."
        )


class DescriptorError(InvalidInputError):
    def __init__(self, source: str, problem: str):
        self.source, self.problem = source, problem
        super().__init__(
            f"Cannot read the model descriptor {source}: {problem}. It should be the "
            "sparktrack_model.json that log_model() wrote; log the model again if it was edited."
        )


class ModelInputError(InvalidInputError):
    """Data handed to ``predict()`` that the model cannot score."""


class MissingColumnsError(ModelInputError):
    def __init__(self, missing: Iterable[str], present: Iterable[str], model: str = "the model"):
        self.missing, self.present = list(missing), list(present)
        super().__init__(
            f"The input lacks columns that {model} needs: missing {self.missing}; present "
            f"{self.present}. Add or rename the missing columns (the model's signature lists "
            "the columns it was logged with)."
        )


class SchemaMismatchError(ModelInputError):
    def __init__(self, mismatched: dict[str, tuple[str, str]], present: dict[str, str],
                 model: str = "the model"):
        self.mismatched, self.present = mismatched, present
        wrong = ", ".join(f"{name} is {got} but the signature has {want}"
                          for name, (got, want) in mismatched.items())
        super().__init__(
            f"The input's schema does not match the signature of {model}: {wrong}. Present "
            f"columns: {present}. Cast the columns to the signature's types (numbers may be any "
            "numeric type), or score a table with the columns the model was trained on."
        )


class ColumnTypeError(ModelInputError):
    def __init__(self, column: str, received: str, expected: str, model: str = "the model"):
        self.column, self.received, self.expected = column, received, expected
        super().__init__(
            f"Column {column!r} does not fit the signature of {model}: received {received}, "
            f"expected {expected}. Values may only widen (an integer to a bigint or a double); "
            "send the column as the signature's type."
        )


class OutputColumnExistsError(ModelInputError):
    def __init__(self, column: str, present: Iterable[str]):
        self.column = column
        super().__init__(
            f"The input already has a column named {column!r} (columns: {list(present)}), which "
            "is where the predictions go. Drop or rename it, or log the model with another "
            "output_column."
        )


class ModelNotFoundError(NotFoundError):
    def __init__(self, uri: str, detail: str):
        self.uri, self.detail = uri, detail
        super().__init__(
            f"No model at {shown(uri)}: {detail}. Check the run id and artifact path (list a run's "
            "artifacts with TrackingClient.list_artifacts(run_id))."
        )


class ModelExistsError(AlreadyExistsError):
    def __init__(self, uri: str):
        super().__init__(
            "Model", uri,
            "Logged models are immutable (registered versions point at them): "
            "log this one under another artifact_path, or in a new run.",
        )
