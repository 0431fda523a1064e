"""System tags recorded on every run: who ran it, from which source, at which git commit."""

from __future__ import annotations

import getpass
import os
import random
import subprocess
import sys
from functools import lru_cache

USER = "sparktrack.user"
SOURCE_NAME = "sparktrack.source.name"
SOURCE_TYPE = "sparktrack.source.type"
GIT_COMMIT = "sparktrack.source.git.commit"
GIT_BRANCH = "sparktrack.source.git.branch"
GIT_REPO = "sparktrack.source.git.repoURL"
PARENT_RUN_ID = "sparktrack.parentRunId"
RUN_NAME = "sparktrack.runName"
NOTE = "sparktrack.note.content"
SPARK_APP_ID = "sparktrack.spark.appId"

_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "eager", "gentle", "lucid", "merry",
               "nimble", "quiet", "rapid", "sunny", "tidy", "vivid", "wise")
_NOUNS = ("badger", "comet", "falcon", "fern", "harbor", "lynx", "maple", "otter", "pebble",
          "quartz", "raven", "spark", "tide", "willow", "yak", "zephyr")


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def source_name() -> str:
    main = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return os.path.abspath(main) if main and main != "-c" else "<interactive>"


@lru_cache(maxsize=32)
def git_info(path: str) -> dict[str, str]:
    """Commit, branch and remote of the git work tree holding ``path``; empty outside one."""
    directory = path if os.path.isdir(path) else os.path.dirname(path) or "."

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", directory, *args], capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None

    info = {}
    for tag, args in ((GIT_COMMIT, ("rev-parse", "HEAD")),
                      (GIT_BRANCH, ("rev-parse", "--abbrev-ref", "HEAD")),
                      (GIT_REPO, ("config", "--get", "remote.origin.url"))):
        value = git(*args)
        if value is None and tag == GIT_COMMIT:
            return {}
        if value is not None:
            info[tag] = value
    return info


def system_tags(spark_app_id: str | None) -> dict[str, str]:
    source = source_name()
    tags = {
        USER: current_user(),
        SOURCE_NAME: source,
        SOURCE_TYPE: "JOB" if os.environ.get("SPARK_ENV_LOADED") or "spark-submit" in source else "LOCAL",
    }
    if spark_app_id:
        tags[SPARK_APP_ID] = spark_app_id
    tags.update(git_info(source if source != "<interactive>" else os.getcwd()))
    return tags
