"""The reference scenario's scikit-learn script (shared/scenario/), with sparktrack in place of
MLflow: train a random forest on Iris and track its params, accuracy and model.

    SPARKTRACK_STORE=/tmp/store python bench/scenario/iris_sparktrack.py
"""

import sparktrack
import sparktrack.sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.3, random_state=42)

with sparktrack.start_run(run_name="Iris RF Example"):
    n_estimators, max_depth = 100, 10
    sparktrack.log_param("n_estimators", n_estimators)
    sparktrack.log_param("max_depth", max_depth)
    rf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=42)
    rf.fit(X_train, y_train)
    sparktrack.log_metric("accuracy", rf.score(X_test, y_test))
    sparktrack.sklearn.log_model(rf, "random-forest-model")

print(f"Run completed. Artifacts logged to: {sparktrack.get_artifact_uri()}")
