"""The systemd user unit: rendered, checked by `systemd-analyze verify`, installed by the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher import service
from watcher.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def watcher_executable() -> str:
    """An existing absolute path for ExecStart: the venv's `watcher` script, else this Python."""
    found = shutil.which("watcher") or str(Path(sys.executable).with_name("watcher"))
    return found if os.access(found, os.X_OK) else sys.executable


def verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify`. Outside a login session there is no user manager: give it a
    private XDG_RUNTIME_DIR so it can start its own in test mode, and a HOME for %h."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path), "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def problems(done: subprocess.CompletedProcess[str]) -> list[str]:
    """Lines that are about the unit, not about this machine having no user session or bus."""
    environment = ("XDG_RUNTIME_DIR", "RuntimeDirectory", "D-Bus", "Failed to connect to bus",
                   "Failed to initialize manager")
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.strip() and not any(word in line for word in environment)]


needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")


def test_render_unit_fills_in_the_executable_and_config(tmp_path: Path):
    config = tmp_path / "config.toml"
    text = service.render_unit(str(config), "/opt/rw/bin/watcher")
    assert "ExecStart=/opt/rw/bin/watcher run\n" in text
    assert f"Environment=WATCHER_CONFIG={config.resolve()}\n" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text and "Restart=on-failure" in text
    assert "LoadCredential=" in text and "StandardOutput=journal" in text
    assert "@WATCHER@" not in text and "@ENVIRONMENT@" not in text
    assert (ROOT / "systemd" / service.UNIT_NAME).read_text(encoding="utf-8") == service.unit_template()


@needs_systemd
def test_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path):
    unit = tmp_path / service.UNIT_NAME
    text = service.render_unit(str(tmp_path / "config.toml"), watcher_executable())
    unit.write_text(text, encoding="utf-8")

    done = verify(unit, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert problems(done) == [], done.stdout + done.stderr


@needs_systemd
def test_verify_would_catch_a_broken_unit(tmp_path: Path):
    """The check above can fail: a missing executable and an unknown key are reported."""
    unit = tmp_path / service.UNIT_NAME
    text = service.render_unit(None, str(tmp_path / "no-such-watcher")).replace(
        "Restart=on-failure", "Restart=on-failure\nRestartEverySoOften=yes")
    unit.write_text(text, encoding="utf-8")

    done = verify(unit, tmp_path)

    found = "\n".join(problems(done))
    assert "no-such-watcher" in found and "RestartEverySoOften" in found
    assert done.returncode != 0


def test_install_service_no_enable_writes_the_unit_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "watcher.toml"
    config.write_text("", encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "install-service", "--no-enable"])

    assert result.exit_code == 0, result.output
    unit = tmp_path / "config" / "systemd" / "user" / service.UNIT_NAME
    assert result.output.splitlines() == [
        f"wrote {unit}", f"enable it with: systemctl --user enable --now {service.UNIT_NAME}"]
    text = unit.read_text(encoding="utf-8")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert Path(exec_start.split("=", 1)[1].split()[0]).is_absolute()
    assert exec_start.endswith(" run")
    assert f"Environment=WATCHER_CONFIG={config.resolve()}" in text
    assert (tmp_path / "data" / "rejection-watcher").is_dir()  # ReadWritePaths must exist for the unit
    assert not list(unit.parent.glob("*.tmp"))
