"""The ``sparktrack`` command line in process (``sql`` on the test session's Spark, the rest with no
JVM), and the demo once as a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

import sparktrack
from sparktrack.cli import build_parser, main
from sparktrack.testing import fresh_store


@pytest.fixture
def store(tmp_path):
    """A fresh store root under tmp_path, which the fluent API logs to."""
    root = str(tmp_path / "store")
    with fresh_store(root=root):
        yield root


@pytest.fixture
def spark_store(spark, tmp_path):
    """As ``store``, with the test session's SparkSession."""
    root = str(tmp_path / "store")
    with fresh_store(spark, root=root):
        yield root


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(out: str) -> list[list[str]]:
    """The cells of a table's body (after its header and rule), split on runs of spaces."""
    return [line.split() for line in out.strip().splitlines()[2:]]


def log_run(experiment: str, name: str, lr: str, acc: float) -> str:
    sparktrack.set_experiment(experiment)
    with sparktrack.start_run(run_name=name) as run:
        sparktrack.log_param("lr", lr)
        sparktrack.log_metric("acc", acc)
    return run.info.run_id


# -- the command line, no Spark ------------------------------------------------------------------
def test_store_is_accepted_before_and_after_the_subcommand():
    parser = build_parser()
    assert parser.parse_args(["runs"]).store is None  # TrackingClient then reads SPARKTRACK_STORE
    assert parser.parse_args(["--store", "a", "runs"]).store == "a"
    assert parser.parse_args(["runs", "--store", "b"]).store == "b"
    assert parser.parse_args(["--store", "a", "sql", "SELECT 1", "--store", "b"]).store == "b"
    args = parser.parse_args(["runs", "--experiment", "x", "y", "--experiment", "z",
                              "--order-by", "metrics.acc DESC", "--columns", "a,b", "--columns", "c"])
    assert args.experiment == ["x", "y", "z"] and args.order_by == ["metrics.acc DESC"]


def test_malformed_command_lines_exit_2(capsys):
    assert main(["runs", "--format", "xml"]) == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err
    assert main(["runs", "--max-results", "0"]) == 2
    assert "must be greater than 0" in capsys.readouterr().err
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sparktrack {sparktrack.__version__}"


# -- in process ----------------------------------------------------------------------------------
def test_experiments_lists_the_default_experiment(store, capsys):
    code, out, err = cli(capsys, "--store", store, "experiments")
    assert code == 0
    assert out.splitlines()[0].split() == ["experiment_id", "name", "lifecycle", "created"]
    assert table_rows(out)[0][:3] == ["0", "Default", "active"]
    assert f"Opening store at {store}... done in " in err

    doomed = sparktrack.create_experiment("/cli/doomed")
    sparktrack.delete_experiment(doomed)
    code, out, _ = cli(capsys, "experiments", "--store", store, "--format", "json")
    assert [(e["experiment_id"], e["name"]) for e in json.loads(out)] == [("0", "Default")]
    assert json.loads(out)[0]["created"].endswith("Z")
    code, out, _ = cli(capsys, "experiments", "--store", store, "--all", "--filter", "name LIKE '/cli/%'")
    assert code == 0 and [row[:3] for row in table_rows(out)] == [[doomed, "/cli/doomed", "deleted"]]


