"""The reference scenario's scikit-learn script as MLflow users run it, on a SQLite tracking store
(MLFLOW_TRACKING_URI), with the model pickled by cloudpickle: MLflow's default format, skops,
refused to load the forest back in our runs.

    MLFLOW_TRACKING_URI=sqlite:////tmp/mlflow.db python bench/scenario/iris_mlflow.py
"""

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.3, random_state=42)

with mlflow.start_run(run_name="Iris RF Example"):
    n_estimators, max_depth = 100, 10
    mlflow.log_param("n_estimators", n_estimators)
    mlflow.log_param("max_depth", max_depth)
    rf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=42)
    rf.fit(X_train, y_train)
    mlflow.log_metric("accuracy", rf.score(X_test, y_test))
    mlflow.sklearn.log_model(rf, "random-forest-model", serialization_format="cloudpickle")

print(f"MLflow Run completed. Artifacts logged to: {mlflow.get_artifact_uri()}")
