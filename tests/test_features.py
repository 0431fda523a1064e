"""Feature tables and point-in-time training sets on the test session's Spark, checked against
pandas.merge_asof."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from sparktrack.cli import main
from sparktrack.errors import InvalidValueError, TableNotFoundError
from sparktrack.features import FeatureEngineeringClient, FeatureLookup

pytestmark = pytest.mark.slow
EPOCH = pd.Timestamp("2026-01-01", tz="UTC")
WINDOW = dt.timedelta(seconds=50)


@pytest.fixture
def fe(spark, spark_client):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return FeatureEngineeringClient(client=spark_client)


def _seconds(values) -> pd.Series:
    return EPOCH + pd.to_timedelta(values, unit="s")


def random_tables(seed: int):
    """A time-series table (keys 0-24), a plain table (keys 0-19) and a spine over keys 0-29, with
    ties at exact timestamps, gaps of exactly the lookback window, and nulls stored as features."""
    rng = np.random.default_rng(seed)
    rows = []
    for key in range(25):
        times = rng.choice(np.arange(0, 2000, 7), size=rng.integers(1, 12), replace=False)
        for t in times:
            rows.append((key, int(t), None if rng.random() < 0.15 else float(rng.normal()),
                         None if rng.random() < 0.1 else f"s{rng.integers(0, 5)}"))
    series = pd.DataFrame(rows, columns=["customer_id", "t", "f1", "f2"])
    plain = pd.DataFrame({"customer_id": np.arange(20), "g": [None if k % 6 == 0 else k * 1.5 for k in range(20)]})
    spine_keys = rng.integers(0, 30, 400)
    spine_times = rng.integers(0, 2100, 400)
    exact = series.sample(40, random_state=seed)  # ties at the exact feature timestamp
    boundary = series.sample(40, random_state=seed + 1)  # exactly the lookback window after one
    spine = pd.DataFrame({
        "customer_id": np.concatenate([spine_keys, exact.customer_id, boundary.customer_id]),
        "t": np.concatenate([spine_times, exact.t, boundary.t + int(WINDOW.total_seconds())]),
    })
    spine["row"] = np.arange(len(spine))
    spine["label"] = spine.row % 2
    return series, plain, spine


def expected_frame(series, plain, spine) -> pd.DataFrame:
    left = spine.assign(event_time=_seconds(spine.t)).sort_values("event_time")
    right = series.assign(ts=_seconds(series.t)).sort_values("ts")[["customer_id", "ts", "f1", "f2"]]
    joined = pd.merge_asof(left, right, left_on="event_time", right_on="ts", by="customer_id",
                           direction="backward", allow_exact_matches=True, tolerance=pd.Timedelta(WINDOW))
    joined = joined.rename(columns={"f1": "a_f1"}).drop(columns=["ts"])
    with_plain = joined.merge(plain, on="customer_id", how="left")
    missing = ~with_plain.customer_id.isin(plain.customer_id)
    with_plain.loc[missing, "g"] = -1.0
    return with_plain[["customer_id", "event_time", "row", "label", "a_f1", "f2", "g"]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_point_in_time_lookups_match_pandas_merge_asof(spark, fe, tmp_path, seed):
    series, plain, spine = random_tables(seed)
    series_df = spark.createDataFrame(series.assign(ts=_seconds(series.t)).drop(columns=["t"]),
                                      "customer_id long, f1 double, f2 string, ts timestamp")
    fe.create_table(name=str(tmp_path / "series"), primary_keys=["customer_id", "ts"], timeseries_column="ts",
                    df=series_df, description="random series")
    fe.create_table(name=str(tmp_path / "plain"), primary_keys="customer_id",
                    df=spark.createDataFrame(plain, "customer_id long, g double"))
    spine_df = spark.createDataFrame(spine.assign(event_time=_seconds(spine.t)).drop(columns=["t"]),
                                     "customer_id long, row long, label long, event_time timestamp") \
        .select("customer_id", "event_time", "row", "label")
    training = fe.create_training_set(df=spine_df, label="label", feature_lookups=[
        FeatureLookup(table_name=str(tmp_path / "series"), lookup_key="customer_id", timestamp_lookup_key="event_time",
                      lookback_window=WINDOW, rename_outputs={"f1": "a_f1"}),
        FeatureLookup(table_name=str(tmp_path / "plain"), lookup_key=["customer_id"], feature_names=["g"],
                      default_values={"g": -1.0}),
    ])
    loaded = training.load_df()
    assert loaded.columns == ["customer_id", "event_time", "row", "label", "a_f1", "f2", "g"]
    rows = [(int(r.customer_id), r.event_time.to_pydatetime(), int(r.row), int(r.label),
             None if pd.isna(r.a_f1) else float(r.a_f1), None if pd.isna(r.f2) else r.f2,
             None if pd.isna(r.g) else float(r.g)) for r in expected_frame(series, plain, spine).itertuples()]
    expected = spark.createDataFrame(
        rows, "customer_id long, event_time timestamp, row long, label long, a_f1 double, f2 string, g double")
    assert loaded.count() == len(spine)
    assert_df_equality(loaded, expected, ignore_row_order=True, ignore_nullable=True)
    assert training.feature_table_versions == {str(tmp_path / "series"): 1, str(tmp_path / "plain"): 1}


def test_write_table_upserts_on_the_primary_key_adds_columns_and_refuses_duplicates(spark, fe, tmp_path):
    name = str(tmp_path / "customers")
    first = spark.createDataFrame([(1, 10.0), (2, 20.0)], "id long, spend double")
    table = fe.create_table(name=name, primary_keys=["id"], df=first, tags={"team": "a"})
    assert table.primary_keys == ("id",) and table.features == ("spend",) and table.tags == {"team": "a"}
    fe.write_table(name=name, df=spark.createDataFrame([(2, 25.0, 3), (3, 30.0, 1)], "id long, spend double, visits int"))
    expected = spark.createDataFrame([(1, 10.0, None), (2, 25.0, 3), (3, 30.0, 1)], "id long, spend double, visits int")
    assert_df_equality(fe.read_table(name=name), expected, ignore_row_order=True, ignore_nullable=True)
    assert fe.get_table(name=name).features == ("spend", "visits")
    assert_df_equality(fe.read_table(name=name, as_of=1), first, ignore_row_order=True, ignore_nullable=True)
    version = fe.get_table(name=name).delta_version
    with pytest.raises(InvalidValueError, match=r"duplicate primary keys, e\.g\. \[\{'id': 4\}\]"):
        fe.write_table(name=name, df=spark.createDataFrame([(4, 1.0), (4, 2.0)], "id long, spend double"))
    with pytest.raises(InvalidValueError, match=r"missing \['id'\]"):
        fe.write_table(name=name, df=spark.createDataFrame([(1.0,)], "spend double"))
    assert fe.get_table(name=name).delta_version == version


def test_bad_tables_and_lookups_are_clear_errors(spark, fe, tmp_path):
    ts = spark.createDataFrame([(1, dt.datetime(2026, 1, 1), 1.0)], "id long, ts timestamp, x double")
    name = str(tmp_path / "ts")
    fe.create_table(name=name, primary_keys=["id", "ts"], timeseries_column="ts", df=ts)
    spine = spark.createDataFrame([(1, dt.datetime(2026, 1, 2), "1")], "id long, at timestamp, sid string")
    cases = [
        (lambda: fe.create_table(name=str(tmp_path / "t2"), primary_keys=["nope"], df=ts), InvalidValueError,
         "missing ['nope']"),
        (lambda: fe.create_table(name=str(tmp_path / "t3"), primary_keys=["id", "x"], timeseries_column="x", df=ts),
         InvalidValueError, "a timestamp or date column; it is double"),
        (lambda: fe.create_table(name=name, primary_keys=["id"], df=ts), InvalidValueError, "does not exist yet"),
        (lambda: fe.get_table(name=str(tmp_path / "missing")), TableNotFoundError, "no feature table"),
        (lambda: FeatureLookup(table_name=name, lookup_key="id", lookback_window=dt.timedelta(0)),
         InvalidValueError, "a positive datetime.timedelta"),
        (lambda: FeatureLookup(table_name=name, lookup_key="id", lookback_window=5), InvalidValueError,
         "a positive datetime.timedelta"),
    ]

    def training(**lookup):
        return fe.create_training_set(df=spine, label=None, feature_lookups=[
            FeatureLookup(**{"table_name": name, "lookup_key": "id", "timestamp_lookup_key": "at", **lookup})])

    cases += [
        (lambda: training(lookup_key="customer"), InvalidValueError, "a column of df"),
        (lambda: training(lookup_key="sid"), InvalidValueError, "of the type of"),
        (lambda: training(feature_names=["y"]), InvalidValueError, "unknown ['y']"),
        (lambda: training(timestamp_lookup_key=None), InvalidValueError, "is a time-series table"),
        (lambda: training(timestamp_lookup_key="sid"), InvalidValueError, "a timestamp or date column of df"),
        (lambda: training(rename_outputs={"x": "sid"}), InvalidValueError, "'sid' comes from both df"),
        (lambda: fe.create_training_set(df=spine, label=None, feature_lookups=[
            FeatureLookup(table_name=name, lookup_key="id", timestamp_lookup_key="at"),
            FeatureLookup(table_name=name, lookup_key="id", timestamp_lookup_key="at")]),
         InvalidValueError, "distinct output columns; 'x'"),
        (lambda: fe.create_training_set(df=spine, label="nope", feature_lookups=[]), InvalidValueError,
         "a column of df"),
        (lambda: fe.create_table(name="bad name!", primary_keys=["id"], df=ts), InvalidValueError,
         "a catalog name of up to three dot-separated identifiers"),
        (lambda: fe.write_table(name=str(tmp_path / "missing"), df=ts), TableNotFoundError, "no feature table"),
        (lambda: fe.write_table(name=name, df=ts, mode="overwrite"), InvalidValueError, "'merge'"),
        (lambda: fe.read_table(name=name, as_of=1.5), InvalidValueError, "a Delta version (int)"),
        (lambda: fe.create_table(name=str(tmp_path / "t4"), primary_keys=["id"], df=ts, tags={"k": 1}),
         InvalidValueError, "a string of at most 5000"),
        (lambda: fe.score_batch(model_uri="models:/no_such_model/1", df=spine), Exception, "no_such_model"),
        (lambda: fe.score_batch(model_uri="nope:/x", df=spine), Exception, "nope:/x"),
    ]
    version = fe.get_table(name=name).delta_version
    for action, error, words in cases:
        with pytest.raises(error) as raised:
            action()
        assert words in str(raised.value), str(raised.value)
    assert fe.get_table(name=name).delta_version == version  # nothing written
    assert [t.name for t in fe.search_tables()] == [name]


def _customer_tables(spark, fe, tmp_path):
    """A time-series table of spend and visits (three versions per customer), a profile table of
    ages, and labels at times between the versions."""
    series = str(tmp_path / "customer_activity")
    profile = str(tmp_path / "customer_profile")
    day = dt.datetime(2026, 3, 1)
    activity = [(c, day + dt.timedelta(days=d), float(c * 10 + d), c + d) for c in range(1, 9) for d in (0, 5, 10)]
    fe.create_table(name=series, primary_keys=["customer_id", "ts"], timeseries_column="ts",
                    df=spark.createDataFrame(activity, "customer_id long, ts timestamp, spend double, visits long"),
                    description="daily activity", tags={"team": "growth"})
    fe.create_table(name=profile, primary_keys="customer_id",
                    df=spark.createDataFrame([(c, 20 + 3 * c) for c in range(1, 8)], "customer_id long, age long"))
    labels = spark.createDataFrame(
        [(c, day + dt.timedelta(days=(c * 3) % 12, hours=1), float(c % 4), int(c % 3 == 0)) for c in range(1, 10)],
        "customer_id long, event_time timestamp, tenure double, churned long")
    lookups = [FeatureLookup(table_name=series, lookup_key="customer_id", timestamp_lookup_key="event_time"),
               FeatureLookup(table_name=profile, lookup_key="customer_id", rename_outputs={"age": "customer_age"},
                             default_values={"age": 0})]
    return series, profile, labels, lookups


def test_a_model_logged_with_its_training_set_looks_its_features_up_when_scoring(spark, fe, spark_client, tmp_path,
                                                                                  capsys):
    from sklearn.tree import DecisionTreeClassifier

    import sparktrack
    from sparktrack.scoring import batch_score

    series, profile, labels, lookups = _customer_tables(spark, fe, tmp_path)
    training = fe.create_training_set(df=labels, feature_lookups=lookups, label="churned",
                                      exclude_columns=["customer_id", "event_time"])
    train = training.load_df().toPandas()
    assert list(train.columns) == ["tenure", "churned", "spend", "visits", "customer_age"]
    features = ["tenure", "spend", "visits", "customer_age"]
    model = DecisionTreeClassifier(random_state=0).fit(train[features], train.churned)
    with sparktrack.start_run():
        info = fe.log_model(model=model, artifact_path="model", flavor=sparktrack.sklearn, training_set=training,
                            registered_model_name="churn_features")
    spec = info.descriptor.feature_spec
    assert spec["keys"] == ["customer_id", "event_time"] and spec["training_columns"] == ["tenure"]
    assert [(s["table_name"], s["delta_version"]) for s in spec["lookups"]] == [(series, 1), (profile, 1)]
    assert [c["name"] for c in info.descriptor.signature] == features

    # Newer feature rows after the labels' times change nothing; the lookups are point in time.
    fe.write_table(name=series, df=spark.createDataFrame(
        [(c, dt.datetime(2026, 4, 1), 999.0, 99) for c in range(1, 9)], "customer_id long, ts timestamp, spend double, visits long"))
    expected = spark.createDataFrame(
        [(int(r.customer_id), float(p)) for r, p in zip(labels.toPandas().itertuples(), model.predict(train[features]))],
        "customer_id long, prediction double")
    scored = fe.score_batch(model_uri="models:/churn_features/1", df=labels.drop("churned"))
    assert scored.columns == ["customer_id", "event_time", "tenure", "spend", "visits", "customer_age", "prediction"]
    assert_df_equality(scored.select("customer_id", "prediction"), expected, ignore_row_order=True,
                       ignore_nullable=True)

    # A column the DataFrame has wins over the lookup.
    given = labels.drop("churned").withColumn("spend", F.lit(0.0))
    overridden = fe.score_batch(model_uri="models:/churn_features/1", df=given).toPandas().sort_values("customer_id")
    assert (overridden.spend == 0.0).all()
    assert list(overridden.prediction) == list(model.predict(overridden[features]).astype(float))

    # The batch job looks the features up too, and one SQL statement goes from a prediction row to
    # the feature table versions that trained its model.
    labels_path, predictions = str(tmp_path / "labels"), str(tmp_path / "predictions")
    labels.drop("churned").write.format("delta").save(labels_path)
    result = batch_score("models:/churn_features/1", labels_path, predictions, id_cols=["customer_id"],
                         client=spark_client)
    assert result.rows == 9 and result.feature_table_versions == {series: 2, profile: 1}
    assert_df_equality(spark.read.format("delta").load(predictions).select("customer_id", "prediction"), expected,
                       ignore_row_order=True, ignore_nullable=True)
    lineage = spark_client.sql(f"""
        SELECT p.customer_id, f.feature_table, f.delta_version, f.columns
        FROM delta.`{predictions}` p JOIN sparktrack.feature_lineage f
          ON f.model_name = p.model_name AND f.model_version = p.model_version
        WHERE p.customer_id = 3 ORDER BY f.feature_table""").collect()
    assert [(r.feature_table, r.delta_version, r.columns) for r in lineage] == [
        (series, 1, ["customer_id", "ts", "spend", "visits"]), (profile, 1, ["customer_id", "age"])]
    model_lineage = spark_client.sql("SELECT features FROM sparktrack.model_lineage WHERE name = 'churn_features'")
    assert sorted(f.feature_table for f in model_lineage.collect()[0].features) == sorted([series, profile])
    assert main(["features", "describe", series, "--store", spark_client.store_root, "--format", "json"]) == 0
    described = json.loads(capsys.readouterr().out)[0]
    assert (described["delta_version"], described["features"], described["trained_models"]) == (
        2, "spend double, visits bigint", "churn_features v1 (table v1)")

    # A feature table that no longer has a feature the model needs: a clear error before any job.
    fe.drop_table(name=profile)
    fe.create_table(name=profile, primary_keys="customer_id",
                    df=spark.createDataFrame([(1, "x")], "customer_id long, segment string"))
    with pytest.raises(InvalidValueError, match=r"the feature column\(s\) \['age'\] that the model models:/churn_features/1"):
        fe.score_batch(model_uri="models:/churn_features/1", df=labels.drop("churned"))
    with pytest.raises(InvalidValueError, match=r"missing \['tenure'\]"):
        fe.score_batch(model_uri="models:/churn_features/1", df=labels.drop("churned", "tenure"))


def test_feature_tables_are_found_tagged_and_dropped_through_the_store(spark, fe, spark_client, tmp_path, capsys):
    series, profile, _, _ = _customer_tables(spark, fe, tmp_path)
    assert [t.name for t in fe.search_tables()] == sorted([series, profile])
    assert [t.name for t in fe.search_tables(filter_string="tags.team = 'growth'")] == [series]
    fe.set_feature_table_tag(name=profile, key="team", value="risk")
    fe.set_feature_table_tag(name=profile, key="pii", value="no")
    fe.delete_feature_table_tag(name=profile, key="pii")
    assert fe.get_table(name=profile).tags == {"team": "risk"}
    assert [t.name for t in fe.search_tables(filter_string="tags.team = 'risk'")] == [profile]
    assert [t.name for t in fe.search_tables(filter_string="name LIKE '%activity' AND timeseries_column = 'ts'")] == [series]
    rows = spark_client.sql("SELECT * FROM sparktrack.feature_tables ORDER BY name").collect()
    by_name = {r.name: r for r in rows}
    activity = by_name[series]
    assert (activity.primary_keys, activity.timeseries_column, activity.description, activity.tags,
            activity.delta_version) == (["customer_id", "ts"], "ts", "daily activity", {"team": "growth"}, 1)
    assert [(f.name, f.type) for f in activity.features] == [("spend", "double"), ("visits", "bigint")]
    assert by_name[profile].tags == {"team": "risk"}
    fe.drop_table(name=series)
    assert [t.name for t in fe.search_tables()] == [profile]
    with pytest.raises(TableNotFoundError):
        fe.get_table(name=series)
    assert spark_client.sql("SELECT name FROM sparktrack.feature_tables").collect() == [(profile,)]
    assert main(["features", "list", "--store", spark_client.store_root, "--format", "json"]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == [profile]
    assert main(["features", "describe", series, "--store", spark_client.store_root]) == 2
    assert f"No feature table {series!r}" in capsys.readouterr().err
    for action, words in [
        (lambda: fe.search_tables(filter_string="name = "), "name = "),
        (lambda: fe.set_feature_table_tag(name=profile, key="", value="x"), "tag key"),
        (lambda: fe.set_feature_table_tag(name=profile, key="k", value="v" * 5001), "at most 5000"),
        (lambda: fe.delete_feature_table_tag(name=profile, key="nope"), "its tags are ['team']"),
        (lambda: fe.drop_table(name=series), "no feature table"),
        (lambda: fe.log_model(model=None, artifact_path="m", flavor="onnx", training_set=None), "TrainingSet"),
    ]:
        with pytest.raises(Exception) as raised:
            action()
        assert words in str(raised.value), str(raised.value)


def test_two_processes_upsert_one_table_and_a_killed_writer_leaves_it_whole(spark, fe, spark_client, tmp_path,
                                                                             java_options):
    import signal
    import subprocess
    import sys
    import time

    from _procs import REPO, worker_env

    from sparktrack.store.store import close_stores

    name = str(tmp_path / "scores")
    fe.create_table(name=name, primary_keys="key", df=spark.createDataFrame([(0, -1.0)], "key long, score double"))
    close_stores()
    env = worker_env(tmp_path, PYSPARK_SUBMIT_ARGS=f'--driver-java-options "{java_options}" pyspark-shell')
    script = str(REPO / "tests" / "_feature_writer.py")
    first = subprocess.Popen([sys.executable, script, spark_client.store_root, name, "1", "3"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The second writes three rounds beside the first, then is killed inside a fourth MERGE.
    second = subprocess.Popen([sys.executable, script, spark_client.store_root, name, "2", "3", "hold"], env=env,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = []
    while not lines or not lines[-1].startswith("merging"):
        line = second.stdout.readline()
        assert line, f"the second writer ended early: {lines}"
        lines.append(line)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    time.sleep(3)  # inside the MERGE's job
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=60)
    outcomes = [out.splitlines(), lines[:-1]]
    for rounds in outcomes:  # each round landed, or was told clearly that it may run again
        assert len(rounds) == 3 and all(r.startswith("wrote") or "run it again" in r for r in rounds), rounds
    landed = [[float(r.split()[1]) for r in rounds if r.startswith("wrote")] for rounds in outcomes]
    assert len(landed[0]) + len(landed[1]) >= 4
    table = fe.read_table(name=name)
    assert table.count() == 40 and table.select("key").distinct().count() == 40
    finals = {values[-1] for values in landed if values}
    assert {r.score for r in table.select("score").distinct().collect()} <= finals  # nothing of the killed one
    writes = spark_client.sql(f"SELECT count(*) FROM sparktrack.feature_table_events "
                              f"WHERE name = '{name}' AND action = 'write'").collect()[0][0]
    assert writes == 1 + len(landed[0]) + len(landed[1])


def test_the_train_job_trains_on_feature_lookups_and_the_scoring_job_looks_them_up(spark, fe, spark_client,
                                                                                   tmp_path):
    from sparktrack.jobs import batch_score as score_job
    from sparktrack.jobs import train as train_job
    from sparktrack.models import load_model

    series, profile, _, lookups = _customer_tables(spark, fe, tmp_path)
    rng = np.random.default_rng(0)
    rows = [(i, int(c), dt.datetime(2026, 3, 1) + dt.timedelta(hours=int(h)), float(c % 4), int((c + h // 24) % 2))
            for i, (c, h) in enumerate(zip(rng.integers(1, 9, 120), rng.integers(0, 300, 120)))]
    labels = spark.createDataFrame(rows, "row long, customer_id long, event_time timestamp, tenure double, churned long")
    labels_path, predictions = str(tmp_path / "labels"), str(tmp_path / "predictions")
    labels.write.format("delta").save(labels_path)
    config = tmp_path / "train.toml"
    config.write_text(f"""
