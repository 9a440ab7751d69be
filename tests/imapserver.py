"""Real IMAP servers on 127.0.0.1 for the tests and the benchmark: pymap (always) and Dovecot (if installed).

Each server runs as a child process on a free port with a generated config, is waited for until it
answers with a greeting, and is killed by stop(). `ImapServer.client()` gives a logged-in IMAPClient
for setting up mailboxes (APPEND) and for checking them (FLAGS) independently of the code under test.

`CuttingProxy` is a TCP proxy in front of a server that counts the bytes it passes to the client and
can cut the connection after a given number of them, to simulate a server that drops mid-transfer.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = "/usr/sbin/dovecot"
USER = "watcher-test"
PASSWORD = "s3cret-Pa55-do-not-log"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_greeting(
    port: int, proc: subprocess.Popen[bytes], log: Path | None, timeout: float = 20
) -> None:
    """Until the server sends its `* OK` greeting; fail with the server's log if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"IMAP server exited with status {proc.returncode}:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"IMAP server on port {port} did not answer within {timeout}s")


class ImapServer:
    """A server process with one user. Subclasses say how to start it."""

    name = "abstract"
    host = "127.0.0.1"
    user = USER
    password = PASSWORD

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"

    # -- lifecycle ----------------------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> ImapServer:
        self.port = self.port or free_port()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            wait_for_greeting(self.port, self.proc, self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        # its own session (start_new_session): the group holds the server and any children it forked
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def cleanup(self) -> None:
        """Remove what lives outside the work directory (after stop())."""

    def restart(self) -> None:
        """Stop and start again on the same port (pymap's in-memory mailboxes start empty again)."""
        self.stop()
        self.start()

    def __enter__(self) -> ImapServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests --------------------------------------------------------------------

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        # imaplib sends an APPEND literal and its closing CRLF in two writes: without NODELAY, Nagle holds
        # the CRLF until the server's delayed ACK, 40 ms per message
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.login(self.user, self.password)
        return client

    @contextlib.contextmanager
    def session(self) -> Iterator[IMAPClient]:
        client = self.client()
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, folder: str, messages: Iterable[bytes]) -> None:
        with self.session() as client:
            for data in messages:
                client.append(folder, data)

    def create_folder(self, folder: str) -> None:
        with self.session() as client:
            client.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        with self.session() as client, contextlib.suppress(Exception):
            client.delete_folder(folder)

    def recreate_folder(self, folder: str, messages: Iterable[bytes] = ()) -> None:
        """Delete and create the folder again: same name, new UIDVALIDITY; then append `messages`."""
        with self.session() as client:
            client.delete_folder(folder)
            client.create_folder(folder)
            for data in messages:
                client.append(folder, data)

    def folder_info(self, folder: str) -> dict[bytes, object]:
        with self.session() as client:
            return dict(client.select_folder(folder, readonly=True))

    def flags(self, folder: str) -> dict[int, frozenset[bytes]]:
        """Stored flags of every message, read without changing anything (EXAMINE, FETCH FLAGS).

        \\Recent is left out: it is a session flag the server sets, not one a client stores.
        """
        with self.session() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            found = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {
                uid: frozenset(f for f in data[b"FLAGS"] if f.lower() != b"\\recent")
                for uid, data in found.items()
            }

    def uids(self, folder: str) -> list[int]:
        with self.session() as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["ALL"]))


# pymap keeps the demo password as a PBKDF2 hash with 500,000 rounds: 0.4 s of CPU per LOGIN. The tests
# log in often, so the server is started through this shim that stores it in clear text instead, like
# Dovecot's {PLAIN} scheme below. Nothing else about pymap changes.
_PYMAP_SHIM = """
import sys
import pymap.config
from pysasl.hashing import Cleartext
pymap.config.IMAPConfig._get_hash_context = classmethod(lambda cls, cfg: Cleartext())
from pymap.main import main
sys.argv[0] = "pymap"
main()
"""


class PymapServer(ImapServer):
    """pymap's in-memory `dict` backend: one user, an empty INBOX, nothing kept across restarts."""

    name = "pymap"

    def command(self) -> list[str]:
        return [
            sys.executable, "-c", _PYMAP_SHIM, "--host", self.host, "--port", str(self.port), "--no-tls",
            "dict", "--demo-user", self.user, "--demo-password", self.password,
        ]


