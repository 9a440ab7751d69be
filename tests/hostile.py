"""Malformed and hostile messages: what a mail server will store but a parser may choke on.

`hostile(n)` gives n messages cycling through the kinds below, each made unique by its number (in the
Message-ID, or in the text when there are no usable headers) so that none is deduplicated away.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

Maker = Callable[[int, random.Random], bytes]


def _head(n: int, subject: str, extra: str = "", ctype: str = "text/plain; charset=utf-8") -> str:
    return (
        f"Message-ID: <hostile-{n}@faults.test>\r\nFrom: Mallory <mallory@evil.example>\r\n"
        f"To: me@example.com\r\nSubject: {subject} {n}\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\n{extra}Content-Type: {ctype}\r\n"
    )


def truncated_mime(n: int, rng: random.Random) -> bytes:
    body = (f"--b{n}\r\nContent-Type: text/plain\r\n\r\nWe regret to inform you\r\n--b{n}\r\n"
            f"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+")
    data = (_head(n, "truncated", ctype=f'multipart/alternative; boundary="b{n}"') + "\r\n" + body).encode()
    return data[: rng.randint(len(data) // 2, len(data) - 1)]


def header_bomb(n: int, rng: random.Random) -> bytes:
    count = 2_000 if n % 20 else 20_000  # a few go over the whole-fetch limit: headers + text path
    bomb = "".join(f"X-Bomb-{i}: {'v' * rng.randint(1, 20)}\r\n" for i in range(count))
    folded = "Received: from x\r\n" + "\t by y\r\n" * 1_000
    return (_head(n, "header bomb") + folded + bomb + "\r\nbody\r\n").encode()


def deep_nesting(n: int, rng: random.Random) -> bytes:
    depth = 1_000
    parts = [_head(n, "deep", ctype=f'multipart/mixed; boundary="d{n}-0"') + "\r\n"]
    for level in range(1, depth):
        parts.append(f"--d{n}-{level - 1}\r\nContent-Type: multipart/mixed; "
                     f"boundary=\"d{n}-{level}\"\r\n\r\n")
    parts.append(f"--d{n}-{depth - 1}\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n")
    parts += [f"--d{n}-{level}--\r\n" for level in range(depth - 1, -1, -1)]
    return "".join(parts).encode()


def invalid_charsets(n: int, rng: random.Random) -> bytes:
    charset = rng.choice(["x-no-such-charset", "utf-7", "utf-8", "iso-2022-jp", "\"", "utf-16", "ebcdic"])
    lone_surrogate = "=?iso-8859-1?Q?=E9t=E9?= \udc80".encode("utf-8", "surrogateescape").decode("latin-1")
    subject = rng.choice(["=?x-bogus?Q?caf=E9?=", "=?utf-8?B?!!!notbase64?=", "=?utf-16?Q?=FF=FE?=",
                          lone_surrogate])
    body = bytes(rng.randrange(128, 256) for _ in range(300)) + b"\r\n+ACE-+AGE-\xff\xfe\x00\r\n"
    head = _head(n, subject, ctype=f"text/plain; charset={charset}")
    return head.encode("latin-1", "replace") + b"\r\n" + body


def nul_bytes(n: int, rng: random.Random) -> bytes:
    return (_head(n, "nul\x00bytes", extra="X-Nul: a\x00b\r\n").encode()
            + b"\r\nThank you\x00 for\x00\x00 applying.\r\n" + b"\x00" * rng.randint(1, 2000) + b"\r\n")


def missing_boundary(n: int, rng: random.Random) -> bytes:
    ctype = rng.choice(["multipart/mixed", 'multipart/mixed; boundary=""',
                        'multipart/mixed; boundary="never"', "multipart/alternative; boundary"])
    body = "--x\r\nContent-Type: text/plain\r\n\r\nUnfortunately we went with others\r\n--x--\r\n"
    return (_head(n, "no boundary", ctype=ctype) + "\r\n" + body).encode()


def base64_garbage(n: int, rng: random.Random) -> bytes:
    junk = rng.choice([b"!!!***", b"QUJD=", b"=====", b"\xff\xfe", base64.b64encode(rng.randbytes(90))[:-3]])
    return (_head(n, "b64", extra="Content-Transfer-Encoding: base64\r\n").encode()
            + b"\r\n" + junk * rng.randint(1, 200) + b"\r\n")


def enormous_header_line(n: int, rng: random.Random) -> bytes:
    size = 1_000_000 if n % 50 == 7 else rng.randint(50_000, 120_000)  # a few over the whole-fetch limit
    return (_head(n, "long", extra=f"X-Long: {'A' * size}\r\n") + "\r\nshort body\r\n").encode()


def junk(n: int, rng: random.Random) -> bytes:
    return rng.choice([  # (a zero-byte message is refused by servers: not here)
        b" \r\n",
        b"\r\n\r\n",
        f"no headers at all, just text {n}\r\n".encode(),
        rng.randbytes(500) + f" {n}".encode(),
        f"Subject: only a subject {n}".encode(),
        f": {n}\r\n:\r\n\r\n".encode(),
    ])


def misc(n: int, rng: random.Random) -> bytes:
    kind = n % 4
    if kind == 0:  # HTML bomb
        return (_head(n, "html", ctype="text/html") + "\r\n" + "<div>" * 20_000 + "x" + "</b>" * 10).encode()
    if kind == 1:  # a References bomb and a bad date
        refs = " ".join(f"<r{i}@x>" for i in range(10_000))
        return (_head(n, "refs").replace("Mon, 2 Mar 2026 09:00:00 +0000", "Feb 31 99999 25:61")
                + f"References: {refs}\r\nIn-Reply-To: <<<>>>\r\n\r\nbody\r\n").encode()
    if kind == 2:  # quoted-printable garbage
        return (_head(n, "qp", extra="Content-Transfer-Encoding: quoted-printable\r\n")
                + "\r\n=ZZ=\r\n=0=\r\n" + "=" * 1000 + "\r\n").encode()
    inner = _head(n + 1_000_000, "inner").encode() + b"\r\ninner body\r\n"  # message/rfc822 inside, twice
    return _head(n, "rfc822", ctype="message/rfc822").encode() + b"\r\n" + inner


KINDS: list[Maker] = [truncated_mime, header_bomb, deep_nesting, invalid_charsets, nul_bytes,
                      missing_boundary, base64_garbage, enormous_header_line, junk, misc]


def hostile(n: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    return [KINDS[i % len(KINDS)](i, rng) for i in range(n)]
