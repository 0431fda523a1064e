"""A real S3-compatible server on loopback for the tests: moto's server mode (``moto[server]``
from PyPI), started once per test session, with a fresh bucket per store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:<port>

    @property
    def storage_options(self) -> dict[str, str]:
        """What sparktrack's ``storage_options`` setting holds for this server (delta-rs and
        pyarrow.fs read the same keys)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ALLOW_HTTP": "true", **CREDENTIALS}

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to use a store on this server."""
        return {"SPARKTRACK_STORAGE_OPTIONS": json.dumps(self.storage_options), **CREDENTIALS}

    def bucket(self) -> str:
        """A new, empty bucket; its name."""
        import boto3

        name = f"st-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=name)
        return name

    def spark_conf(self) -> dict[str, str]:
        """Spark's s3a settings for this server (hadoop-aws from Maven Central)."""
        return {
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.access.key": "testing",
            "spark.hadoop.fs.s3a.secret.key": "testing",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(log_path: str) -> tuple[S3Server, subprocess.Popen]:
    port = free_port()
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **CREDENTIALS})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto's server exited: {open(log_path).read()[-2000:]}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).read()
            return S3Server(endpoint), process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"moto's server did not answer on {endpoint}: {open(log_path).read()[-2000:]}")
