"""The search grammar: parsing without Spark, then evaluating on Arrow and compiling against a
small real DataFrame, which must agree."""

from __future__ import annotations

import math

import pytest

from sparktrack.errors import FilterSyntaxError
from sparktrack.search import EXPERIMENTS, RUNS, Comparison, arrow, bind, parse_filter
from sparktrack.search import spark as spark_search


def compile_filter(text, schema):
    return spark_search.compile_filter(bind(text, None, schema))


def compile_order_by(clauses, schema):
    return spark_search.compile_order_by(bind(None, clauses, schema))


def apply_arrow(table, text, order_by, schema):
    return arrow.apply(table, bind(text, order_by, schema))


def one(text: str) -> Comparison:
    (comparison,) = parse_filter(text)
    return comparison


# ------------------------------------------------------------------------------ parsing only


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_no_filter_parses_to_nothing(text):
    assert parse_filter(text) == []


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_operators(op):
    assert one(f"metrics.acc {op} 0.5") == Comparison(
        entity="metric", key="acc", op=op, value=0.5, position=0
    )


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("params.opt = 'adam'", "=", "adam"),
        ("params.opt != 'adam'", "!=", "adam"),
        ("params.opt LIKE 'ad%'", "LIKE", "ad%"),
        ("params.opt ILIKE '_DAM'", "ILIKE", "_DAM"),
        ("params.opt IN ('adam', 'sgd')", "IN", ("adam", "sgd")),
        ("params.opt NOT IN ('adam')", "NOT IN", ("adam",)),
    ],
)
def test_string_operators(text, op, value):
    assert one(text) == Comparison(entity="param", key="opt", op=op, value=value, position=0)


@pytest.mark.parametrize(
    ("prefix", "entity", "value"),
    [
        ("metric", "metric", "1"),
        ("metrics", "metric", "1"),
        ("`metrics`", "metric", "1"),
        ("param", "param", "'1'"),
        ("params", "param", "'1'"),
        ("parameter", "param", "'1'"),
        ("parameters", "param", "'1'"),
        ("`params`", "param", "'1'"),
        ("tag", "tag", "'1'"),
        ("tags", "tag", "'1'"),
        ("attribute", "attribute", "'1'"),
        ("attributes", "attribute", "'1'"),
        ("attr", "attribute", "'1'"),
        ("run", "attribute", "'1'"),
        ("`attributes`", "attribute", "'1'"),
    ],
)
def test_entity_aliases(prefix, entity, value):
    comparison = one(f"{prefix}.run_id = {value}")
    assert (comparison.entity, comparison.key) == (entity, "run_id")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tags.sparktrack.user = 'a'", "sparktrack.user"),
        ("metrics.val/loss > 1", "val/loss"),
        ("tags.k8s:pod-name = 'a'", "k8s:pod-name"),
        ("tags.`my tag` = 'a'", "my tag"),
        ('params."batch size" = \'a\'', "batch size"),
        ("tags.`it``s` = 'a'", "it`s"),
        ('tags."say ""hi""" = \'a\'', 'say "hi"'),
        ("tags.`a = 'b' AND c` = 'a'", "a = 'b' AND c"),
    ],
)
def test_keys_bare_and_quoted(text, key):
    assert one(text).key == key


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'a\"b'", 'a"b'),
        ("''", ""),
        ("'C:\\temp'", "C:\\temp"),  # a backslash is an ordinary character
        ("'x AND y OR z'", "x AND y OR z"),
    ],
)
def test_string_values_and_quote_doubling(literal, value):
    assert one(f"params.p = {literal}").value == value


@pytest.mark.parametrize(
    ("literal", "value"),
    [("3", 3.0), ("0.25", 0.25), (".5", 0.5), ("-2", -2.0), ("+4", 4.0), ("1e-3", 0.001),
     ("1E5", 1e5), ("-1.5e+2", -150.0), ("1.", 1.0)],
)
def test_numbers(literal, value):
    parsed = one(f"metrics.m >= {literal}").value
    assert isinstance(parsed, float) and parsed == value


