"""Artifacts through Hadoop's FileSystem API, so any root Spark can write is an artifact root."""

from __future__ import annotations

import os
import re
import tempfile
from typing import TYPE_CHECKING

from sparktrack.errors import ArtifactNotFoundError, InvalidNameError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: A URI's scheme (``s3a:``, ``file:``, ``models:``...), captured without its colon.
URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def join_uri(base: str, *parts: str) -> str:
    path = base.rstrip("/")
    for part in parts:
        if part:
            path = f"{path}/{part.strip('/')}"
    return path


def check_relative(artifact_path: str | None) -> str:
    if artifact_path is not None and not isinstance(artifact_path, str):
        raise InvalidNameError("artifact path", artifact_path,
                               f"must be a string such as 'plots/roc.png', not {type(artifact_path).__name__}")
    if not artifact_path:
        return ""
    parts = artifact_path.replace("\\", "/").strip("/").split("/")
    if artifact_path.startswith("/") or ".." in parts:
        raise InvalidNameError(
            "artifact path", artifact_path, "must be relative to the run's artifact root, "
            "without '..' (for example 'plots/roc.png')"
        )
    return "/".join(part for part in parts if part)


class ArtifactRepository:
    """Copies files between local disk and ``root`` (any Hadoop-compatible URI)."""

    def __init__(self, spark: SparkSession, root: str):
        self._spark = spark
        self.root = root
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self._Path(root).getFileSystem(conf)

    def log_artifact(self, local_path: str, artifact_path: str | None = None) -> str:
        if not os.path.exists(local_path):
            raise ArtifactNotFoundError(local_path)
        dest_dir = join_uri(self.root, check_relative(artifact_path))
        dest = join_uri(dest_dir, os.path.basename(os.path.abspath(local_path)))
        self._fs.mkdirs(self._Path(dest_dir))
        self._fs.copyFromLocalFile(False, True, self._Path(os.path.abspath(local_path)), self._Path(dest))
        return dest

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> str:
        if not os.path.isdir(local_dir):
            raise ArtifactNotFoundError(local_dir)
        base = check_relative(artifact_path)
        for entry in sorted(os.listdir(local_dir)):
            full = os.path.join(local_dir, entry)
            if os.path.isdir(full):
                self.log_artifacts(full, join_uri(base, entry) if base else entry)
            else:
                self.log_artifact(full, base)
        return join_uri(self.root, base)

    def write_text(self, text: str, artifact_file: str) -> str:
        relative = check_relative(artifact_file)
        if not relative:
            raise InvalidNameError("artifact file", artifact_file, "must name a file, e.g. 'notes.txt'")
        directory, name = os.path.split(relative)
        with tempfile.TemporaryDirectory(prefix="sparktrack-") as tmp:
            local = os.path.join(tmp, name)
            with open(local, "w", encoding="utf-8") as handle:
                handle.write(text)
            return self.log_artifact(local, directory)

    def list(self, path: str | None = None) -> list[dict]:
        target = self._Path(join_uri(self.root, check_relative(path)))
        if not self._fs.exists(target):
            return []
        entries = []
        for status in self._fs.listStatus(target):
            full = status.getPath().toString()
            relative = full.split(self._Path(self.root).toUri().getPath().rstrip("/") + "/", 1)[-1]
            entries.append({
                "path": relative,
                "is_dir": bool(status.isDirectory()),
                "file_size": None if status.isDirectory() else int(status.getLen()),
            })
        return sorted(entries, key=lambda entry: entry["path"])

    def download(self, path: str | None, dst_dir: str) -> str:
        source = self._Path(join_uri(self.root, check_relative(path)))
        if not self._fs.exists(source):
            raise ArtifactNotFoundError(join_uri(self.root, check_relative(path)))
        os.makedirs(dst_dir, exist_ok=True)
        self._fs.copyToLocalFile(False, source, self._Path(os.path.abspath(dst_dir)), True)
        return os.path.join(dst_dir, os.path.basename(check_relative(path)) or "")

    def read_text(self, path: str) -> str:
        with tempfile.TemporaryDirectory(prefix="sparktrack-") as tmp:
            local = self.download(path, tmp)
            with open(local, encoding="utf-8") as handle:
                return handle.read()
