"""Write and enable the systemd user unit for `watcher run`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import platformdirs

from .config import default_data_dir

UNIT_NAME = "rejection-watcher.service"


class ServiceError(Exception):
    """The unit could not be installed or enabled."""


def unit_template() -> str:
    # systemd/rejection-watcher.service in the repo is a link to this packaged file
    return resources.files("watcher").joinpath("templates", UNIT_NAME).read_text(encoding="utf-8")


def render_unit(config: str | None, executable: str | None = None) -> str:
    """The unit text with the absolute path of this `watcher` and the config file filled in."""
    watcher = executable or shutil.which("watcher") or f"{sys.executable} -m watcher"
    environment = f"Environment=WATCHER_CONFIG={Path(config).expanduser().resolve()}" if config else ""
    return unit_template().replace("@WATCHER@", watcher).replace("@ENVIRONMENT@", environment)


def unit_path() -> Path:
    return Path(platformdirs.user_config_dir("systemd", appauthor=False)) / "user" / UNIT_NAME


def install(config: str | None, *, enable: bool = True) -> list[str]:
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    default_data_dir().mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_unit(config), encoding="utf-8")
    tmp.replace(path)
    lines = [f"wrote {path}"]
    if not enable:
        lines.append(f"enable it with: systemctl --user enable --now {UNIT_NAME}")
        return lines
    if shutil.which("systemctl") is None:
        raise ServiceError(f"wrote {path}, but systemctl is not available here; start `watcher run` yourself")
    for args in (["daemon-reload"], ["enable", "--now", UNIT_NAME]):
        done = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServiceError(f"systemctl --user {' '.join(args)} failed: {done.stderr.strip()}")
    lines.append(f"enabled and started {UNIT_NAME}; logs: journalctl --user -u rejection-watcher -f")
    return lines
