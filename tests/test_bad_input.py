"""Bad input gets a clear error naming what was received, and the store is left unchanged.

Every case of CASES runs against one store (a run with a param, a registered model with a
version, so that lookups have something to hit) and must leave it exactly as it was: no new Delta
commit in any table, nothing left in the record buffer, no new artifact file, no run left active.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass

import pytest

import sparktrack
from sparktrack import Metric, Param, RunTag
from sparktrack.errors import (
    AlreadyExistsError,
    ArtifactNotFoundError,
    ConfigError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidNameError,
    InvalidValueError,
    LimitExceededError,
    NotFoundError,
    ParamOverwriteError,
    RegisteredModelNotFoundError,
    RunNotFoundError,
)
from sparktrack.models.errors import ModelNotFoundError, ModelURIError
from sparktrack.registry import RegistryClient
from sparktrack.scoring import batch_score
from sparktrack.client import SparkTrackClient
from sparktrack.store import layout
from sparktrack.testing import fresh_store
from sparktrack.tracking import validation

LONG_KEY = "k" * 251
MB = 1_000_000
MODEL = "churn"  # registered, with version 1
NO_RUN = "feedbeef"  # a well-formed run id that no run has
#: An error message repeats enough of the input to recognise it, never a megabyte of it.
MAX_MESSAGE = 1_500


@dataclass(frozen=True)
class Target:
    """What the cases hit: a store with a run and a registered model."""

    c: SparkTrackClient
    r: str  # the run: RUNNING, param kept=yes
    reg: RegistryClient
    file: str  # a local file, for log_artifact
    tmp: str  # a local directory, for downloads


def case(description, call, error, fragment, **kwargs):
    return pytest.param(call, error, fragment, id=description, **kwargs)


def filter_case(description, text, fragment, **kwargs):
    return case(f"search_runs filter: {description}", lambda t: t.c.search_runs(["0"], text),
                FilterSyntaxError, fragment, **kwargs)


CASES = [
    # -- keys and values --------------------------------------------------------------------------
    case("metric key too long", lambda t: t.c.log_metric(t.r, LONG_KEY, 1.0), LimitExceededError,
         "Metric key is 251 characters long (starts 'kkkk"),
    case("param key too long", lambda t: t.c.log_param(t.r, LONG_KEY, 1), LimitExceededError,
         "Param key is 251 characters long"),
    case("tag key too long", lambda t: t.c.set_tag(t.r, LONG_KEY, 1), LimitExceededError,
         "Tag key is 251 characters long"),
    case("1 MB param key", lambda t: t.c.log_param(t.r, "k" * MB, "v"), LimitExceededError,
         "Param key is 1000000 characters long"),
    case("param value too long", lambda t: t.c.log_param(t.r, "p", "v" * 6001), LimitExceededError,
         "Param 'p' value is 6001 characters long"),
    case("1 MB param value", lambda t: t.c.log_param(t.r, "p", "v" * MB), LimitExceededError,
         "Param 'p' value is 1000000 characters long (starts 'vvvv"),
    case("tag value too long", lambda t: t.c.set_tag(t.r, "t", "v" * 5001), LimitExceededError,
         "Tag 't' value is 5001 characters long (starts 'vvvv"),
    case("key with bad characters", lambda t: t.c.log_metric(t.r, "acc;drop", 1.0), InvalidNameError,
         "Invalid metric key 'acc;drop': names may contain only"),
    case("key with SQL injection", lambda t: t.c.set_tag(t.r, "x'; DROP TABLE tags; --", "v"),
         InvalidNameError, "Invalid tag key \"x'; DROP TABLE tags; --\""),
    case("key with a newline", lambda t: t.c.log_param(t.r, "a\nb", 1), InvalidNameError,
         "Invalid param key 'a\\nb'"),
    case("key ending in a newline", lambda t: t.c.log_metric(t.r, "loss\n", 1.0), InvalidNameError,
         "Invalid metric key 'loss\\n'"),
    case("run id ending in a newline", lambda t: t.c.get_metric_history(NO_RUN + "\n", "m"), InvalidNameError,
         "Invalid run id 'feedbeef\\n'"),
    case("key with ..", lambda t: t.c.log_param(t.r, "a/../b", 1), InvalidNameError,
         "Invalid param key 'a/../b'"),
    case("absolute key", lambda t: t.c.set_tag(t.r, "/etc", 1), InvalidNameError,
         "Invalid tag key '/etc'"),
    case("empty key", lambda t: t.c.log_metric(t.r, "", 1.0), InvalidNameError, "Invalid metric key ''"),
    case("int as key", lambda t: t.c.log_metric(t.r, 42, 1.0), InvalidNameError,
         "Invalid metric key 42: must be a string, not int"),
    case("list as key", lambda t: t.c.log_metric(t.r, ["a"], 1.0), InvalidNameError,
         "Invalid metric key ['a']: must be a string, not list"),
    case("string metric value", lambda t: t.c.log_metric(t.r, "m", "0.5"), InvalidValueError,
         "Metric 'm' value must be a number (int or float; NaN and +/-inf are kept); got '0.5' of type str"),
    case("10^400 as a string", lambda t: t.c.log_metric(t.r, "m", "1e400"), InvalidValueError,
         "got '1e400' of type str"),
    case("int beyond a double", lambda t: t.c.log_metric(t.r, "m", 10**400), InvalidValueError,
         "Metric 'm' value must be a number within a double's range"),
    case("dict as metric value", lambda t: t.c.log_metric(t.r, "m", {"a": 1}), InvalidValueError,
         "got {'a': 1} of type dict"),
    case("None metric value", lambda t: t.c.log_metric(t.r, "m", None), InvalidValueError,
         "got None of type NoneType"),
    case("float step", lambda t: t.c.log_metric(t.r, "m", 1.0, step=1.5), InvalidValueError,
         "Metric step must be an integer from -9223372036854775808 to 9223372036854775807 (64-bit); got 1.5"),
    case("bool as step", lambda t: t.c.log_metric(t.r, "m", 1.0, step=True), InvalidValueError,
         "got True of type bool"),
    case("step too big for a long", lambda t: t.c.log_metric(t.r, "m", 1.0, step=2**63), InvalidValueError,
         "Metric step must be an integer from -9223372036854775808 to 9223372036854775807 (64-bit); "
         "got 9223372036854775808"),
    case("negative timestamp", lambda t: t.c.log_metric(t.r, "m", 1.0, timestamp=-1), InvalidValueError,
         "Metric timestamp must be epoch milliseconds as an int from 0 to 253402300799999 (9999-12-31); got -1"),
    case("timestamp after the year 9999", lambda t: t.c.log_metric(t.r, "m", 1.0, timestamp=10**18),
         InvalidValueError, "got 1000000000000000000 of type int"),
    case("bad batch metric", lambda t: t.c.log_batch(t.r, metrics=[Metric(key="ok", value=1.0, timestamp=1),
                                                                     Metric(key="bad", value="x", timestamp=1)]),
         InvalidValueError, "Metric 'bad' value must be a number (int or float; NaN and +/-inf are kept); got 'x'"),
    case("bad batch param", lambda t: t.c.log_batch(t.r, params=[Param(key="ok", value=1), Param(key="bad!", value=2)]),
         InvalidNameError, "Invalid param key 'bad!'"),
    case("bad batch tag", lambda t: t.c.log_batch(t.r, tags=[RunTag(key="t", value="x" * 5001)]),
         LimitExceededError, "Tag 't' value is 5001 characters long"),
    case("batch of tuples", lambda t: t.c.log_batch(t.r, metrics=[("m", 1.0, 0, 0)]), InvalidValueError,
         "Each of log_batch metrics must be a sparktrack.Metric(key=..., value=..., timestamp=..., step=...); "
         "got ('m', 1.0, 0, 0) of type tuple"),
    case("batch params as a dict", lambda t: t.c.log_batch(t.r, params={"a": 1}), InvalidValueError,
         "log_batch params must be a list of sparktrack.Param(key=..., value=...); got {'a': 1} of type dict"),
    case("param changed", lambda t: t.c.log_param(t.r, "kept", "no"), ParamOverwriteError,
         "is already 'yes'; cannot change it to 'no'"),
    # -- runs -------------------------------------------------------------------------------------
    case("unknown run id", lambda t: t.c.log_metric(NO_RUN, "m", 1.0), RunNotFoundError,
         f"No run with id '{NO_RUN}'"),
    case("run id with quotes", lambda t: t.c.get_run("x' OR '1'='1"), InvalidNameError,
         "Invalid run id \"x' OR '1'='1\""),
    case("delete_run with injection", lambda t: t.c.delete_run("1; DROP TABLE runs"), InvalidNameError,
         "Invalid run id '1; DROP TABLE runs'"),
    case("restore_run of an empty id", lambda t: t.c.restore_run(""), InvalidNameError, "Invalid run id ''"),
    case("run name too long", lambda t: t.c.create_run("0", run_name="n" * 251), LimitExceededError,
         "Run name is 251 characters long"),
    case("list as run name", lambda t: t.c.create_run("0", run_name=["a"]), InvalidNameError,
         "Invalid run name ['a']: must be a string, not list"),
    case("unknown experiment", lambda t: t.c.create_run("deadbeef"), ExperimentNotFoundError,
         "No experiment with id 'deadbeef'"),
    case("experiment id with injection", lambda t: t.c.create_run("0' OR '1'='1"), InvalidNameError,
         "Invalid experiment id \"0' OR '1'='1\""),
    case("negative start_time", lambda t: t.c.create_run("0", start_time=-5), InvalidValueError,
         "start_time must be epoch milliseconds as an int from 0"),
    case("tuple as run tag key", lambda t: t.c.create_run("0", tags={("a",): 1}), InvalidNameError,
         "Invalid tag key ('a',): must be a string, not tuple"),
    case("bad status", lambda t: t.c.set_terminated(t.r, "DONE"), InvalidValueError,
         "Run status must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED; got 'DONE'"),
    case("string end_time", lambda t: t.c.set_terminated(t.r, end_time="yesterday"), InvalidValueError,
         "end_time must be epoch milliseconds as an int from 0 to 253402300799999 (9999-12-31); got 'yesterday'"),
    case("delete a tag the run lacks", lambda t: t.c.delete_tag(t.r, "missing"), NotFoundError,
         "has no tag 'missing'; its tags are ["),
    case("metric history of a bad key", lambda t: t.c.get_metric_history(t.r, "bad key!"), InvalidNameError,
         "Invalid metric key 'bad key!'"),
    # -- experiments ------------------------------------------------------------------------------
    case("empty experiment name", lambda t: t.c.create_experiment("  "), InvalidNameError,
         "Invalid experiment name '  '"),
    case("None as experiment name", lambda t: t.c.create_experiment(None), InvalidNameError,
         "Invalid experiment name None: must be a non-empty string"),
    case("experiment name with a NUL", lambda t: t.c.create_experiment("a\x00b"), InvalidNameError,
         "Invalid experiment name 'a\\x00b': must not contain control characters"),
    case("experiment name too long", lambda t: t.c.create_experiment("e" * 501), LimitExceededError,
         "Experiment name is 501 characters long"),
    case("experiment name in use", lambda t: t.c.create_experiment("Default"), AlreadyExistsError,
         "Experiment 'Default' already exists"),
    case("int as experiment name", lambda t: t.c.get_experiment_by_name(42), InvalidNameError,
         "Invalid experiment name 42"),
    case("delete_experiment(None)", lambda t: t.c.delete_experiment(None), InvalidNameError,
         "Invalid experiment id None"),
    case("restore an unknown experiment", lambda t: t.c.restore_experiment("nope"), ExperimentNotFoundError,
         "No experiment with id 'nope'"),
    case("experiment tag with a bad key", lambda t: t.c.set_experiment_tag("0", "bad key!", "v"),
         InvalidNameError, "Invalid tag key 'bad key!'"),
    case("search_experiments with OR", lambda t: t.c.search_experiments(filter_string="name = 'x' OR 1=1"),
         FilterSyntaxError, "OR is not supported: a filter is comparisons joined by AND; run two searches and "
         "combine the results at position 11:\n  name = 'x' OR 1=1"),
    case("search_experiments on metrics", lambda t: t.c.search_experiments(filter_string="metrics.a > 1"),
         FilterSyntaxError, "experiments have no metrics ('metrics.a')"),
    case("search_experiments unknown attribute",
         lambda t: t.c.search_experiments(filter_string="attribute.owner = 'x'"), FilterSyntaxError,
         "Unknown attribute 'owner' for experiments"),
    case("search_experiments with a runs prefix",
         lambda t: t.c.search_experiments(filter_string="attributes.name = 'x'"), FilterSyntaxError,
         "Invalid entity type 'attributes' in 'attributes.name': experiments spell it attribute"),
    case("search_experiments bad view type", lambda t: t.c.search_experiments(view_type="bogus"),
         InvalidValueError, "view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL; got 'bogus'"),
    # -- search_runs ------------------------------------------------------------------------------
    case("bad view type", lambda t: t.c.search_runs(["0"], run_view_type="SOME"), InvalidValueError,
         "run_view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL; got 'SOME'"),
    case("max_results 0", lambda t: t.c.search_runs(["0"], max_results=0), InvalidValueError,
         "max_results must be an integer from 1 to 1000000; got 0"),
    case("bool as max_results", lambda t: t.c.search_runs(["0"], max_results=True), InvalidValueError,
         "got True of type bool"),
    case("bad output format", lambda t: t.c.search_runs(["0"], output_format="json"), InvalidValueError,
         "output_format must be one of 'list', 'pandas', 'spark'; got 'json'"),
    case("no experiments", lambda t: t.c.search_runs([]), InvalidValueError,
         "search_runs experiments must be at least one experiment id or name (experiment_ids=[...] or "
         "experiment_names=[...]); got [] of type list"),
    case("unknown experiment name", lambda t: t.c.search_runs(experiment_names=["no such"]),
         ExperimentNotFoundError, "No experiment with name 'no such'"),
    case("experiment id with injection in search", lambda t: t.c.search_runs(["0' OR '1'='1"]),
         InvalidNameError, "Invalid experiment id \"0' OR '1'='1\""),
    filter_case("statement injection", "params.x = 'a'; DROP TABLE runs",
                "Unexpected ';' after a complete comparison"),
    filter_case("OR 1=1", "tags.t = 'x' OR 1=1",
                "OR is not supported: a filter is comparisons joined by AND; run two searches and combine "
                "the results at position 13:\n  tags.t = 'x' OR 1=1"),
    filter_case("SQL comment", "params.x = 'a' -- '", "Unexpected '-'"),
    filter_case("unbalanced quote", "params.x = 'abc", "Unterminated string: the ' here is never closed; end it "
                "with ' (write '' for a ' inside it) at position 11:\n  params.x = 'abc"),
    filter_case("backslash in LIKE", r"params.x LIKE 'a\b'", "LIKE pattern 'a\\b' has a backslash that escapes"),
    filter_case("unknown attribute", "attributes.nope = 'x'", "Unknown attribute 'nope' for runs"),
    filter_case("NaN literal", "metrics.m = NaN", "NaN is not a value a filter can compare with"),
    filter_case("string for a metric", "metrics.m > 'abc'", "got the string 'abc'"),
    filter_case("number for a param", "params.p = 5", "got the number 5: quote it as '5'"),
    filter_case("string for a time", "attributes.start_time > 'yesterday'", "got the string 'yesterday'"),
    filter_case("== operator", "metrics.m == 1", "Unknown operator '=='"),
    filter_case("parentheses", "(metrics.a > 1)", "Parentheses are only allowed around IN lists: a filter is "
                "comparisons joined by AND, without grouping at position 0:\n  (metrics.a > 1)"),
    filter_case("upper-case entity", "METRICS.a > 1", "Invalid entity type 'METRICS'"),
    filter_case("IS NULL on an attribute", "attributes.status IS NULL", "IS NULL / IS NOT NULL is supported for"),
    filter_case("= NULL", "params.p = NULL", "Compare with NULL using IS NULL or IS NOT NULL"),
    filter_case("an attribute MLflow refuses", "attributes.lifecycle_stage = 'active'",
                "Unknown attribute 'lifecycle_stage' for runs"),
    filter_case("1 MB value", "params.x = '" + "a" * MB + "' OR 1=1", "at position 1000014:\n  ...aaaa"),
    filter_case("number beyond a double", "metrics.m > 1e400", "Number 1e400 is out of range"),
    case("int as filter_string", lambda t: t.c.search_runs(["0"], 42), InvalidValueError,
         "filter_string must be a string such as \"metrics.accuracy > 0.9 AND params.model = 'gbt'\", or None; "
         "got 42 of type int"),
    case("order_by garbage", lambda t: t.c.search_runs(["0"], order_by=["metrics.a SIDEWAYS"]),
         FilterSyntaxError, "got 'SIDEWAYS'"),
    case("int as order_by clause", lambda t: t.c.search_runs(["0"], order_by=[42]), FilterSyntaxError,
         "order_by clauses are strings; got 42 of type int"),
    case("int as order_by", lambda t: t.c.search_runs(["0"], order_by=42), InvalidValueError,
         "order_by must be a list of clauses such as ['metrics.accuracy DESC']; got 42 of type int"),
    case("two clauses in one order_by item", lambda t: t.c.search_runs(["0"], order_by=["metrics.a DESC, metrics.b"]),
         FilterSyntaxError, "Unexpected ',' after the sort direction"),
    # -- artifacts --------------------------------------------------------------------------------
    case("artifact path traversal", lambda t: t.c.log_text(t.r, "x", "../../etc/passwd"), InvalidNameError,
         "Invalid artifact path '../../etc/passwd': must be relative to the run's artifact root, without '..'"),
    case("absolute artifact path", lambda t: t.c.log_text(t.r, "x", "/etc/passwd"), InvalidNameError,
         "Invalid artifact path '/etc/passwd'"),
    case("backslash traversal", lambda t: t.c.log_text(t.r, "x", "..\\..\\evil.txt"), InvalidNameError,
         "Invalid artifact path '..\\\\..\\\\evil.txt'"),
    case("empty artifact file", lambda t: t.c.log_text(t.r, "x", ""), InvalidNameError,
         "Invalid artifact file ''"),
    case("int as artifact path", lambda t: t.c.log_dict(t.r, {"a": 1}, 42), InvalidNameError,
         "Invalid artifact path 42: must be a string such as 'plots/roc.png', not int"),
    case("log_artifact out of the run", lambda t: t.c.log_artifact(t.r, t.file, "../up"), InvalidNameError,
         "Invalid artifact path '../up'"),
    case("download traversal", lambda t: t.c.download_artifacts(t.r, "../../", t.tmp), InvalidNameError,
         "Invalid artifact path '../../'"),
    case("missing local artifact", lambda t: t.c.log_artifact(t.r, "/no/such/file"), ArtifactNotFoundError,
         "No artifact or local file at '/no/such/file'"),
    case("log_text of bytes", lambda t: t.c.log_text(t.r, b"x", "a.txt"), InvalidValueError,
         "log_text text must be a str; got b'x' of type bytes"),
    # -- the fluent API with no active run: no run is started for bad input ------------------------
    case("fluent log_metric, bad key", lambda t: sparktrack.log_metric("bad key!", 1.0), InvalidNameError,
         "Invalid metric key 'bad key!'"),
    case("fluent log_params, long value", lambda t: sparktrack.log_params({"p": "v" * 6001}), LimitExceededError,
         "Param 'p' value is 6001 characters long"),
    case("fluent set_tag, list as key", lambda t: sparktrack.set_tag(["k"], "v"), InvalidNameError,
         "Invalid tag key ['k']"),
    case("fluent log_text, traversal", lambda t: sparktrack.log_text("x", "../x.txt"), InvalidNameError,
         "Invalid artifact path '../x.txt'"),
    case("fluent log_artifact, missing file", lambda t: sparktrack.log_artifact("/no/such/file"),
         ArtifactNotFoundError, "No artifact or local file at '/no/such/file'"),
    # -- registry ---------------------------------------------------------------------------------
    case("model name with a space", lambda t: t.reg.create_registered_model("bad name!"), InvalidNameError,
         "Invalid registered model name 'bad name!': use letters, digits"),
    case("model name of four parts", lambda t: t.reg.create_registered_model("a.b.c.d"), InvalidNameError,
         "Invalid registered model name 'a.b.c.d'"),
    case("model name with injection", lambda t: t.reg.create_registered_model("x'; DROP TABLE model_versions; --"),
         InvalidNameError, "Invalid registered model name \"x'; DROP TABLE model_versions; --\""),
    case("1 MB model name", lambda t: t.reg.create_registered_model("m" * MB), InvalidNameError,
         "Invalid registered model name 'mmmm"),
    case("model name in use", lambda t: t.reg.create_registered_model(MODEL), AlreadyExistsError,
         f"Registered model '{MODEL}' already exists"),
    case("lookup with injection", lambda t: t.reg.get_registered_model("x' OR '1'='1"), InvalidNameError,
         "Invalid registered model name \"x' OR '1'='1\""),
    case("register models:/nope/1", lambda t: t.reg.register_model("models:/nope/1", "m2"),
         RegisteredModelNotFoundError, "Registered model 'nope' does not exist"),
    case("register models:/x@", lambda t: t.reg.register_model("models:/x@", "m2"), InvalidNameError,
         "Invalid model URI 'models:/x@': use models:/<name>/<version>"),
    case("register runs:/", lambda t: t.reg.register_model("runs:/", "m2"), InvalidNameError,
         "Invalid model URI 'runs:/': use runs:/<run_id>/<artifact path>"),
    case("register runs:/<id> without a path", lambda t: t.reg.register_model(f"runs:/{t.r}", "m2"),
         InvalidNameError, "Invalid model URI 'runs:/"),
    case("register a run that does not exist", lambda t: t.reg.register_model(f"runs:/{NO_RUN}/model", "m2"),
         RunNotFoundError, f"No run with id '{NO_RUN}'"),
    case("register a path out of the run", lambda t: t.reg.register_model(f"runs:/{t.r}/../../etc", "m2"),
         InvalidNameError, "Invalid artifact path '../../etc'"),
    case("register None", lambda t: t.reg.register_model(None, "m2"), InvalidValueError,
         "model_uri must be a model URI such as runs:/<run_id>/model; got None"),
    case("register under a bad name", lambda t: t.reg.register_model(f"runs:/{t.r}/model", "bad name!"),
         InvalidNameError, "Invalid registered model name 'bad name!'"),
    case("register models:/<name>/abc", lambda t: sparktrack.register_model(f"models:/{MODEL}/abc", "m2"),
         InvalidValueError, "Model version must be a positive integer such as 3 or '3'; got 'abc'"),
    case("version 0", lambda t: t.reg.get_model_version(MODEL, 0), InvalidValueError, "got 0 of type int"),
    case("version -1", lambda t: t.reg.get_model_version(MODEL, -1), InvalidValueError, "got -1 of type int"),
    case("version 'abc'", lambda t: t.reg.get_model_version(MODEL, "abc"), InvalidValueError,
         "got 'abc' of type str"),
    case("bool as version", lambda t: t.reg.get_model_version(MODEL, True), InvalidValueError,
         "got True of type bool"),
    case("version 1.5", lambda t: t.reg.get_model_version(MODEL, 1.5), InvalidValueError, "got 1.5 of type float"),
    case("unknown alias", lambda t: t.reg.get_model_version_by_alias(MODEL, "nope"), RegisteredModelNotFoundError,
         f"Alias 'nope' of registered model '{MODEL}' does not exist"),
    case("alias on a missing version", lambda t: t.reg.set_registered_model_alias(MODEL, "Champion", 99),
         RegisteredModelNotFoundError, f"Version 99 of registered model '{MODEL}' does not exist"),
    case("alias 'latest'", lambda t: t.reg.set_registered_model_alias(MODEL, "latest", 1), InvalidNameError,
         "Invalid alias 'latest'"),
    case("alias with injection", lambda t: t.reg.set_registered_model_alias(MODEL, "a'; DROP TABLE x", 1),
         InvalidNameError, "Invalid alias \"a'; DROP TABLE x\""),
    case("alias on version 'abc'", lambda t: t.reg.set_registered_model_alias(MODEL, "Champion", "abc"),
         InvalidValueError, "got 'abc' of type str"),
    case("unknown stage", lambda t: t.reg.transition_model_version_stage(MODEL, 1, "Prod"), InvalidValueError,
         "Stage must be one of None, Staging, Production, Archived; got 'Prod'"),
    case("rename to a bad name", lambda t: t.reg.rename_registered_model(MODEL, "bad name!"), InvalidNameError,
         "Invalid registered model name 'bad name!'"),
    case("as_of that is no time", lambda t: t.reg.get_registered_model(MODEL, as_of="yesterday"),
         InvalidValueError, "as_of must be an ISO-8601 time such as '2026-11-01T12:00:00'; got 'yesterday'"),
    case("1 MB version tag", lambda t: t.reg.set_model_version_tag(MODEL, 1, "k", "v" * MB), LimitExceededError,
         "Tag 'k' value is 1000000 characters long"),
    case("model tag with a bad key", lambda t: t.reg.set_registered_model_tag(MODEL, "bad key!", "v"),
         InvalidNameError, "Invalid tag key 'bad key!'"),
    case("search_registered_models with OR", lambda t: t.reg.search_registered_models("name = 'x' OR 1=1"),
         FilterSyntaxError, "at position 11:\n  name = 'x' OR 1=1"),
    case("search_registered_models on metrics", lambda t: t.reg.search_registered_models("metrics.a > 1"),
         FilterSyntaxError, "registered models have no metrics ('metrics.a')"),
    case("int as registered-model filter", lambda t: t.reg.search_registered_models(42), InvalidValueError,
         "got 42 of type int"),
    case("search_model_versions string version", lambda t: t.reg.search_model_versions("version_number = 'abc'"),
         FilterSyntaxError, "got the string 'abc'"),
    case("search_model_versions number run_id", lambda t: t.reg.search_model_versions("run_id = 1"),
         FilterSyntaxError, "got the number 1"),
    case("search_model_versions injection",
         lambda t: t.reg.search_model_versions("name = 'x'; DROP TABLE model_versions"),
         FilterSyntaxError, "Unexpected ';'"),
    case("search_model_versions max_results 0", lambda t: t.reg.search_model_versions(max_results=0),
         InvalidValueError, "got 0 of type int"),
    # -- loading models ---------------------------------------------------------------------------
    case("load models:/nope/1", lambda t: sparktrack.load_model("models:/nope/1"), RegisteredModelNotFoundError,
         "Registered model 'nope' does not exist"),
    case("load models:/x@", lambda t: sparktrack.load_model("models:/x@"), ModelURIError,
         "Model URI 'models:/x@' is not of the form models:/<name>@<alias>"),
    case("load models:/x", lambda t: sparktrack.load_model("models:/x"), ModelURIError,
         "Model URI 'models:/x' needs a version number, 'latest' or '@<alias>'"),
    case("load models:/<name>/0", lambda t: sparktrack.load_model(f"models:/{MODEL}/0"), ModelURIError,
         f"Model URI 'models:/{MODEL}/0' needs a version number"),
    case("load runs:/", lambda t: sparktrack.load_model("runs:/"), ModelURIError,
         "Model URI 'runs:/' has no run id"),
    case("load runs:/<id> without a path", lambda t: sparktrack.load_model(f"runs:/{t.r}"), ModelURIError,
         "has no artifact path after the run id"),
    case("load a run that does not exist", lambda t: sparktrack.load_model(f"runs:/{NO_RUN}/model"),
         ModelNotFoundError, f"No model at 'runs:/{NO_RUN}/model': no run with id '{NO_RUN}'"),
    case("load a path with no model", lambda t: sparktrack.load_model(f"runs:/{t.r}/nomodel"), ModelNotFoundError,
         "/nomodel has no sparktrack_model.json"),
    case("spark.load_model of a missing directory", lambda t: sparktrack.spark.load_model("/no/such/dir"),
         ModelNotFoundError, "No model at '/no/such/dir'"),
    case("pyfunc.load_model of an unknown scheme", lambda t: sparktrack.pyfunc.load_model("nosuch://x/y"),
         ModelURIError, "Model URI 'nosuch://x/y' has a scheme (nosuch:) that no filesystem serves"),
    case("load None", lambda t: sparktrack.load_model(None), ModelURIError,
         "Model URI None is not a non-empty string"),
    # -- batch scoring ----------------------------------------------------------------------------
    case("score in an unknown mode", lambda t: batch_score(f"models:/{MODEL}/1", "/in", "/out", mode="upsert"),
         InvalidValueError, "mode must be one of ['append', 'overwrite']; got 'upsert'"),
    case("score with an injected batch id",
         lambda t: batch_score(f"models:/{MODEL}/1", "/in", "/out", batch_id="b'; DROP TABLE x"),
         InvalidValueError, "batch_id must be 1-200 letters, digits or the characters _ . : @ / -; "
         "got \"b'; DROP TABLE x\""),
    case("score into an injected table name", lambda t: batch_score(f"models:/{MODEL}/1", "/in", "x; DROP TABLE y"),
         InvalidValueError, "got 'x; DROP TABLE y'"),
    case("score an int input", lambda t: batch_score(f"models:/{MODEL}/1", 42, "/out"), InvalidValueError,
         "input must be a Delta table path or a catalog table name (db.table); got 42 of type int"),
]


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    local_file = tmp / "local.txt"
    local_file.write_text("a local file")
    with fresh_store() as client:
        run_id = client.create_run("0", run_name="target").info.run_id
        client.log_param(run_id, "kept", "yes")
        registry = RegistryClient(client.store_root, policy={})
        registry.register_model(str(tmp / "a-model"), MODEL)  # no case loads it: a path is enough
        client.flush()
        yield Target(c=client, r=run_id, reg=registry, file=str(local_file), tmp=str(tmp / "downloads"))


def _state(t: Target) -> dict:
    """What a case must not change: each table's latest Delta commit, the records buffered and not
    yet committed, the artifact files, and the active run."""
    pending = t.c.store.buffer.pending()  # read before the flush, which would commit them
    t.c.flush()
    root = t.c.store_root.removeprefix("file:")
    tables = {}
    for log in glob.glob(os.path.join(root, "tables", "*", "_delta_log")):
        versions = [int(name[:-5]) for name in os.listdir(log) if name.endswith(".json")]
        tables[os.path.basename(os.path.dirname(log))] = max(versions)
    artifacts = sorted(os.path.join(d, f) for d, _, files in os.walk(os.path.join(root, "artifacts")) for f in files)
    active = sparktrack.active_run()
    return {"pending": pending, "tables": tables, "artifacts": artifacts,
            "active_run": active and active.info.run_id}


@pytest.mark.parametrize(("call", "error", "fragment"), CASES)
def test_bad_input_gets_the_documented_error_and_changes_nothing(target, call, error, fragment):
    before = _state(target)
    with pytest.raises(error) as caught:
        call(target)
    message = str(caught.value)
    assert fragment in message
    assert len(message) < MAX_MESSAGE, message[:MAX_MESSAGE]
    assert _state(target) == before


def test_the_corpus_is_large():
    assert len([c for c in CASES if not c.marks]) >= 55


def test_extreme_values_are_stored_faithfully(client):
    run_id = client.create_run("0").info.run_id
    for key, value in [("nan", math.nan), ("pinf", math.inf), ("ninf", -math.inf)]:
        client.log_metric(run_id, key, value)
    client.log_metric(run_id, "edges", 1.0, step=validation.MAX_STEP, timestamp=validation.MAX_TIMESTAMP)
    client.log_metric(run_id, "edges", 2.0, step=validation.MIN_STEP, timestamp=0)
    client.set_terminated(run_id)  # commits
    rows = {r["key"]: r["value"] for r in client.store.reads.matching(layout.METRICS, "run_id", run_id).to_pylist()}
    assert math.isnan(rows["nan"]) and rows["pinf"] == math.inf and rows["ninf"] == -math.inf
    edges = client.get_metric_history(run_id, "edges")
    assert [(m.step, m.timestamp) for m in edges] == [(validation.MIN_STEP, 0),
                                                       (validation.MAX_STEP, validation.MAX_TIMESTAMP)]


@pytest.mark.parametrize("key", ["a" * 250, "val/loss", "epoch:1", "a b", "x-y_z.w"])
def test_keys_mlflow_accepts_are_accepted(key):
    assert validation.validate_key(key, "metric") == key


def test_unknown_config_key_is_an_error(tmp_path, monkeypatch):
    from sparktrack import settings

    conf = tmp_path / "sparktrack.toml"
    conf.write_text('[sparktrack]\nstore = "/tmp/x"\nstroe = "/tmp/y"\n')
    monkeypatch.setenv("SPARKTRACK_CONF", str(conf))
    settings._read_config.cache_clear()
    with pytest.raises(ConfigError, match=r"Unknown key\(s\) \['stroe'\]"):
        settings.STORE.get()
    conf.write_text('[sparktrack]\nflush_interval = -1\n')
    settings._read_config.cache_clear()
    with pytest.raises(ConfigError, match="must be a number greater than 0"):
        settings.FLUSH_INTERVAL.get()
    conf.write_text('[sparktrack]\nstore = "/data/store"\n[sparktrack.spark]\n"spark.executor.memory" = "2g"\n')
    settings._read_config.cache_clear()
    assert settings.STORE.get() == "/data/store"
    assert settings.SPARK_CONF.get() == {"spark.executor.memory": "2g"}
    monkeypatch.setenv("SPARKTRACK_STORE", "/env/wins")
    assert settings.STORE.get() == "/env/wins"
    assert settings.STORE.get("/argument/wins") == "/argument/wins"
    settings._read_config.cache_clear()