class DovecotServer(ImapServer):
    """Dovecot as a foreground process (`dovecot -F`) with a generated minimal config.

    Maildir under the work directory, a passwd-file with a plain password, no TLS, listening only on
    127.0.0.1. The mail processes run as the current user; the login processes as Debian's `dovenull`
    when it exists (Dovecot refuses to run them as the internal user).
    """

    name = "dovecot"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        # Dovecot's unix sockets must fit in 108 bytes, and its unprivileged login processes must reach
        # them: keep its base_dir short and world-traversable, outside pytest's 0700 tmp tree.
        self.base_dir = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
        self.base_dir.chmod(0o755)

    @staticmethod
    def available() -> bool:
        return os.path.exists(DOVECOT) and os.access(DOVECOT, os.X_OK)

    def write_config(self) -> Path:
        me = pwd.getpwuid(os.getuid())
        login_user = internal_user = mail_user = me.pw_name
        if os.getuid() == 0:
            # Dovecot never gives mail access to root: the mailboxes belong to an unprivileged user
            internal_user, login_user, mail_user = "dovecot", "dovenull", "nobody"
        mail_pw = pwd.getpwnam(mail_user)
        mail = self.base_dir / "mail"
        mail.mkdir(exist_ok=True)
        os.chown(mail, mail_pw.pw_uid, mail_pw.pw_gid)
        passwd = self.base_dir / "passwd"
        passwd.write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{mail_pw.pw_uid}:{mail_pw.pw_gid}::{mail}/{self.user}::"
            "nodelay=y\n",
            encoding="utf-8",
        )
        passwd.chmod(0o644)  # read by the auth process, which runs as the internal user
        config = self.workdir / "dovecot.conf"
        config.write_text(
            f"""
base_dir = {self.base_dir}/run
state_dir = {self.base_dir}/state
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# the tests log in with wrong passwords on purpose: no growing delay for the next logins
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""",
            encoding="utf-8",
        )
        return config

    def command(self) -> list[str]:
        return [DOVECOT, "-F", "-c", str(self.write_config())]

    def cleanup(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)


BACKENDS: dict[str, type[ImapServer]] = {"pymap": PymapServer, "dovecot": DovecotServer}


def available_backends() -> list[str]:
    """pymap always; Dovecot when installed. WATCHER_TEST_SERVERS=pymap (comma list) narrows it down."""
    found = ["pymap"] + (["dovecot"] if DovecotServer.available() else [])
    wanted = os.environ.get("WATCHER_TEST_SERVERS")
    return [name for name in found if name in wanted.split(",")] if wanted else found


def start_server(backend: str, workdir: Path) -> ImapServer:
    return BACKENDS[backend](workdir).start()


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of `target_port`.

    It counts the bytes sent from the server to the client (`downstream`). With `cut_after` set, the
    first connection is closed abruptly once that many bytes have passed; with `refuse_after_cut`,
    the proxy then stops accepting connections, like a server that went away for good.
    """

    def __init__(self, target_port: int, *, cut_after: int | None = None, refuse_after_cut: bool = False):
        self.target_port = target_port
        self.cut_after = cut_after
        self.refuse_after_cut = refuse_after_cut
        self.downstream = 0
        self.cuts = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_listening(self) -> None:
        self._closed.set()
        # shutdown() wakes the thread blocked in accept() (close() alone does not) and makes further
        # connections fail with "connection refused"
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()

    def close(self) -> None:
        self._stop_listening()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._closed.is_set():
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            with self._lock:
                self.connections += 1
                cut = self.cut_after if self.cuts == 0 else None
            threading.Thread(target=self._pump, args=(client, upstream, False, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, cut), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool, cut: int | None) -> None:
        passed = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if cut is not None and passed + len(data) >= cut:
                    dst.sendall(data[: max(0, cut - passed)])
                    with self._lock:
                        self.downstream += max(0, cut - passed)
                        self.cuts += 1
                    if self.refuse_after_cut:
                        self._stop_listening()
                    break
                dst.sendall(data)
                passed += len(data)
                if down:
                    with self._lock:
                        self.downstream += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
