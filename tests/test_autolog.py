"""scikit-learn autologging on real estimators, with MLflow's documented names (no JVM)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import sparktrack
from sparktrack.autologging import safety

CLASSIFIER_METRICS = {"training_accuracy_score", "training_precision_score", "training_recall_score",
                      "training_f1_score", "training_log_loss", "training_roc_auc", "training_score"}
REGRESSOR_METRICS = {"training_mean_squared_error", "training_root_mean_squared_error",
                     "training_mean_absolute_error", "training_r2_score", "training_score"}


@pytest.fixture
def iris():
    data = load_iris(as_frame=True)
    return data.data, data.target


@pytest.fixture(autouse=True)
def autolog_off_after():
    yield
    sparktrack.sklearn.autolog(disable=True)


def _runs(client):
    return client.search_runs(["0"], output_format="list")


def test_a_fit_with_no_active_run_is_one_finished_run_with_mlflows_names(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog(log_input_examples=True, extra_tags={"team": "growth"})
    model = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    (run,) = _runs(client)
    assert run.info.status == "FINISHED" and sparktrack.active_run() is None
    assert run.data.tags["sparktrack.autologging"] == "sklearn" and run.data.tags["team"] == "growth"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "300"
    assert set(run.data.params) == set(model.get_params(deep=True))
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert run.data.metrics["training_score"] == run.data.metrics["training_accuracy_score"]
    loaded = sparktrack.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.native.predict(X), model.predict(X))  # the estimator that was fitted
    assert loaded.native.get_params() == model.get_params()
    assert [c["name"] for c in loaded.descriptor.signature] == list(X.columns)
    assert len(loaded.descriptor.input_example) == 5
    (dataset,) = client.get_run_inputs(run.info.run_id)
    assert dataset.context == "train" and dataset.source_type == "dataframe"


def test_regressor_metrics_and_only_the_outermost_fit_of_a_pipeline(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog(log_models=False)
    RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y.astype(float))
    Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=300))]).fit(X.to_numpy(), y)
    runs = sorted(_runs(client), key=lambda r: r.data.tags["estimator_name"])
    assert [r.data.tags["estimator_name"] for r in runs] == ["Pipeline", "RandomForestRegressor"]
    pipeline, forest = runs
    assert set(forest.data.metrics) == REGRESSOR_METRICS
    assert forest.data.metrics["training_root_mean_squared_error"] == pytest.approx(
        forest.data.metrics["training_mean_squared_error"] ** 0.5)
    assert "lr__C" in pipeline.data.params and "scale__with_mean" in pipeline.data.params
    assert set(pipeline.data.metrics) == CLASSIFIER_METRICS


def test_an_active_run_is_logged_into_and_left_open_and_a_second_fit_goes_to_a_child_run(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog(log_models=False)
    with sparktrack.start_run() as parent:
        LogisticRegression(max_iter=300, C=1.0).fit(X, y)
        LogisticRegression(max_iter=300, C=2.0).fit(X, y)  # MLflow: "changing param values" fails
        assert sparktrack.active_run().info.run_id == parent.info.run_id
        assert client.get_run(parent.info.run_id).info.status == "RUNNING"
    runs = {r.info.run_id: r for r in _runs(client)}
    assert runs[parent.info.run_id].data.params["C"] == "1.0"
    (child,) = [r for r in runs.values() if r.info.run_id != parent.info.run_id]
    assert child.info.parent_run_id == parent.info.run_id and child.data.params["C"] == "2.0"
    assert child.info.status == "FINISHED"


def test_exclusive_logs_nothing_into_a_users_run_and_an_ended_run_gets_nothing(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog(exclusive=True, log_models=False)
    with sparktrack.start_run() as mine:
        LogisticRegression(max_iter=300).fit(X, y)
    assert client.get_run(mine.info.run_id).data.params == {} and len(_runs(client)) == 1
    sparktrack.sklearn.autolog(log_models=False)
    with sparktrack.start_run() as ended:
        pass
    LogisticRegression(max_iter=300).fit(X, y)  # the user's run is over: a new run, not that one
    assert client.get_run(ended.info.run_id).data.params == {}
    assert len(_runs(client)) == 3


def test_a_failing_fit_fails_its_run_and_raises(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog()
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, y[:10])
    (run,) = _runs(client)
    assert run.info.status == "FAILED"


def test_disable_puts_every_fit_back_and_calling_again_reconfigures(client, iris):
    X, y = iris
    original = LogisticRegression.__dict__["fit"]
    sparktrack.autolog(log_models=False)
    assert getattr(LogisticRegression.fit, safety.ORIGINAL) is original
    sparktrack.autolog(log_models=False, log_datasets=False)  # again: patched once, new flags
    assert getattr(LogisticRegression.fit, safety.ORIGINAL) is original
    LogisticRegression(max_iter=300).fit(X, y)
    (run,) = _runs(client)
    assert client.get_run_inputs(run.info.run_id) == []
    sparktrack.autolog(disable=True, training_metrics=False)  # a flag only one flavor takes
    assert LogisticRegression.__dict__["fit"] is original and not safety.patched("sklearn")
    with pytest.raises(Exception, match="no_such_flag"):
        sparktrack.autolog(no_such_flag=True)
    sparktrack.autolog(disable=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert len(_runs(client)) == 1


def test_a_failure_in_the_logging_code_warns_once_and_never_breaks_the_fit(client, iris, monkeypatch):
    X, y = iris
    sparktrack.sklearn.autolog()
    broken = lambda *args, **kwargs: 1 / 0  # noqa: E731
    monkeypatch.setattr("sparktrack.autologging.sklearn.training_metrics", broken)
    with pytest.raises(ZeroDivisionError):  # the suite runs in test mode: failures raise
        LogisticRegression(max_iter=300).fit(X, y)
    monkeypatch.setenv(safety.TEST_MODE, "false")
    monkeypatch.setattr(safety, "_warned", set())
    with pytest.warns(UserWarning, match="sparktrack sklearn autologging failed"):
        model = LogisticRegression(max_iter=300).fit(X, y)
    assert model.predict(X).shape == (150,)
    runs = _runs(client)
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]  # the fits themselves succeeded
    with pytest.raises(Exception, match="registered model name"):
        sparktrack.sklearn.autolog(registered_model_name="bad name!")
    with pytest.raises(Exception, match="max_tuning_runs"):
        sparktrack.sklearn.autolog(max_tuning_runs=-1)


def test_a_grid_search_logs_its_best_candidates_as_child_runs_and_the_best_estimator(client, iris):
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    sparktrack.sklearn.autolog(max_tuning_runs=3)
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]},
                          cv=3).fit(X, y)
    runs = _runs(client)
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(runs) == 4 and len(children) == 3  # the 8 candidates' inner fits are not runs
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.params["best_fit_intercept"] == str(search.best_params_["fit_intercept"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.data.tags["estimator_name"] == "GridSearchCV" and "estimator__C" not in parent.data.params
    assert {"cv", "refit", "scoring", "estimator", "param_grid"} <= set(parent.data.params)  # MLflow's: deep=False
    ranks = sorted(c.data.metrics["rank_test_score"] for c in children)
    assert ranks == sorted(search.cv_results_["rank_test_score"])[:3]
    assert {"mean_test_score", "std_test_score", "mean_fit_time"} <= set(children[0].data.metrics)
    assert set(children[0].data.params) == {"C", "fit_intercept"}
    csv = pd.read_csv(io.StringIO(client.load_text(parent.info.run_id, "cv_results.csv")))
    assert len(csv) == 8 and "mean_test_score" in csv.columns
    loaded = sparktrack.load_model(f"runs:/{parent.info.run_id}/model")
    assert type(loaded.native) is LogisticRegression and loaded.native.get_params() == search.best_estimator_.get_params()
    np.testing.assert_array_equal(loaded.native.predict(X), search.predict(X))


def test_post_training_metrics_follow_each_models_predictions_and_their_slices(client, iris):
    from sklearn import metrics
    from sklearn.model_selection import train_test_split

    X, y = iris
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0)
    sparktrack.sklearn.autolog(log_models=False)
    first = LogisticRegression(max_iter=300).fit(X_train, y_train)
    second = LogisticRegression(max_iter=300, C=0.01).fit(X_train, y_train)
    pred_first, pred_second = first.predict(X_test), second.predict(X_test)
    metrics.accuracy_score(y_test, pred_first)
    metrics.accuracy_score(y_test[:20], pred_second[:20])  # a slice still belongs to its model
    metrics.f1_score(y_test, pred_first, average="macro")
    metrics.accuracy_score(y_test, pred_first)  # a repeat: -2
    first.score(X_test, y_test)
    runs = {r.data.params["C"]: r for r in _runs(client)}
    logged = {k for k in runs["1.0"].data.metrics if not k.startswith("training_")}
    assert logged == {"accuracy_score_X_test", "accuracy_score_X_test-2", "f1_score_X_test",
                      "LogisticRegression_score_X_test"}
    assert runs["1.0"].data.metrics["accuracy_score_X_test"] == pytest.approx(float((y_test.to_numpy() == pred_first).mean()))
    assert {k for k in runs["0.01"].data.metrics if not k.startswith("training_")} == {"accuracy_score_X_test"}
    assert runs["0.01"].data.metrics["accuracy_score_X_test"] == pytest.approx(
        float((y_test[:20].to_numpy() == pred_second[:20]).mean()))

    with sparktrack.start_run() as mine:
        third = LogisticRegression(max_iter=300, C=3.0).fit(X_train, y_train)
    metrics.accuracy_score(y_test, third.predict(X_test))  # the user ended that run: nothing logged
    assert not [k for k in client.get_run(mine.info.run_id).data.metrics if not k.startswith("training_")]
    sparktrack.sklearn.autolog(log_models=False, log_post_training_metrics=False)
    metrics.accuracy_score(y_test, first.predict(X_test))
    assert "accuracy_score_X_test-3" not in client.get_run(runs["1.0"].info.run_id).data.metrics


def test_a_classifier_gets_mlflows_plots_drawn_from_its_training_predictions(client, iris, tmp_path):
    X, y = iris
    binary = y == 2
    sparktrack.sklearn.autolog()
    LogisticRegression(max_iter=300).fit(X, binary)
    LogisticRegression(max_iter=300).fit(X, y)  # three classes: no ROC or PR curve
    first, second = sorted(_runs(client), key=lambda r: r.info.start_time)
    names = {run.info.run_id: {a["path"] for a in client.list_artifacts(run.info.run_id) if a["path"].endswith(".png")}
             for run in (first, second)}
    assert names[first.info.run_id] == {"training_confusion_matrix.png", "training_roc_curve.png",
                                        "training_precision_recall_curve.png"}
    assert names[second.info.run_id] == {"training_confusion_matrix.png"}
    local = client.download_artifacts(first.info.run_id, "training_roc_curve.png", str(tmp_path))
    with open(local, "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_a_classifier_is_logged_with_no_plots_and_no_warning(client, iris, monkeypatch, recwarn):
    import sys

    X, y = iris
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError, as uninstalled
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    sparktrack.sklearn.autolog()
    LogisticRegression(max_iter=300).fit(X, y == 2)
    (run,) = _runs(client)
    assert run.info.status == "FINISHED" and "training_roc_auc" in run.data.metrics
    assert not [a for a in client.list_artifacts(run.info.run_id) if a["path"].endswith(".png")]
    assert not [w for w in recwarn if "autolog" in str(w.message).lower()]


def test_training_metrics_false_logs_no_training_metrics_and_no_plots(client, iris):
    X, y = iris
    sparktrack.sklearn.autolog(training_metrics=False)
    LogisticRegression(max_iter=300).fit(X, y == 2)
    (run,) = _runs(client)
    assert not run.data.metrics
    assert not [a for a in client.list_artifacts(run.info.run_id) if a["path"].endswith(".png")]