def test_keywords_are_case_insensitive_and_spacing_is_free():
    text = "metrics.a>1 and params.b like 'x' AnD tags.c not in ('y')  aND tags.d in('z')"
    assert parse_filter(text) == [
        Comparison(entity="metric", key="a", op=">", value=1.0, position=0),
        Comparison(entity="param", key="b", op="LIKE", value="x", position=text.index("params")),
        Comparison(entity="tag", key="c", op="NOT IN", value=("y",), position=text.index("tags.c")),
        Comparison(entity="tag", key="d", op="IN", value=("z",), position=text.index("tags.d")),
    ]


def test_positions_point_at_identifiers():
    text = "metrics.a > 1 AND   tags.`b c` = 'x'"
    assert [c.position for c in parse_filter(text)] == [0, text.index("tags")]


def test_parse_filter_checks_attribute_value_kinds_without_a_schema():
    assert one("attributes.start_time > 5").value == 5.0
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("attributes.start_time > '5'")
    assert info.value.position == 24


# ---------------------------------------------------------------------------- malformed input

MALFORMED = [
    # text, offending fragment in the message, position
    ("accuracy > 0.9", "Invalid identifier 'accuracy'", 0),
    ("metricz.acc > 0.9", "'metricz.acc'", 0),
    ("METRICS.acc > 0.9", "Invalid entity type 'METRICS' in 'METRICS.acc'", 0),
    ("Params.lr = '0.1'", "(entity names are lower case: params.)", 0),
    ("`metricz`.acc > 0.9", "Invalid entity type 'metricz'", 0),
    ("`metrics`. > 0.9", "Missing key after '`metrics`.'", 0),
    ("`metrics.acc` > 0.9", "Expected an identifier", 0),  # the whole identifier quoted: MLflow refuses it
    ("metrics.a > 1 OR metrics.b > 1", "OR is not supported", 14),
    ("1=1 OR 1=1", "got '1'", 0),
    ("params.x = 'a'; DROP TABLE runs", "Unexpected ';'", 14),
    ("params.x = 'a' OR 1=1", "OR is not supported", 15),
    ("params.x = 'a' params.y = 'b'", "Unexpected 'params.y'", 15),
    ("params.x = 'a\\' OR '1'='1", "OR is not supported", 16),  # backslash escapes nothing
    ("params.x = \\'a'", "got '\\'", 11),
    ("params.x LIKE 'a\\'", "'a\\'", 14),
    ("params.x LIKE 'a\\b%'", "backslash", 14),
    ("params.x = 'abc", "Unterminated string", 11),
    ('params.x = "abc', "Unterminated string", 11),
    ("tags.`abc = 'x'", "Unterminated quoted key", 5),
    ("params.x IN ('a', 'b'", "got end of input", 21),
    ("params.x IN 'a', 'b')", "got 'a'", 12),
    ("params.x IN ()", "Empty IN list", 13),
    ("params.x NOT IN ('a',,)", "got ','", 21),
    ("params.x IN ('a' 'b')", "got 'b'", 17),
    ("params.x IN ('a', 2)", "got '2'", 18),
    ("(metrics.a > 1)", "Parentheses", 0),
    ("metrics.a > (1)", "Parentheses", 12),
    ("metrics.acc > 'x'", "got the string 'x'", 14),
    ("metrics.acc = '0.9'", "metrics compare with numbers", 14),
    ("metrics.acc LIKE '9%'", "'LIKE' is not supported", 12),
    ("metrics.acc IN ('1')", "'IN' is not supported", 12),
    ("params.lr > 0.1", "'>' is not supported", 10),
    ("params.lr = 0.1", "quote it as '0.1'", 12),
    ("tags.t != 1e-3", "quote it as '1e-3'", 10),
    ("metrics.a == 1", "Unknown operator '=='", 10),
    ("metrics.a == 'x", "Unknown operator '=='", 10),  # the leftmost problem is reported
    ("metrics.a <> 1", "Unknown operator '<>'", 10),
    ("metrics.a = = 1", "got '='", 12),
    ("metrics.a IS 1", "Expected NULL after IS, got '1'", 13),
    ("params.a IS NOT 'x'", "Expected NULL after IS NOT", 16),
    ("params.a = NULL", "Compare with NULL using IS NULL or IS NOT NULL", 11),
    ("attributes.status IS NULL", "IS NULL / IS NOT NULL is supported for metrics, params, tags of runs", 18),
    ("attributes.experiment_id = '1'", "Unknown attribute 'experiment_id' for runs", 0),
    ("attributes.lifecycle_stage = 'active'", "Unknown attribute 'lifecycle_stage' for runs", 0),
    ("datasets.size = 'x'", "Unknown dataset key 'size': valid keys are name, digest, context", 0),
    ("datasets.name > 'x'", "'>' is not supported", 14),
    ("params.a NOT LIKE 'x'", "got 'LIKE'", 13),
    ("metrics.a >", "got end of input", 11),
    ("metrics.a", "got end of input", 9),
    ("params.a = b", "quote string values: 'b'", 11),
    ("metrics.a > NaN", "NaN is not a value a filter can compare with", 12),
    ("metrics.a > inf", "inf is not a value a filter can compare with", 12),
    ("metrics.a > 1.2.3", "Malformed number '1.2.3'", 12),
    ("metrics.a > 1abc", "Malformed number '1abc'", 12),
    ("metrics. > 1", "Missing key after 'metrics.'", 0),
    ("metrics.`` > 1", "Empty key", 8),
    ("metrics.a@b > 1", "got '@'", 9),
    ("attributes.colour = 'red'", "Unknown attribute 'colour'", 0),
    ("attributes.run_name < 'b'", "'<' is not supported", 20),
    ("attributes.status = 1", "quote it as '1'", 20),
    ("attributes.start_time = '2024-01-01'", "got the string '2024-01-01'", 24),
    ("attributes.start_time LIKE '2024%'", "'LIKE' is not supported", 22),
    ("metrics.a > 1 AND params.b = 'x' AND tags.c", "got end of input", 43),
]


