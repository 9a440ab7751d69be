"""A synthetic mailbox shaped like a real job seeker's inbox, for benchmarks and fault tests.

Deterministic for a seed: plain notes, HTML newsletters and ATS mail, threads, about 3% rejections,
and one message in ten with a large attachment (200 KB to 1.5 MB).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

COMPANIES = ["Acme", "Northwind", "Globex", "Initech", "Umbrella Health", "Hooli", "Vandelay", "Stark Labs",
             "Wayne Logistics", "Cyberdyne", "Soylent", "Tyrell Bio", "Oscorp", "Aperture", "Massive Dynamic"]
ROLES = ["Data Engineer", "Product Designer", "Backend Engineer", "Marketing Manager", "Nurse Practitioner",
         "Financial Analyst", "Site Reliability Engineer", "Account Executive", "Research Scientist"]
SENTENCES = [
    "Thanks for getting back to me so quickly.", "The quarterly numbers are attached for review.",
    "Can we move our call to Thursday afternoon?", "Here is this week's round-up of the best reads.",
    "Your order has shipped and should arrive within three working days.",
    "Don't forget the team lunch on Friday.", "I've left a few comments on the draft.",
    "The invoice for October is now available in your account.", "Let me know what you think.",
    "We are excited to share our latest product updates with you.", "See you at the meetup next week!",
]
REJECTION = (
    "Dear {name},\n\nThank you for your interest in the {role} position at {company}. After careful "
    "consideration, we have decided to move forward with other candidates whose experience more closely "
    "matches our needs.\n\nWe wish you every success in your search.\n\n{company} Talent Team"
)


def _text(rng: random.Random, n: int) -> str:
    return "\n\n".join(" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5))) for _ in range(n))


def message(i: int, rng: random.Random, start: datetime) -> EmailMessage:
    msg = EmailMessage()
    company, role = rng.choice(COMPANIES), rng.choice(ROLES)
    roll = rng.random()
    if roll < 0.03:
        msg["From"] = f"{company} Careers <no-reply@{company.lower().replace(' ', '')}.example>"
        msg["Subject"] = f"Your application for {role}"
        body = REJECTION.format(name="Sam", role=role, company=company)
    elif roll < 0.35:
        msg["From"] = f"{rng.choice(['News', 'Digest', 'Updates'])} <news@{company.lower()[:6]}.example>"
        msg["Subject"] = f"{company} weekly: {rng.choice(SENTENCES)[:40]}"
        body = _text(rng, rng.randint(5, 30))
    else:
        msg["From"] = f"Friend {i % 97} <friend{i % 97}@mail.example>"
        msg["Subject"] = rng.choice(SENTENCES)[:50]
        body = _text(rng, rng.randint(1, 4))
    msg["To"] = "Sam <sam@example.com>"
    msg["Date"] = format_datetime(start + timedelta(minutes=37 * i))
    msg["Message-ID"] = f"<bench-{i}@bench.rejection-watcher.test>"
    msg.set_content(body)
    if roll >= 0.03 and roll < 0.35:
        paragraphs = "".join(f"<p style='margin:0 0 12px'>{p}</p>" for p in body.split("\n\n"))
        msg.add_alternative(
            f"<html><head><style>p{{font-family:sans-serif}}</style></head><body><table><tr><td>"
            f"{paragraphs}</td></tr></table></body></html>", subtype="html")
    if i % 10 == 7:
        size = rng.randint(200_000, 1_500_000)
        msg.add_attachment(rng.randbytes(size), maintype="application", subtype="pdf",
                           filename=f"document-{i}.pdf")
    return msg


def generate(n: int, seed: int = 2026) -> Iterator[bytes]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n):
        yield bytes(message(i, rng, start))
