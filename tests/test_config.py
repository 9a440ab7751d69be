"""The config file: the README's shape, clear one-line errors naming the file, secrets kept out of sight."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.cli import cli
from watcher.config import ConfigError, Secret, find_config, load_settings

SECRET = "hunter2-Sup3r-S3cret"

ISSUE_SHAPE = """
[storage]
database = "~/.local/share/rejection-watcher/watcher.db"   # SQLite, the embedded default

[[accounts]]
name = "personal"
host = "imap.example.com"
port = 993
security = "tls"            # tls | starttls | none  (none only to 127.0.0.1/localhost, else a clear error)
username = "me@example.com"
password_command = "pass show mail/personal"   # or password_file = "...", or password = "..." (warned about)
# auth = "xoauth2" with token_command = "..." for Gmail/Microsoft 365 (access token printed by the command)
folders = ["INBOX"]
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def account_toml(**keys: object) -> str:
    values: dict[str, object] = {"name": "work", "host": "imap.example.com", "username": "me@example.com",
                                 "password_file": "/dev/null"}
    values.update(keys)
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f"{key} = {value}")
    return "[[accounts]]\n" + "\n".join(lines) + "\n"


def test_the_shape_from_the_issue(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ISSUE_SHAPE), env={})
    assert settings.database == Path("~/.local/share/rejection-watcher/watcher.db").expanduser()
    [account] = settings.accounts
    assert (account.name, account.host, account.port, account.security) == ("personal", "imap.example.com",
                                                                             993, "tls")
    assert account.username == "me@example.com"
    assert account.folders == ("INBOX",)
    assert account.verify_tls is True  # certificates are verified unless said otherwise
    assert account.secret == Secret("command", "pass show mail/personal")
    assert settings.source == tmp_path / "config.toml"


def test_defaults_per_security(tmp_path: Path) -> None:
    text = account_toml(name="a", security="starttls") + account_toml(name="b", host="localhost",
                                                                      security="none")
    a, b = load_settings(write(tmp_path, text), env={}).accounts
    assert (a.port, b.port) == (143, 143)
    assert (a.batch_size, a.timeout) == (200, 60.0)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ISSUE_SHAPE), env={})
    with pytest.raises(AttributeError):
        settings.poll_interval = 1  # type: ignore[misc]


# -- errors: one clear line that names the file -------------------------------------------------


@pytest.mark.parametrize(
    "text,message",
    [
        ("[storage\n", "invalid TOML"),
        ("[nonsense]\n", "unknown section(s): nonsense"),
        (account_toml(security="none"), 'security = "none" is only allowed for 127.0.0.1/localhost'),
        (account_toml(security="ssl"), "security must be one of tls, starttls, none, not 'ssl'"),
        (account_toml(port=99999), "port must be an integer between 1 and 65535"),
        (account_toml(host=None), "'host' is required"),
        (account_toml(password_file=None), "one of password_command, password_file or password is required"),
        (account_toml(password="x"), "set only one of password, password_file, password_command"),
        (account_toml(folders=[]), "folders must be a non-empty list"),
        (account_toml(timeout="soon"), "timeout must be a positive number, not 'soon'"),
        (account_toml(batch_size=0), "batch_size must be a positive whole number, not 0"),
        (account_toml(passwort="x"), "unknown key(s) passwort"),
        (account_toml(auth="xoauth2"), 'auth = "xoauth2" needs token_command'),
        (account_toml() + account_toml(), "account names must be unique"),
        ("[watch]\npoll_interval = 5\n", "watch.poll_interval must be at least 10 seconds"),
        ("[watch]\npoll_interval = 'often'\n", "watch.poll_interval must be a number of seconds"),
    ],
)
def test_bad_config_is_one_clear_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)

    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {caught.value}"]