@pytest.mark.parametrize(("text", "fragment", "position"), MALFORMED)
def test_malformed_filters_are_rejected_with_position(text, fragment, position):
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(text, RUNS)  # every check runs before any Spark call
    message = str(info.value)
    assert fragment in message
    assert info.value.position == position
    assert f"at position {position}:" in message
    assert message.endswith("\n  " + " " * position + "^")


def test_error_message_lists_valid_prefixes_and_attributes():
    with pytest.raises(FilterSyntaxError, match=r"expected metrics.<key>, params.<key>, "
                                                r"tags.<key>, datasets.<key>, attributes.<key>"):
        parse_filter("accuracy > 0.9")
    with pytest.raises(FilterSyntaxError, match="valid attributes are Created, Run Name, Run name, "
                                                "artifact_uri, created, end_time, run name, run_id"):
        compile_filter("attributes.colour = 'red'", RUNS)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metrics.acc > 1", "experiments have no metrics"),
        ("params.lr = '1'", "experiments have no params"),
        ("attribute.run_id = 'x'", "Unknown attribute 'run_id' for experiments"),
        ("attribute.artifact_location = 'x'", "Unknown attribute 'artifact_location' for experiments"),
        ("attribute.lifecycle_stage = 'active'", "Unknown attribute 'lifecycle_stage' for experiments"),
        ("attributes.name = 'x'", "Invalid entity type 'attributes' in 'attributes.name': experiments spell it attribute"),
        ("run.name = 'x'", "experiments spell it attribute"),
        ("accuracy > 1", "expected tags.<key>, attribute.<key>"),
    ],
)
def test_experiment_filters_know_their_schema(text, fragment):
    with pytest.raises(FilterSyntaxError, match=fragment) as info:
        compile_filter(text, EXPERIMENTS)
    assert info.value.position == 0


@pytest.mark.parametrize(
    ("clauses", "schema", "fragment", "position"),
    [
        (["metrics.acc DOWN"], RUNS, "Expected ASC or DESC", 12),
        (["metrics.acc DESC NULLS FIRST"], RUNS, "Unexpected 'NULLS'", 17),
        (["metrics.acc DESC, params.lr"], RUNS, "Unexpected ','", 16),
        (["metrics.acc, params.lr"], RUNS, "got ','", 11),
        (["accuracy DESC"], RUNS, "Invalid identifier 'accuracy'", 0),
        (["attributes.colour"], RUNS, "Unknown attribute 'colour'", 0),
        (["  "], RUNS, "Empty order_by clause", 0),
        (["DESC"], RUNS, "Invalid identifier 'DESC'", 0),
        (["metrics.acc; DROP TABLE runs"], RUNS, "got ';'", 11),
        (["metrics.acc DESC"], EXPERIMENTS, "experiments have no metrics", 0),
        ([3], RUNS, "order_by clauses are strings", 0),
    ],
)
def test_malformed_order_by(clauses, schema, fragment, position):
    with pytest.raises(FilterSyntaxError, match=fragment) as info:
        compile_order_by(clauses, schema)
    assert info.value.position == position


