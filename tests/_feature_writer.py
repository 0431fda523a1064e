"""A process that upserts into one feature table: ``python _feature_writer.py STORE TABLE WRITER
ROUNDS [HOLD]``. Round r writes keys 0-39 with the value ``WRITER * 1000 + r`` and prints "wrote"
or, when other writers kept conflicting, "conflict" and the error. With HOLD, it then prints
"merging" and sleeps inside one more MERGE (a UDF that waits), to be killed there."""

from __future__ import annotations

import sys
import time


def main() -> int:
    from pyspark.sql import functions as F

    import sparktrack
    from sparktrack.errors import ConcurrentWriteError
    from sparktrack.features import FeatureEngineeringClient

    store, table, writer, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hold = len(sys.argv) > 5
    spark = sparktrack.spark_session(master="local[1]", conf={"spark.sql.shuffle.partitions": "1"})
    fe = FeatureEngineeringClient(store=store, spark=spark)
    for number in range(rounds + hold):
        value = float(writer * 1000 + number)
        df = spark.range(40).select(F.col("id").alias("key"), F.lit(value).alias("score"))
        if number == rounds:
            def wait(x):
                time.sleep(600)
                return x
            df = df.withColumn("score", F.udf(wait, "double")("score"))
            print("merging", flush=True)
        try:
            fe.write_table(name=table, df=df)
            print(f"wrote {value}", flush=True)
        except ConcurrentWriteError as error:
            print(f"conflict {error}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
