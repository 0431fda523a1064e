"""Artifacts through ``pyarrow.fs``: local disk, S3 (``s3://``, ``s3a://``), GCS, ABFS and HDFS,
with no JVM. Spark ML models are the exception: Spark's own writer saves them to the same URIs."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping

from sparktrack.engine.location import STORE_SCHEMES, URI_SCHEME, filesystem_for, fs_path, join_uri
from sparktrack.errors import ArtifactNotFoundError, InvalidNameError, InvalidValueError

if TYPE_CHECKING:
    import pyarrow.fs as pafs


def check_relative(artifact_path: str | None) -> str:
    """``artifact_path`` normalised, refused if it is absolute or climbs out with ``..``."""
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


@lru_cache(maxsize=32)
def _filesystem(key: str, options: tuple[tuple[str, str], ...]) -> pafs.FileSystem:
    return filesystem_for(key, dict(options))


def filesystem(uri: str, storage_options: Mapping[str, str] | None = None) -> pafs.FileSystem:
    """The (shared) pyarrow filesystem that serves ``uri``."""
    scheme = URI_SCHEME.match(uri)
    if scheme is not None and scheme.group(1).lower() not in ("file",):
        key = uri.split("/", 3)[:3]  # scheme://bucket: one filesystem per bucket and options
        return _filesystem("/".join(key), tuple(sorted((storage_options or {}).items())))
    return _filesystem("file:/", ())


class ArtifactRepository:
    """Copies files between local disk and ``root`` (any URI ``pyarrow.fs`` serves)."""

    def __init__(self, root: str, storage_options: Mapping[str, str] | None = None):
        self.root = root
        scheme = URI_SCHEME.match(root)
        if scheme is not None and scheme.group(1).lower() not in STORE_SCHEMES:
            raise InvalidValueError("artifact URI", root,
                                    f"a local path or a URI that pyarrow.fs serves; no filesystem serves "
                                    f"the scheme {scheme.group(1)}:")
        self._fs = filesystem(root, storage_options)
        self._base = fs_path(root)

    def _path(self, relative: str = "") -> str:
        return join_uri(self._base, relative) if relative else self._base.rstrip("/") or "/"

    def _uri(self, relative: str) -> str:
        return join_uri(self.root, relative)

    def _write(self, relative: str, data: bytes) -> str:
        path = self._path(relative)
        parent = os.path.dirname(path)
        if parent:
            self._fs.create_dir(parent, recursive=True)
        with self._fs.open_output_stream(path) as stream:
            stream.write(data)
        return self._uri(relative)

    def log_artifact(self, local_path: str, artifact_path: str | None = None) -> str:
        if not os.path.isfile(local_path):
            raise ArtifactNotFoundError(local_path)
        relative = join_uri(check_relative(artifact_path), os.path.basename(os.path.abspath(local_path))).lstrip("/")
        with open(local_path, "rb") as handle:
            return self._write(relative, handle.read())

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> str:
        if not os.path.isdir(local_dir):
            raise ArtifactNotFoundError(local_dir)
        base = check_relative(artifact_path)
        for entry in sorted(os.listdir(local_dir)):
            full = os.path.join(local_dir, entry)
            if os.path.isdir(full):
                self.log_artifacts(full, join_uri(base, entry).lstrip("/") if base else entry)
            else:
                self.log_artifact(full, base)
        return self._uri(base)

    def write_text(self, text: str, artifact_file: str) -> str:
        return self.write_bytes(text.encode("utf-8"), artifact_file)

    def write_bytes(self, data: bytes, artifact_file: str) -> str:
        relative = check_relative(artifact_file)
        if not relative:
            raise InvalidNameError("artifact file", artifact_file, "must name a file, e.g. 'notes.txt'")
        return self._write(relative, data)

    def exists(self, path: str | None = None) -> bool:
        import pyarrow.fs as pafs

        return self._fs.get_file_info(self._path(check_relative(path))).type != pafs.FileType.NotFound

    def list(self, path: str | None = None) -> list[dict]:
        import pyarrow.fs as pafs

        relative = check_relative(path)
        selector = pafs.FileSelector(self._path(relative), allow_not_found=True)
        entries = []
        for info in self._fs.get_file_info(selector):
            is_dir = info.type == pafs.FileType.Directory
            entries.append({"path": join_uri(relative, info.base_name).lstrip("/"), "is_dir": is_dir,
                            "file_size": None if is_dir else int(info.size)})
        return sorted(entries, key=lambda entry: entry["path"])

    def read_bytes(self, path: str) -> bytes:
        relative = check_relative(path)
        try:
            with self._fs.open_input_stream(self._path(relative)) as stream:
                return stream.read()
        except FileNotFoundError:
            raise ArtifactNotFoundError(self._uri(relative)) from None
        except OSError as exc:  # pyarrow reports a directory, or a missing S3 key, as an OSError
            if "not found" in str(exc).lower() or "is a directory" in str(exc).lower() or \
                    "no such file" in str(exc).lower():
                raise ArtifactNotFoundError(self._uri(relative)) from None
            raise

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def download(self, path: str | None, dst_dir: str) -> str:
        """Copy the file or directory at ``path`` into ``dst_dir``; returns the local path."""
        import pyarrow.fs as pafs

        relative = check_relative(path)
        info = self._fs.get_file_info(self._path(relative))
        if info.type == pafs.FileType.NotFound:
            raise ArtifactNotFoundError(self._uri(relative))
        os.makedirs(dst_dir, exist_ok=True)
        target = os.path.join(dst_dir, os.path.basename(relative)) if relative else dst_dir
        if info.type == pafs.FileType.File:
            with open(target, "wb") as handle:
                handle.write(self.read_bytes(relative))
            return target
        os.makedirs(target, exist_ok=True)
        for entry in self.list(relative):
            name = entry["path"].rsplit("/", 1)[-1]
            if entry["is_dir"]:
                self.download(entry["path"], target)
            else:
                with open(os.path.join(target, name), "wb") as handle:
                    handle.write(self.read_bytes(entry["path"]))
        return target