# ---------------------------------------------------------------------------- compiled on Spark

RUN_ROWS = [
    # run_id, run_name, status, start ms, end ms, metrics, params, tags
    ("r1", "alpha", "FINISHED", 1000, 1500, {"acc": 0.9, "loss": 0.1},
     {"lr": "0.01", "opt": "adam"}, {"sparktrack.user": "alice", "my tag": "it's"}),
    ("r2", "beta", "FAILED", 2000, 2500, {"acc": 0.7, "loss": 0.3},
     {"lr": "0.1", "opt": "sgd"}, {"sparktrack.user": "bob"}),
    ("r3", "Gamma", "FINISHED", 3000, 3500, {"acc": math.nan}, {"lr": "0.1"}, {}),
    ("r4", "delta", "RUNNING", 4000, None, {}, {}, {"sparktrack.user": "Alice_2"}),
    ("r5", "epsilon", "FINISHED", 1000, 1200, {"acc": 0.9, "val/loss": 0.2}, {"opt": "adam"}, {}),
]

RUN_SCHEMA = (
    "run_id string, run_name string, status string, start_ms long, end_ms long, "
    "metrics map<string,double>, params map<string,string>, tags map<string,string>"
)


def runs_frame(spark, rows):
    from pyspark.sql import functions as F

    return spark.createDataFrame(rows, RUN_SCHEMA).select(
        "run_id",
        F.lit("0").alias("experiment_id"),
        "run_name",
        F.lit("tester").alias("user_id"),
        "status",
        F.lit("active").alias("lifecycle_stage"),
        F.concat(F.lit("file:/artifacts/"), "run_id").alias("artifact_uri"),
        F.timestamp_millis("start_ms").alias("start_time"),
        F.timestamp_millis("end_ms").alias("end_time"),
        "metrics",
        "params",
        "tags",
    )


@pytest.fixture(scope="module")
def runs(spark):
    return runs_frame(spark, RUN_ROWS).cache()


def ids(frame) -> list[str]:
    return [row.run_id for row in frame.select("run_id").collect()]