def test_missing_config_named_on_the_command_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(cli, ["--config", str(missing), "poll"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {missing}: config file not found"


def test_missing_config_from_the_environment(tmp_path: Path) -> None:
    missing = tmp_path / "env.toml"
    result = CliRunner().invoke(cli, ["status"], env={"WATCHER_CONFIG": str(missing)})
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {missing}: config file not found"


def test_config_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "rejection-watcher").mkdir(parents=True)
    default = write(xdg / "rejection-watcher", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("WATCHER_CONFIG", raising=False)
    assert find_config() == default
    monkeypatch.setenv("WATCHER_CONFIG", str(tmp_path / "env.toml"))
    assert find_config() == tmp_path / "env.toml"
    assert find_config(tmp_path / "explicit.toml") == tmp_path / "explicit.toml"
    default.unlink()
    monkeypatch.delenv("WATCHER_CONFIG")
    assert find_config() is None
    assert load_settings(env={}).accounts == ()  # no file at all: defaults, no accounts


# -- secrets ------------------------------------------------------------------------------------


def test_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    [account] = load_settings(write(tmp_path, account_toml(password_file=str(secret))), env={}).accounts
    assert account.secret.reveal() == SECRET


def test_password_file_missing_is_a_clear_error(tmp_path: Path) -> None:
    [account] = load_settings(write(tmp_path, account_toml(password_file=str(tmp_path / "gone"))),
                              env={}).accounts
    with pytest.raises(ConfigError, match=r"cannot read secret file .*gone: No such file"):
        account.secret.reveal()


def test_password_command(tmp_path: Path) -> None:
    script = tmp_path / "pass.py"
    script.write_text(f"import sys\nprint({SECRET!r} + sys.argv[1])\nprint('second line ignored')\n")
    command = f"{sys.executable} {script} -suffix"
    [account] = load_settings(write(tmp_path, account_toml(password_file=None, password_command=command)),
                              env={}).accounts
    assert account.secret.reveal() == SECRET + "-suffix"


def test_password_command_failure_does_not_leak(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(
        f"import sys\nprint({SECRET!r})\nsys.stderr.write('gpg: decryption failed')\nsys.exit(2)\n"
    )
    command = f"{sys.executable} {script}"
    [account] = load_settings(write(tmp_path, account_toml(password_file=None, password_command=command)),
                              env={}).accounts
    with pytest.raises(ConfigError) as caught:
        account.secret.reveal()
    assert str(caught.value) == "secret command exited with status 2: gpg: decryption failed"
    assert SECRET not in str(caught.value)

    [missing] = load_settings(write(tmp_path, account_toml(password_file=None,
                                                            password_command="/no/such/cmd --x")),
                              env={}).accounts
    with pytest.raises(ConfigError, match="secret command failed to run: FileNotFoundError"):
        missing.secret.reveal()


def test_password_in_the_file_is_warned_about_but_never_shown(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    path = write(tmp_path, account_toml(password_file=None, password=SECRET))
    settings = load_settings(path, env={})
    [account] = settings.accounts
    assert account.secret.reveal() == SECRET
    assert "keeps its password in the config file" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in repr(account) and SECRET not in repr(account.secret)


def test_password_not_in_errors_or_help(tmp_path: Path) -> None:
    path = write(tmp_path, account_toml(password_file=None, password=SECRET, security="none"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert SECRET not in str(caught.value)
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 1 and SECRET not in result.output
    for args in (["--help"], ["backfill", "--help"], ["doctor", "--help"]):
        assert SECRET not in runner.invoke(cli, ["--config", str(path), *args]).output


def test_xoauth2_token_command(tmp_path: Path) -> None:
    text = account_toml(password_file=None, auth="xoauth2", token_command="oauth2l fetch --json")
    [account] = load_settings(write(tmp_path, text), env={}).accounts
    assert account.auth == "xoauth2"
    assert account.secret == Secret("command", "oauth2l fetch --json")


# -- environment overrides ----------------------------------------------------------------------


def test_environment_overrides(tmp_path: Path) -> None:
    secret = tmp_path / "from-env"
    secret.write_text("env-password\n")
    text = "[storage]\ndatabase = 'file.db'\n[watch]\npoll_interval = 600\n" + account_toml(
        name="my-work", password_command="pass show x", password_file=None
    )
    env = {
        "WATCHER_DATABASE": str(tmp_path / "env.db"),
        "WATCHER_POLL_INTERVAL": "30",
        "WATCHER_MODEL_DIR": str(tmp_path / "model"),
        "WATCHER_MY_WORK_PASSWORD_FILE": str(secret),
    }
    settings = load_settings(write(tmp_path, text), env=env)
    assert settings.database == tmp_path / "env.db"
    assert settings.poll_interval == 30
    assert settings.model_dir == tmp_path / "model"
    assert settings.accounts[0].secret == Secret("file", str(secret))
    assert settings.accounts[0].secret.reveal() == "env-password"


def test_systemd_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "work").write_text("from-systemd")
    settings = load_settings(write(tmp_path, account_toml()), env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.accounts[0].secret.reveal() == "from-systemd"


def test_bad_environment_value_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="poll_interval must be a number of seconds, not 'soon'"):
        load_settings(write(tmp_path, ""), env={"WATCHER_POLL_INTERVAL": "soon"})
