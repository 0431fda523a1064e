"""A fresh store per test (``client``, no JVM), one real local SparkSession with Delta for the
whole test session, started only by the tests that are about Spark (``spark``, ``spark_client``),
and headless Chromium for the tests of pages (``browser``)."""

from __future__ import annotations

import os
import shutil

import pytest

# A failure inside autologging raises in tests instead of warning (see sparktrack.autologging.safety).
os.environ.setdefault("SPARKTRACK_AUTOLOGGING_TESTING", "true")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from sparktrack.session import spark_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = spark_session(
        master="local[2]",
        app_name="sparktrack-tests",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.sql.warehouse.dir": str(warehouse),
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def client():
    """A fresh store under a temp dir, with the fluent API pointed at it; no Spark."""
    from sparktrack.testing import fresh_store

    with fresh_store() as sparktrack_client:
        yield sparktrack_client


@pytest.fixture
def spark_client(spark):
    """A fresh store with the session's SparkSession, for tests of Spark's side (SQL, Spark ML)."""
    from sparktrack.testing import fresh_store

    with fresh_store(spark) as sparktrack_client:
        yield sparktrack_client


@pytest.fixture(scope="session")
def java_options(tmp_path_factory) -> str:
    """JVM options for the Spark drivers that tests start in other processes (see _procs)."""
    from _procs import dump_class_archive

    return dump_class_archive(tmp_path_factory.mktemp("jvm"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on 127.0.0.1, for the whole test session."""
    from _s3 import start

    server, process = start(str(tmp_path_factory.mktemp("s3") / "moto.log"))
    yield server
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def s3_store(s3_server, monkeypatch):
    """The root of a store in a new bucket on the S3 server, with the storage options set."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    return f"s3://{s3_server.bucket()}/store"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver, both Debian's: paths given, so selenium-manager
    never looks anything up or downloads a driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail("The browser tests need Debian's chromium and chromedriver on the PATH "
                    f"(found chromium={chromium}, chromedriver={chromedriver}): run tests/install-chromium.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # only loopback: a fetch elsewhere fails
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    yield driver
    driver.quit()