FILTER_CASES = [
    ("metrics.acc > 0.8", {"r1", "r5"}),  # NaN is not greater than anything
    ("metrics.acc >= 0.7", {"r1", "r2", "r5"}),
    ("metrics.acc < 1", {"r1", "r2", "r5"}),
    ("metrics.acc <= 0.7", {"r2"}),
    ("metrics.acc = 0.9", {"r1", "r5"}),
    ("metrics.acc != 0.9", {"r2", "r3"}),  # NaN differs; r4 lacks the metric
    ("metrics.val/loss < 0.5", {"r5"}),
    ("metrics.`val/loss` < 5e-1", {"r5"}),
    ("params.lr = '0.1'", {"r2", "r3"}),
    ("params.lr != '0.1'", {"r1"}),  # r4 and r5 lack the param
    ("params.opt LIKE 'a%'", {"r1", "r5"}),
    ("params.opt LIKE 'A%'", set()),
    ("params.opt ILIKE 'A%'", {"r1", "r5"}),
    ("params.opt IN ('sgd', 'rmsprop')", {"r2"}),
    ("params.opt NOT IN ('sgd')", {"r1", "r5"}),
    ("tags.sparktrack.user = 'alice'", {"r1"}),
    ("tags.sparktrack.user LIKE 'alic_'", {"r1"}),
    ("tags.sparktrack.user LIKE 'Alice\\_%'", {"r4"}),
    ("tags.`my tag` = 'it''s'", {"r1"}),
    ("params.opt = 'adam'' OR ''1''=''1'", set()),  # one string value, never SQL
    ("attributes.status = 'FINISHED'", {"r1", "r3", "r5"}),
    ("attr.run_name ILIKE 'g%'", {"r3"}),
    ("run.run_id IN ('r1', 'r2', 'nope')", {"r1", "r2"}),
    ("attributes.start_time >= 2000", {"r2", "r3", "r4"}),
    ("attributes.created < 2000", {"r1", "r5"}),
    ("attributes.end_time > 0", {"r1", "r2", "r3", "r5"}),
    ("metrics.acc > 0.5 and params.opt = 'adam' AND attributes.start_time = 1000",
     {"r1", "r5"}),
    # MLflow's own forms (its search tests): quoted entities and keys, IS NULL, aliases, lenient ANDs
    ("`metrics`.acc > 0.8", {"r1", "r5"}),
    ("`params`.`lr` = '0.1'", {"r2", "r3"}),
    ("metrics.'acc' >= 0.9", {"r1", "r5"}),
    ("`attributes`.status = 'FAILED'", {"r2"}),
    ("params.lr IS NULL", {"r4", "r5"}),
    ("params.lr IS NOT NULL", {"r1", "r2", "r3"}),
    ("tags.sparktrack.user is null AND params.opt IS NOT NULL", {"r5"}),
    ("metrics.acc IS NOT NULL", {"r1", "r2", "r3", "r5"}),  # a NaN metric is a value
    ("metrics.acc IS NULL", {"r4"}),
    ("attributes.Created < 2000", {"r1", "r5"}),
    ("attributes.`Run name` = 'alpha'", {"r1"}),
    ("`run name` = 'beta'", {"r2"}),
    ('"Run Name" LIKE \'%a\'', {"r1", "r2", "r3", "r4"}),
    ("AND metrics.acc > 0.8", {"r1", "r5"}),
    ("metrics.acc > 0.8 AND", {"r1", "r5"}),
    ("metrics.acc > 0.8 AND AND params.opt = 'adam'", {"r1", "r5"}),
    ("attributes.run_id IN ('r1', 'r2',)", {"r1", "r2"}),
    ("params.lr='0.1'AND metrics.acc>0.6", {"r2"}),
]


@pytest.mark.parametrize(("text", "expected"), FILTER_CASES)
def test_compiled_filter_selects_runs(runs, text, expected):
    assert set(ids(runs.filter(compile_filter(text, RUNS)))) == expected


def test_compiled_filter_keeps_whole_rows(spark, runs):
    from chispa import assert_df_equality

    selected = runs.filter(compile_filter("params.opt = 'adam' AND metrics.acc > 0", RUNS))
    expected = runs_frame(spark, [row for row in RUN_ROWS if row[0] in ("r1", "r5")])
    # chispa's ignore_row_order sorts on every column, and Spark cannot sort maps: sort by id.
    assert_df_equality(selected.orderBy("run_id"), expected.orderBy("run_id"))


def test_no_filter_compiles_to_none():
    assert compile_filter(None, RUNS) is None
    assert compile_filter("  ", RUNS) is None


ORDER_CASES = [
    (None, ["r4", "r3", "r2", "r1", "r5"]),  # start_time DESC, then run_id
    ([], ["r4", "r3", "r2", "r1", "r5"]),
    (["metrics.acc DESC"], ["r1", "r5", "r2", "r3", "r4"]),  # numbers, NaN, missing
    (["metrics.acc"], ["r2", "r1", "r5", "r3", "r4"]),
    (["metrics.acc asc"], ["r2", "r1", "r5", "r3", "r4"]),
    (["params.opt ASC"], ["r1", "r5", "r2", "r4", "r3"]),
    (["params.opt DESC"], ["r2", "r1", "r5", "r4", "r3"]),
    (["tags.sparktrack.user DESC"], ["r2", "r1", "r4", "r3", "r5"]),
    (["attributes.start_time ASC"], ["r1", "r5", "r2", "r3", "r4"]),
    (["attributes.created DESC"], ["r4", "r3", "r2", "r1", "r5"]),
    (["attributes.end_time DESC"], ["r3", "r2", "r1", "r5", "r4"]),
    (["params.opt DESC", "attributes.run_name DESC"], ["r2", "r5", "r1", "r4", "r3"]),
    (["metrics.`val/loss` desc"], ["r5", "r4", "r3", "r2", "r1"]),
]


