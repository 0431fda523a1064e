"""Where a store lives, spelled for each engine that reads it.

A store root is a local directory or a URI: ``s3://``/``s3a://``, ``gs://``, ``abfss://``,
``hdfs://``. delta-rs and ``pyarrow.fs`` call S3 ``s3://``; Spark's Hadoop connector calls it
``s3a://``. A ``Location`` keeps the root as the user gave it (local paths as ``file:/abs``) and
translates: ``delta_uri`` for delta-rs, ``spark_uri`` for Spark, ``filesystem`` for pyarrow.

Storage options (credentials, endpoints, S3's commit protocol) come from the
``storage_options`` setting and are handed to delta-rs as they are. On S3 several writers are
safe only with a conditional put or a lock (delta-rs refuses a second writer's commit of the same
version only then), so ``conditional_put=etag`` is the default there unless a locking provider
is configured.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Mapping

from sparktrack.errors import InvalidValueError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: A URI's scheme (``s3a:``, ``file:``, ``models:``...), captured without its colon.
URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

#: A plain SQL identifier: a database name, or one part of a catalog table name.
SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

def quote_identifier(name: str) -> str:
    """A column or table name quoted for Spark SQL (and ``F.col``): backticks, doubled inside."""
    return "`" + name.replace("`", "``") + "`"


def delta_path_sql(path: str) -> str:
    """How Spark SQL names the Delta table at ``path``: delta.`path`."""
    return "delta." + quote_identifier(path)


def sql_string(text: str) -> str:
    """A Spark SQL string literal (backslash escapes, Spark's default)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: Schemes a store root may have; each is served by delta-rs, pyarrow.fs and a Hadoop connector.
STORE_SCHEMES = ("file", "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "hdfs")
_S3 = ("s3", "s3a")
#: Storage options that choose how concurrent S3 commits are kept apart.
_S3_COMMIT_OPTIONS = ("conditional_put", "aws_conditional_put", "aws_s3_locking_provider",
                      "aws_s3_allow_unsafe_rename")


@dataclass(frozen=True)
class Location:
    """A store root (``uri``), its local directory when it is on local disk, and its options."""

    uri: str
    local: str | None
    storage_options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, root: object, storage_options: Mapping[str, str] | None = None) -> Location:
        if not isinstance(root, str) or not root.strip():
            raise InvalidValueError("store root", root, "a directory or a URI such as s3://bucket/store")
        root = root.strip()
        options = {str(k): str(v) for k, v in (storage_options or {}).items()}
        if root.startswith("file:"):
            local = os.path.abspath(re.sub(r"^file:(//)?", "", root))
            return cls(f"file:{local}", local, options)
        scheme = URI_SCHEME.match(root)
        if scheme is None:
            local = os.path.abspath(os.path.expanduser(root))
            return cls(f"file:{local}", local, options)
        if scheme.group(1).lower() not in STORE_SCHEMES:
            raise InvalidValueError("store root", root,
                                    f"a local directory or a URI with one of the schemes {list(STORE_SCHEMES)}")
        if scheme.group(1).lower() in _S3 and not any(k.lower() in _S3_COMMIT_OPTIONS for k in options):
            options["conditional_put"] = "etag"
        return cls(root.rstrip("/"), None, options)

    @property
    def scheme(self) -> str:
        return URI_SCHEME.match(self.uri).group(1).lower()  # type: ignore[union-attr]

    def child(self, *parts: str) -> str:
        """The URI of a path under the root."""
        return join_uri(self.uri, *parts)

    def delta_uri(self, uri: str) -> str:
        """``uri`` (under this root, or anywhere) as delta-rs reads it: a plain local path, ``s3://``."""
        return engine_uri(uri)

    def filesystem(self) -> pafs.FileSystem:
        """The pyarrow filesystem that serves this root (paths as :func:`fs_path` gives them)."""
        return self._filesystem

    @cached_property
    def _filesystem(self) -> pafs.FileSystem:
        return filesystem_for(self.uri, self.storage_options)


def join_uri(base: str, *parts: str) -> str:
    path = base.rstrip("/")
    for part in parts:
        if part:
            path = f"{path}/{part.strip('/')}"
    return path


def engine_uri(uri: str) -> str:
    """A URI as delta-rs and pyarrow spell it: local paths without ``file:``, ``s3a`` as ``s3``."""
    if uri.startswith("file:"):
        return os.path.abspath(re.sub(r"^file:(//)?", "", uri))
    scheme = URI_SCHEME.match(uri)
    if scheme is None:
        return os.path.abspath(os.path.expanduser(uri))
    if scheme.group(1).lower() == "s3a":
        return "s3" + uri[len("s3a"):]
    return uri


def spark_uri(uri: str) -> str:
    """A URI as Spark's Hadoop connectors spell it: S3 as ``s3a://``, local paths as ``file:``."""
    scheme = URI_SCHEME.match(uri)
    if scheme is None:
        return f"file:{os.path.abspath(os.path.expanduser(uri))}"
    if scheme.group(1).lower() == "s3":
        return "s3a" + uri[len("s3"):]
    return uri


def fs_path(uri: str) -> str:
    """The path of ``uri`` on the filesystem :func:`filesystem_for` gives (``bucket/key`` on S3)."""
    local = engine_uri(uri)
    scheme = URI_SCHEME.match(local)
    if scheme is None:
        return local
    return local[len(scheme.group(0)):].lstrip("/")


def filesystem_for(uri: str, storage_options: Mapping[str, str] | None = None) -> pafs.FileSystem:
    """A pyarrow filesystem for ``uri``. S3 takes its endpoint and credentials from the storage
    options (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``...) or the environment, as delta-rs does."""
    import pyarrow.fs as pafs

    local = engine_uri(uri)
    scheme = URI_SCHEME.match(local)
    if scheme is None:
        return pafs.LocalFileSystem()
    if scheme.group(1).lower() == "s3":
        return _s3_filesystem({k.upper(): v for k, v in (storage_options or {}).items()})
    try:
        filesystem, _ = pafs.FileSystem.from_uri(local)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidValueError("storage URI", uri, f"a URI pyarrow.fs can open ({exc})") from None
    return filesystem


def _s3_filesystem(options: Mapping[str, str]) -> pafs.FileSystem:
    import pyarrow.fs as pafs

    def option(*names: str) -> str | None:
        for name in names:
            if options.get(name):
                return options[name]
            if os.environ.get(name):
                return os.environ[name]
        return None

    endpoint = option("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
    kwargs: dict[str, object] = {}
    if endpoint:
        scheme, _, rest = endpoint.partition("://")
        kwargs.update(endpoint_override=rest or scheme, scheme=scheme if rest else "https")
    for key, names in (("access_key", ("AWS_ACCESS_KEY_ID",)), ("secret_key", ("AWS_SECRET_ACCESS_KEY",)),
                       ("session_token", ("AWS_SESSION_TOKEN",)), ("region", ("AWS_REGION", "AWS_DEFAULT_REGION"))):
        value = option(*names)
        if value:
            kwargs[key] = value
    return pafs.S3FileSystem(**kwargs)