[train]
input = "{labels_path}"
label = "churned"
features = ["tenure", "spend", "visits", "customer_age"]
exclude_columns = ["row", "event_time"]
estimator = {{ type = "LogisticRegression", params = {{ maxIter = 5 }} }}
register = {{ name = "churn_job_features", alias = "Champion", promote = "always" }}

[[train.feature_lookups]]
table_name = "{series}"
lookup_key = ["customer_id"]
timestamp_lookup_key = "event_time"

[[train.feature_lookups]]
table_name = "{profile}"
lookup_key = ["customer_id"]
rename_outputs = {{ age = "customer_age" }}
default_values = {{ age = 0 }}
""")
    root = spark_client.store_root
    assert train_job.main(["--config", str(config), "--store", root]) == 0
    assert score_job.main(["--model", "models:/churn_job_features@Champion", "--input", labels_path,
                           "--output", predictions, "--id-cols", "row", "--store", root]) == 0
    model = load_model("models:/churn_job_features@Champion", client=spark_client)
    assert [s["table_name"] for s in model.descriptor.feature_spec["lookups"]] == [series, profile]
    expected = model.predict(fe.create_training_set(df=labels, feature_lookups=lookups, label="churned").load_df())
    assert_df_equality(spark.read.format("delta").load(predictions).select("row", "prediction"),
                       expected.select("row", "prediction"), ignore_row_order=True, ignore_nullable=True)
    inputs = spark_client.sql("SELECT context, count(*) AS n FROM sparktrack.inputs GROUP BY context ORDER BY context")
    assert [(r.context, r.n) for r in inputs.collect()] == [("feature_lookup", 2), ("training", 1)]
