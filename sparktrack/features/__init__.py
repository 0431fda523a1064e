"""Feature tables on Delta, and point-in-time training sets, with the names Databricks users know.

    from sparktrack.features import FeatureEngineeringClient, FeatureLookup

    fe = FeatureEngineeringClient()
    fe.create_table(name="/data/features/customers", primary_keys=["customer_id", "ts"],
                    timeseries_column="ts", df=features_df)
    training = fe.create_training_set(df=labels_df, label="churned", feature_lookups=[
        FeatureLookup(table_name="/data/features/customers", lookup_key="customer_id",
                      timestamp_lookup_key="event_time", lookback_window=timedelta(days=30))])
    train_df = training.load_df()
    fe.log_model(model=model, artifact_path="model", flavor=sparktrack.sklearn, training_set=training,
                 registered_model_name="churn")
    scored = fe.score_batch(model_uri="models:/churn/1", df=new_rows)   # the features looked up

A feature table is a Delta table (a path or a catalog name) whose table properties name its
primary keys and its timeseries column; see sparktrack.features.tables. Lookups are joined as
sparktrack.features.join describes: one sort-based pass per table, point in time for a
time-series table.
"""

from sparktrack.features.client import FeatureEngineeringClient, FeatureStoreClient, TrainingSet
from sparktrack.features.lookup import FeatureLookup
from sparktrack.features.spec import FeatureSpec
from sparktrack.features.tables import FeatureTable

__all__ = ["FeatureEngineeringClient", "FeatureLookup", "FeatureSpec", "FeatureStoreClient", "FeatureTable",
           "TrainingSet"]