@pytest.mark.parametrize(("clauses", "expected"), ORDER_CASES)
def test_compiled_order_by(runs, clauses, expected):
    assert ids(runs.orderBy(*compile_order_by(clauses, RUNS))) == expected


def runs_arrow(rows):
    """RUN_ROWS as apply_arrow takes them: a column per map lookup, null where a run lacks it."""
    import pyarrow as pa

    columns = {
        "run_id": [r[0] for r in rows], "experiment_id": ["0"] * len(rows),
        "run_name": [r[1] for r in rows], "user_id": ["tester"] * len(rows),
        "status": [r[2] for r in rows], "lifecycle_stage": ["active"] * len(rows),
        "artifact_uri": [f"file:/artifacts/{r[0]}" for r in rows],
    }
    table = pa.table(columns)
    for name in ("start_time", "end_time"):
        millis = [r[3] if name == "start_time" else r[4] for r in rows]
        table = table.append_column(name, pa.array(millis, pa.timestamp("ms", tz="UTC")))
    for position, prefix in ((5, "metrics"), (6, "params"), (7, "tags")):
        kind = pa.float64() if prefix == "metrics" else pa.string()
        for key in sorted({key for row in rows for key in row[position]}):
            table = table.append_column(f"{prefix}.{key}", pa.array([r[position].get(key) for r in rows], kind))
    return table


@pytest.mark.parametrize(("text", "expected"), FILTER_CASES)
def test_arrow_filter_selects_what_the_spark_filter_selects(text, expected):
    assert set(apply_arrow(runs_arrow(RUN_ROWS), text, None, RUNS).column("run_id").to_pylist()) == expected


@pytest.mark.parametrize(("clauses", "expected"), ORDER_CASES)
def test_arrow_order_is_the_spark_order(clauses, expected):
    assert apply_arrow(runs_arrow(RUN_ROWS), None, clauses, RUNS).column("run_id").to_pylist() == expected


def test_arrow_filter_keeps_whole_rows_and_knows_keys_no_run_has():
    table = runs_arrow(RUN_ROWS)
    selected = apply_arrow(table, "params.opt = 'adam' AND metrics.acc > 0", ["metrics.acc DESC"], RUNS)
    assert selected.column_names == table.column_names
    assert selected.to_pylist() == [row for row in table.to_pylist() if row["run_id"] in ("r1", "r5")]
    assert apply_arrow(table, "metrics.nothing != 1", None, RUNS).num_rows == 0
    with pytest.raises(FilterSyntaxError, match="Unknown attribute"):
        apply_arrow(table, "attributes.colour = 'red'", None, RUNS)


def test_experiments_filter_and_default_order(spark):
    from pyspark.sql import functions as F

    experiments = spark.createDataFrame(
        [("1", "churn", 1000, {"team": "ml"}), ("2", "Churn-v2", 2000, {}),
         ("3", "fraud", 2000, {"team": "risk"})],
        "experiment_id string, name string, created long, tags map<string,string>",
    ).select("experiment_id", "name", F.timestamp_millis("created").alias("creation_time"),
             F.timestamp_millis("created").alias("last_update_time"), "tags")
    ordered = experiments.orderBy(*compile_order_by(None, EXPERIMENTS))
    assert [row.experiment_id for row in ordered.collect()] == ["2", "3", "1"]
    condition = compile_filter(
        "attribute.name ILIKE 'churn%' AND attribute.creation_time > 0", EXPERIMENTS
    )
    chosen = experiments.filter(condition)
    assert sorted(row.experiment_id for row in chosen.collect()) == ["1", "2"]
    tagged = experiments.filter(compile_filter("tags.team != 'ml'", EXPERIMENTS))
    assert [row.experiment_id for row in tagged.collect()] == ["3"]
    untagged = experiments.filter(compile_filter("tags.team IS NULL", EXPERIMENTS))
    assert [row.experiment_id for row in untagged.collect()] == ["2"]


