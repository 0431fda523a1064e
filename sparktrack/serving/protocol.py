"""MLflow's scoring protocol: request bodies in, pandas frames out; predictions in, response
bodies out; and the JSON errors both ways.

A JSON body is an object with exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs``, an optional ``params`` object, and an optional
``client_request_id`` string (as Databricks' inference tables take it). A CSV body is what
``pandas.DataFrame.to_csv(index=False)`` writes. Both must be UTF-8.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import pandas as pd

JSON, CSV = "application/json", "text/csv"
CONTENT_TYPES = (JSON, CSV)
DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS = "dataframe_split", "dataframe_records", "instances", "inputs"
FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
PARAMS, CLIENT_REQUEST_ID = "params", "client_request_id"
_ONE_OF = ("The request must be a JSON object with exactly one of the keys "
           f"{list(FORMATS)}, and optionally {PARAMS!r} and {CLIENT_REQUEST_ID!r}")

BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"


class ServingError(Exception):
    """A request the server answers with an error: ``status``, and the JSON body
    ``{"error_code": ..., "message": ...}``."""

    def __init__(self, status: int, error_code: str, message: str):
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message

    def body(self) -> bytes:
        return json.dumps({"error_code": self.error_code, "message": self.message}).encode()


def bad_request(message: str) -> ServingError:
    return ServingError(400, BAD_REQUEST, message)


@dataclass(frozen=True)
class ParsedRequest:
    frame: pd.DataFrame
    params: dict[str, Any] | None
    client_request_id: str | None
    logged: str  # the request as the inference table keeps it: JSON text


def check_content_type(header: str | None) -> str:
    """``application/json`` or ``text/csv`` from a Content-Type header; 415 for anything else."""
    mime, *parameters = [part.strip() for part in (header or "").split(";")]
    mime = mime.lower()
    if mime not in CONTENT_TYPES:
        raise ServingError(415, BAD_REQUEST,
                           f"Content-Type {header!r} is not supported; send {JSON!r} or {CSV!r} "
                           "(charset utf-8).")
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset":
            raise ServingError(415, BAD_REQUEST,
                               f"Content-Type parameter {parameter!r} is not supported; only "
                               "charset=utf-8 is.")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ServingError(415, BAD_REQUEST,
                               f"Charset {value.strip()!r} is not supported; send the body as UTF-8.")
    return mime


def parse_request(body: bytes, mime: str, columns: Sequence[str] | None) -> ParsedRequest:
    """The frame a request carries. ``columns`` (the model's input columns, when known) name the
    values of ``instances``/``inputs`` sent as lists of lists."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(f"The body is not valid UTF-8 ({error}); send it UTF-8 encoded.") from None
    if mime == CSV:
        frame = _parse_csv(text)
        logged = json.dumps({DF_SPLIT: {"columns": [str(c) for c in frame.columns],
                                        "data": _jsonable(frame.astype(object).values.tolist())}})
        return ParsedRequest(frame, None, None, logged)
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise bad_request(f"The body is not valid JSON: {error}.") from None
    if not isinstance(payload, dict):
        raise bad_request(f"{_ONE_OF}. Received a {_json_kind(payload)}.")
    keys = [key for key in payload if key in FORMATS]
    unknown = [key for key in payload if key not in FORMATS and key not in (PARAMS, CLIENT_REQUEST_ID)]
    if len(keys) != 1 or unknown:
        raise bad_request(f"{_ONE_OF}. Received the keys {list(payload)}.")
    params = payload.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise bad_request(f"{PARAMS!r} must be a JSON object of parameter values; received a "
                          f"{_json_kind(params)}.")
    client_request_id = payload.get(CLIENT_REQUEST_ID)
    if client_request_id is not None and (not isinstance(client_request_id, str)
                                          or len(client_request_id) > 512):
        raise bad_request(f"{CLIENT_REQUEST_ID!r} must be a string of at most 512 characters; "
                          f"received {_shown(client_request_id)}.")
    key = keys[0]
    frame = _frame(key, payload[key], columns)
    return ParsedRequest(frame, params, client_request_id, text)


def _frame(key: str, data: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    import pandas as pd

    if key == DF_SPLIT:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list) \
                or not isinstance(data.get("data"), list):
            raise bad_request(f"{DF_SPLIT!r} must be an object with a 'columns' list and a 'data' "
                              f"list of rows; received {_shown(data)}.")
        names = data["columns"]
        if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
            raise bad_request(f"{DF_SPLIT}.columns must be distinct column names (strings); "
                              f"received {_shown(names)}.")
        for number, row in enumerate(data["data"]):
            if not isinstance(row, list) or len(row) != len(names):
                raise bad_request(f"Row {number} of {DF_SPLIT}.data must be a list of "
                                  f"{len(names)} values, one per column; received {_shown(row)}.")
        return _checked(pd.DataFrame(data["data"], columns=names), key)
    expected = ("a list of objects, one per row" if key == DF_RECORDS else
                "a list of rows (objects, or lists of values in the model's column order) or an "
                "object of columns")
    if isinstance(data, list):
        if all(isinstance(row, dict) for row in data):
            return _checked(pd.DataFrame.from_records(data), key)
        if key != DF_RECORDS and columns is not None and all(isinstance(row, list) for row in data):
            for number, row in enumerate(data):
                if len(row) != len(columns):
                    raise bad_request(f"Row {number} of {key!r} has {len(row)} values; the model "
                                      f"reads {len(columns)} columns {list(columns)}.")
            return _checked(pd.DataFrame(data, columns=list(columns)), key)
    elif key != DF_RECORDS and isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise bad_request(f"The columns of {key!r} must all have the same length; received "
                              f"lengths {sorted(lengths)}.")
        return _checked(pd.DataFrame(data), key)
    raise bad_request(f"{key!r} must be {expected}; received {_shown(data)}.")


def _parse_csv(text: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception as error:  # noqa: BLE001 - pandas' parser errors are many kinds
        raise bad_request(f"The body is not a CSV table with a header row: {error}. Send what "
                          "pandas.DataFrame.to_csv(index=False) writes.") from None
    return _checked(frame, "text/csv")


def _checked(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    if frame.empty:
        raise bad_request(f"The request ({source}) holds no rows to score.")
    return frame


def predictions_body(predictions: Any) -> bytes:
    """``{"predictions": [...]}``: an array, Series or list as a list; a DataFrame as records.
    NaN and infinities become null, so the body is valid JSON."""
    import numpy as np

    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        values: Any = predictions.to_dict(orient="records")
    else:
        array = np.asarray(predictions)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array.ravel()
        values = array.tolist()
    try:
        return json.dumps({"predictions": values}, allow_nan=False).encode()
    except (TypeError, ValueError):  # NaN, or values json cannot write (timestamps)
        return json.dumps({"predictions": _jsonable(values)}, default=str, allow_nan=False).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item"):  # a numpy scalar
        return _jsonable(value.item())
    return value


def _json_kind(value: Any) -> str:
    return {dict: "JSON object", list: "JSON list", str: "JSON string", bool: "JSON boolean",
            type(None): "JSON null"}.get(type(value), "JSON number")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
