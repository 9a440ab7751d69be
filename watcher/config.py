"""One frozen Settings object: TOML file < WATCHER_* environment < secret files and commands."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

APP = "rejection-watcher"
SECURITY = ("tls", "starttls", "none")
AUTH = ("password", "xoauth2")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ConfigError(Exception):
    """The configuration is missing, malformed or inconsistent; the message says what and where."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def default_database() -> Path:
    return default_data_dir() / "watcher.db"


@dataclass(frozen=True)
class Secret:
    """How to obtain a secret; never holds the value itself, so reprs and logs stay clean."""

    source: str  # "command" | "file" | "value" | "none"
    spec: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r})"

    def reveal(self) -> str:
        if self.source == "value":
            return self.spec
        if self.source == "file":
            try:
                return Path(self.spec).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {self.spec}: {exc.strerror}") from None
        if self.source == "command":
            try:
                done = subprocess.run(
                    shlex.split(self.spec), capture_output=True, text=True, timeout=60, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ConfigError(f"secret command failed to run: {type(exc).__name__}") from None
            if done.returncode != 0:
                # stderr may describe the failure but never contains the secret itself
                raise ConfigError(
                    f"secret command exited with status {done.returncode}: {done.stderr.strip()[:200]}"
                )
            return done.stdout.splitlines()[0] if done.stdout else ""
        raise ConfigError("no secret configured")


@dataclass(frozen=True)
class Account:
    name: str
    host: str
    username: str
    port: int = 993
    security: str = "tls"
    auth: str = "password"
    secret: Secret = Secret("none")
    folders: tuple[str, ...] = ("INBOX",)
    drafts_folder: str | None = None  # None: found by SPECIAL-USE \Drafts
    verify_tls: bool = True
    timeout: float = 60.0
    batch_size: int = 200
    smtp_host: str | None = None  # only for `watcher drafts send`; None: sending is not configured
    smtp_port: int | None = None  # None: 465 for tls, 587 for starttls, 25 for none
    smtp_security: str = "starttls"


@dataclass(frozen=True)
class Settings:
    database: Path = field(default_factory=default_database)
    model_dir: Path | None = None  # None: the shipped model
    accounts: tuple[Account, ...] = ()
    poll_interval: int = 300
    idle: bool = True
    store_text: bool = False
    templates_dir: Path | None = None
    reminder_channels: tuple[str, ...] = ("log",)
    playbook: Mapping[str, Any] = field(default_factory=dict)
    user_name: str = ""
    user_email: str = ""  # From: of drafts and reminder mail; default: the account's username if an address
    source: Path | None = None

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none configured"
        raise ConfigError(f"no account named {name!r} (known: {known})")


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read: --config, else $WATCHER_CONFIG, else the XDG path if it exists."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("WATCHER_CONFIG")
    if env:
        return Path(env).expanduser()
    path = default_config_path()
    return path if path.exists() else None


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the configuration. Missing file with no explicit path: defaults, no accounts."""
    env = os.environ if env is None else env
    found = find_config(path)
    data: dict[str, Any] = {}
    if found is not None:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{found}: config file not found") from None
        except OSError as exc:
            raise ConfigError(f"{found}: cannot read config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: invalid TOML: {exc}") from None
    return _build(data, env, found)


def _build(data: dict[str, Any], env: Mapping[str, str], where: Path | None) -> Settings:
    at = str(where) if where else "<defaults>"

    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{at}: {msg}")

    known_top = {"storage", "accounts", "watch", "model", "reminders", "drafts", "playbook", "user"}
    unknown = set(data) - known_top
    if unknown:
        raise fail(f"unknown section(s): {', '.join(sorted(unknown))}")
    storage = _table(data, "storage", fail)
    watch = _table(data, "watch", fail)
    model = _table(data, "model", fail)
    reminders = _table(data, "reminders", fail)
    drafts = _table(data, "drafts", fail)
    user = _table(data, "user", fail)

    database = Path(env.get("WATCHER_DATABASE") or storage.get("database") or default_database())
    interval = env.get("WATCHER_POLL_INTERVAL") or watch.get("poll_interval", 300)
    try:
        poll_interval = int(interval)
    except (TypeError, ValueError):
        raise fail(f"watch.poll_interval must be a number of seconds, not {interval!r}") from None
    if poll_interval < 10:
        raise fail("watch.poll_interval must be at least 10 seconds")
    model_dir = env.get("WATCHER_MODEL_DIR") or model.get("path")
    templates = drafts.get("templates_dir")
    channels = reminders.get("channels", ["log"])
    bad_channels = set(channels) - {"log", "desktop", "email"}
    if bad_channels:
        raise fail(f"reminders.channels: unknown channel(s) {', '.join(sorted(bad_channels))}")

    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise fail("[[accounts]] must be an array of tables")
    accounts = tuple(_account(i, raw, env, fail) for i, raw in enumerate(raw_accounts))
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise fail("account names must be unique")

    return Settings(
        database=database.expanduser(),
        model_dir=Path(model_dir).expanduser() if model_dir else None,
        accounts=accounts,
        poll_interval=poll_interval,
        idle=bool(watch.get("idle", True)),
        store_text=bool(storage.get("store_text", False)),
        templates_dir=Path(templates).expanduser() if templates else None,
        reminder_channels=tuple(channels),
        playbook=dict(data.get("playbook", {})),
        user_name=str(user.get("name", "")),
        user_email=str(user.get("email", "")),
        source=where,
    )


def _table(data: dict[str, Any], key: str, fail: Any) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise fail(f"[{key}] must be a table")
    return value


_ACCOUNT_KEYS = {
    "name", "host", "port", "security", "username", "password", "password_file", "password_command",
    "auth", "token_command", "folders", "drafts_folder", "verify_tls", "timeout", "batch_size",
    "smtp_host", "smtp_port", "smtp_security",
}


def _account(index: int, raw: Any, env: Mapping[str, str], fail: Any) -> Account:
    if not isinstance(raw, dict):
        raise fail(f"accounts[{index}] must be a table")
    label = f"accounts[{index}]" + (f" ({raw['name']})" if "name" in raw else "")
    unknown = set(raw) - _ACCOUNT_KEYS
    if unknown:
        raise fail(f"{label}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "host", "username"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(f"{label}: '{key}' is required")
    name = raw["name"]
    security = raw.get("security", "tls")
    if security not in SECURITY:
        raise fail(f"{label}: security must be one of {', '.join(SECURITY)}, not {security!r}")
    if security == "none" and raw["host"] not in LOCAL_HOSTS:
        raise fail(f"{label}: security = \"none\" is only allowed for 127.0.0.1/localhost")
    port = raw.get("port", 993 if security == "tls" else 143)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise fail(f"{label}: port must be an integer between 1 and 65535")
    auth = raw.get("auth", "password")
    if auth not in AUTH:
        raise fail(f"{label}: auth must be one of {', '.join(AUTH)}, not {auth!r}")
    folders = raw.get("folders", ["INBOX"])
    if not isinstance(folders, list) or not folders or not all(isinstance(f, str) for f in folders):
        raise fail(f"{label}: folders must be a non-empty list of folder names")

    smtp_security = raw.get("smtp_security", "starttls")
    if smtp_security not in SECURITY:
        raise fail(f"{label}: smtp_security must be one of {', '.join(SECURITY)}, not {smtp_security!r}")
    smtp_host = raw.get("smtp_host")
    if smtp_host is not None and (not isinstance(smtp_host, str) or not smtp_host):
        raise fail(f"{label}: smtp_host must be a host name")
    if smtp_host and smtp_security == "none" and smtp_host not in LOCAL_HOSTS:
        raise fail(f"{label}: smtp_security = \"none\" is only allowed for 127.0.0.1/localhost")
    smtp_port = raw.get("smtp_port")
    if smtp_port is not None and (not isinstance(smtp_port, int) or not 0 < smtp_port < 65536):
        raise fail(f"{label}: smtp_port must be an integer between 1 and 65535")

    env_key = "WATCHER_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    secret = _secret(raw, auth, env, env_key, label, fail)
    return Account(
        name=name,
        host=raw["host"],
        username=raw["username"],
        port=port,
        security=security,
        auth=auth,
        secret=secret,
        folders=tuple(folders),
        drafts_folder=raw.get("drafts_folder"),
        verify_tls=bool(raw.get("verify_tls", True)),
        timeout=float(_positive(raw, "timeout", 60, label, fail)),
        batch_size=int(_positive(raw, "batch_size", 200, label, fail, whole=True)),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
    )


def _positive(
    raw: dict[str, Any], key: str, default: float, label: str, fail: Any, whole: bool = False
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value <= 0:
        raise fail(f"{label}: {key} must be a positive {'whole ' if whole else ''}number, not {value!r}")
    return float(value)


def _secret(
    raw: dict[str, Any], auth: str, env: Mapping[str, str], env_key: str, label: str, fail: Any
) -> Secret:
    if auth == "xoauth2":
        if env.get(f"{env_key}_TOKEN_FILE"):
            return Secret("file", env[f"{env_key}_TOKEN_FILE"])
        if not raw.get("token_command"):
            raise fail(f"{label}: auth = \"xoauth2\" needs token_command")
        return Secret("command", raw["token_command"])
    # environment overrides: WATCHER_<ACCOUNT>_PASSWORD_FILE, then CREDENTIALS_DIRECTORY (systemd)
    if env.get(f"{env_key}_PASSWORD_FILE"):
        return Secret("file", env[f"{env_key}_PASSWORD_FILE"])
    creds = env.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / raw["name"]).is_file():
        return Secret("file", str(Path(creds) / raw["name"]))
    given = [k for k in ("password", "password_file", "password_command") if k in raw]
    if len(given) > 1:
        raise fail(f"{label}: set only one of password, password_file, password_command")
    if not given:
        raise fail(f"{label}: one of password_command, password_file or password is required")
    key = given[0]
    if not isinstance(raw[key], str):
        raise fail(f"{label}: {key} must be a string")
    if key == "password":
        log.warning("account %s keeps its password in the config file; prefer password_command", raw["name"])
        return Secret("value", raw[key])
    return Secret("file" if key == "password_file" else "command", raw[key])


def with_database(settings: Settings, database: Path) -> Settings:
    return replace(settings, database=database)