def test_dataset_filters_match_a_run_when_one_of_its_datasets_does(spark):
    import pyarrow as pa
    from pyspark.sql import functions as F

    names = [["train", "eval"], ["train"], None]
    contexts = [["training", "validation"], ["training"], None]
    table = pa.table({"run_id": ["r1", "r2", "r3"], "start_time": pa.array([1, 2, 3], pa.timestamp("ms", tz="UTC")),
                      "datasets.name": pa.array(names, pa.list_(pa.string())),
                      "datasets.context": pa.array(contexts, pa.list_(pa.string()))})
    frame = spark.createDataFrame(
        [("r1", 1, [("train", "d1", "training"), ("eval", "d2", "validation")]), ("r2", 2, [("train", "d1", "training")]),
         ("r3", 3, None)], "run_id string, start int, datasets array<struct<name:string,digest:string,context:string>>",
    ).withColumn("start_time", F.timestamp_millis("start"))
    for text, expected in (("datasets.name = 'eval'", ["r1"]), ("datasets.name = 'train'", ["r2", "r1"]),
                           ("datasets.context IN ('validation', 'test')", ["r1"]),
                           ("datasets.name != 'train'", ["r1"]),  # one of its datasets is not 'train'
                           ("datasets.name LIKE 'tr%' AND datasets.context = 'validation'", ["r1"]),
                           ("datasets.name NOT IN ('x')", ["r2", "r1"])):
        assert apply_arrow(table, text, None, RUNS).column("run_id").to_pylist() == expected, text
        compiled = spark_search.apply(frame, bind(text, None, RUNS))
        assert [row.run_id for row in compiled.collect()] == expected, text


MLFLOW_REFUSES = [  # identifiers MLflow's own tests assert are invalid, refused here too
    "attribute.experiment_id != '1'", "attribute.lifecycle_stage = 'ACTIVE'", "attribute.start = 1",
    "attribute.time != 1", "attribute._status != 'RUNNING'", "attribute.name = 'x'", "acc >= 0.94",
    "model >= 'LR'", "m.acc >= 0.94", "p.model >= 'LR'", "attri.x != 1", "a.x != 1", "METRICS.acc > 0.8",
    "dataset.status = 'true'", "dataset.profile = 'x'", "metrics.acc IS NULL AND attribute.status IS NULL",
    "`metrics.A > 0.1", "`dummy.A > 0.1", "dummy`.A > 0.1",
]


@pytest.mark.parametrize("text", MLFLOW_REFUSES)
def test_identifiers_mlflow_refuses_are_refused(text):
    with pytest.raises(FilterSyntaxError):
        bind(text, None, RUNS)


def test_registry_schemas_take_mlflows_names():
    from sparktrack.search import MODEL_VERSIONS, REGISTERED_MODELS

    bind("name = 'm' AND tags.k IS NULL", ["timestamp DESC", "last_updated_timestamp"], REGISTERED_MODELS)
    bind("source_path LIKE 's3://%' AND version_number = '3' AND run_id IN ('a')",
         ["creation_timestamp DESC", "version_number"], MODEL_VERSIONS)
    for text, schema in (("description = 'x'", REGISTERED_MODELS), ("attribute.creation_time > 1", REGISTERED_MODELS),
                         ("source = 'x'", MODEL_VERSIONS), ("current_stage = 'Production'", MODEL_VERSIONS),
                         ("version_number = 'three'", MODEL_VERSIONS), ("attributes.name = 'x'", MODEL_VERSIONS)):
        with pytest.raises(FilterSyntaxError):
            bind(text, None, schema)
    with pytest.raises(FilterSyntaxError, match="an attribute of registered models .last_updated_timestamp, name, "
                                                "timestamp."):
        bind(None, ["creation_time"], REGISTERED_MODELS)


def test_arrow_filter_compares_times_up_to_year_9999_exactly():
    import pyarrow as pa

    last = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the latest time sparktrack accepts
    table = runs_arrow(RUN_ROWS[:2]).set_column(
        7, "start_time", pa.array([last, last - 1], pa.timestamp("ms", tz="UTC")))
    assert apply_arrow(table, f"attributes.start_time = {last}", None, RUNS).column("run_id").to_pylist() == ["r1"]
    assert apply_arrow(table, "attributes.start_time > 0", None, RUNS).num_rows == 2
