"""Monitor config files (``conf/monitors/*.toml``): one ``[monitor]`` table holding ``table``,
optionally ``store``, and create_monitor's arguments, as the monitoring job and
``sparktrack monitor`` read them."""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from sparktrack import config
from sparktrack.errors import ConfigError

SECTION = "monitor"


def read_config(path: str, overrides: Sequence[str] = ()) -> tuple[str, str | None, dict[str, Any]]:
    """The monitored table, the store (None: the default) and create_monitor's arguments from
    ``path``'s [monitor] table with ``overrides`` (``key=value``) applied."""
    from sparktrack.monitoring.monitor import MonitoringClient

    values = config.apply_overrides(config.read_section(path, SECTION, "Monitor"), overrides)
    where = f"[{SECTION}] of {path}"
    known = sorted([*inspect.signature(MonitoringClient.configure).parameters, "store"])
    known.remove("self")
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"Unknown key(s) {unknown} in {where}. Known keys: {known}.")
    if not isinstance(values.get("table"), str):
        raise ConfigError(f"{where} lacks the key 'table' (the monitored table: a Delta path or catalog name).")
    store = values.pop("store", None)
    return values.pop("table"), store, values
