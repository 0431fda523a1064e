"""The engines under the store: delta-rs for the store's Delta tables (``delta``) and
``pyarrow.fs`` for files (``files``), both addressed through a ``Location`` (``location``).

Nothing here starts a JVM or imports pyspark: tracking, the registry and artifacts run in a
plain Python process. Spark reads the same tables (see ``sparktrack.views``) but never writes
them, so every table has one writing engine.
"""