def test_runs_lists_runs_of_every_active_experiment(store, capsys):
    first = log_run("/cli/a", "first", "0.1", 0.7)
    second = log_run("/cli/b", "second", "0.01", 0.9)

    code, out, err = cli(capsys, "--store", store, "runs")
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header == ["run_id", "run_name", "status", "start_time", "metrics.acc", "params.lr"]
    rows = table_rows(out)
    assert [row[:3] for row in rows] == [[second, "second", "FINISHED"], [first, "first", "FINISHED"]]
    assert rows[0][-2:] == ["0.9", "0.01"]

    code, out, _ = cli(capsys, "runs", "--store", store, "--order-by", "metrics.acc ASC", "--format", "json")
    records = json.loads(out)
    assert [(r["run_name"], r["metrics.acc"], r["params.lr"]) for r in records] == [
        ("first", 0.7, "0.1"), ("second", 0.9, "0.01"),
    ]
    assert records[0]["start_time"].endswith("Z")

    code, out, _ = cli(capsys, "runs", "--store", store, "--experiment", "/cli/a")
    assert [row[1] for row in table_rows(out)] == ["first"]
    experiment_b = sparktrack.get_experiment_by_name("/cli/b").experiment_id
    code, out, _ = cli(capsys, "runs", "--store", store, "--experiment-id", experiment_b)
    assert [row[1] for row in table_rows(out)] == ["second"]

    code, out, err = cli(capsys, "runs", "--store", store, "--filter", "metrics.acc > 0.5",
                         "--columns", "params.lr,metrics.missing", "--format", "csv", "--max-results", "1")
    assert code == 0
    header, *lines = csv.reader(io.StringIO(out))
    assert header == ["run_id", "run_name", "status", "start_time", "params.lr", "metrics.missing"]
    assert [line[:3] + line[4:] for line in lines] == [[second, "second", "FINISHED", "0.01", ""]]
    assert "none of these runs has metrics.missing" in err
    assert "more runs match; showing the first 1" in err

    code, out, _ = cli(capsys, "runs", "--store", store, "--filter", "metrics.acc > 5")
    assert code == 0 and out == "No runs match.\n"


def test_runs_with_a_malformed_filter_exits_2_and_shows_where(store, capsys):
    code, out, err = cli(capsys, "--store", store, "runs", "--filter", "metrics.acc >")
    assert code == 2
    assert out == ""
    assert "error: Expected a value (a quoted string or a number) after '>', got end of input at " \
           "position 13:\n  metrics.acc >\n               ^\n" in err
    assert "Traceback" not in err


def test_runs_of_an_unknown_experiment_exits_2(store, capsys):
    code, _, err = cli(capsys, "--store", store, "runs", "--experiment", "/cli/nope")
    assert code == 2
    assert "error: No experiment with name '/cli/nope'." in err


def test_sql_prints_the_statement_result(spark_store, capsys):
    store = spark_store
    log_run("/cli/sql", "only", "0.1", 0.5)
    code, out, err = cli(capsys, "--store", store, "sql", "SELECT count(*) AS n FROM sparktrack.runs")
    assert code == 0, err
    assert out.splitlines() == ["n", "-", "1"]

    code, out, _ = cli(capsys, "--store", store, "sql", "--format", "json",
                       "SELECT run_name, metrics, params['lr'] AS lr FROM sparktrack.runs")
    assert json.loads(out) == [{"run_name": "only", "metrics": {"acc": 0.5}, "lr": "0.1"}]

    code, out, err = cli(capsys, "--store", store, "sql", "SELECT id FROM range(5) ORDER BY id", "--limit", "2")
    assert table_rows(out) == [["0"], ["1"]]
    assert "more rows follow; showing the first 2" in err


def test_sql_error_exits_2_without_a_traceback(spark_store, capsys):
    store = spark_store
    code, out, err = cli(capsys, "--store", store, "sql", "SELECT * FROM sparktrack.nope")
    assert code == 2 and out == ""
    assert err.startswith(f"Opening store at {store}... done in ") and "\nerror: [" in err
    assert "TABLE_OR_VIEW_NOT_FOUND" in err
    assert "Traceback" not in err


def test_demo_rejects_too_few_rows(store, capsys):
    code, _, err = cli(capsys, "--store", store, "demo", "--rows", "5")
    assert code == 2
    assert "error: The demo's rows must be an integer of at least 100; got 5" in err


# -- one real process ----------------------------------------------------------------------------
@pytest.mark.slow
def test_demo_runs_end_to_end_in_a_fresh_process(tmp_path):
    store = tmp_path / "store"
    env = {**os.environ, "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool")}
    env.pop("SPARKTRACK_STORE", None)
    result = subprocess.run(
        [sys.executable, "-m", "sparktrack.cli", "--store", str(store), "demo"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    out, err = result.stdout, result.stderr
    assert "gbt-depth-1: accuracy" in out and "gate not passed, not registered (job exit code 3)" in out
    assert "gbt-depth-4: accuracy" in out and "registered churn_gbt version 1, alias Champion moved here" in out
    assert "models:/churn_gbt@Champion (version 1) scored 2000 rows with transform" in out
    assert "models:/churn_rf@Champion (version 1) scored 2000 rows through Arrow (a pandas UDF)" in out
    assert "the table still holds 4000 rows" in out
    lines = [line.split() for line in out.splitlines()]
    header = lines.index(["customer_id", "prediction", "model_name", "model_version", "batch_id", "run_id",
                          "max_depth", "accuracy", "training_table", "training_version"])
    lineage = lines[header + 1:header + 7]
    assert [(row[0], row[2], row[3], row[-1]) for row in lineage] == [
        (str(i), name, "1", "0") for name in ("churn_gbt", "churn_rf") for i in range(3)]
    assert f"jobs/batch_score.py --store {store} --model models:/churn_gbt@Champion" in out
    assert "Alert rules triggered: population_stability_index > 0.2" in out
    header = lines.index(["column_name", "model_name", "model_version", "psi", "ks_pvalue", "js_distance",
                          "wasserstein"])
    worst, *others = lines[header + 1:header + 6]
    assert worst[:3] == ["monthly_charges", "churn_gbt", "1"] and float(worst[3]) > 0.2
    assert {row[0] for row in others} == {"tenure_months", "support_calls", "churned", "month_to_month"}
    assert all(float(row[3]) < 0.1 for row in others)  # unchanged from the training data
    assert "registered churn_rf_features version 1, trained on table version 1" in out
    assert "looked the features up point in time (table version 2) and scored 2000 rows" in out
    header = lines.index(["customer_id", "event_time", "support_calls_30d", "prediction", "model_version",
                          "feature_table", "trained_on_version"])
    assert [(row[0], row[-1]) for row in lines[header + 1:header + 4]] == [(str(i), "1") for i in range(3)]
    assert f"Starting Spark and opening store at {store}" in err and "Demo done in " in err
    assert "Traceback" not in err
    assert ":: resolving dependencies" not in err and "Ivy" not in out + err  # held back on success


# -- models -------------------------------------------------------------------------------------
def test_models_commands_list_describe_tag_and_move_aliases(capsys, store, tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    from sparktrack.registry import RegistryClient

    data = str(tmp_path / "train")
    write_deltalake(data, pa.table({"id": [0, 1, 2]}))
    with sparktrack.start_run() as run:
        sparktrack.log_input(data, context="training")
    registry = RegistryClient(store, policy={})
    for _ in range(2):
        registry.register_model(f"runs:/{run.info.run_id}/model", "churn")

    code, out, _ = cli(capsys, "models", "list", "--store", store)
    assert code == 0 and table_rows(out)[0][0] == "churn"
    code, _, err = cli(capsys, "models", "set-alias", "churn", "Champion", "2", "--store", store)
    assert code == 0 and "churn@Champion -> version 2" in err
    code, _, _ = cli(capsys, "models", "tag", "churn", "2", "validation_status", "approved", "--store", store)
    assert code == 0
    code, out, _ = cli(capsys, "models", "describe", "churn", "--alias", "Champion", "--format", "json",
                       "--store", store)
    described = json.loads(out)[0]
    assert code == 0 and described["version"] == 2 and described["aliases"] == "Champion"
    assert json.loads(described["tags"]) == {"validation_status": "approved"}
    assert described["training_data"] == f"file:{data}@v0"
    code, out, _ = cli(capsys, "models", "versions", "churn", "--format", "csv", "--store", store)
    assert [r["version"] for r in csv.DictReader(io.StringIO(out))] == ["2", "1"]
    code, _, err = cli(capsys, "models", "versions", "nope", "--store", store)
    assert code == 2 and "error: Registered model 'nope' does not exist" in err
    code, _, err = cli(capsys, "models", "set-alias", "churn", "latest", "1", "--store", store)
    assert code == 2 and "Invalid alias 'latest'" in err
