"""Build samples/inbox.mbox: a small, realistic job seeker's inbox for trying Rejection Watcher.

Run `python samples/build_sample.py` to regenerate it. Every message here was written for the sample
and is not part of training_data/.
"""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

START = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)

# (from, reply_to, subject, text, html)
MESSAGES: list[tuple[str, str | None, str, str, bool]] = [
    ("Northwind Careers <no-reply@greenhouse-mail.io>", None, "Thank you for applying to Northwind",
     "Hi Sam,\n\nThanks for applying for the Backend Engineer (Payments) role at Northwind. We've received "
     "your application and our team will review it shortly.\n\nIf your experience matches what we're looking "
     "for, a recruiter will reach out to schedule a call.\n\nBest,\nNorthwind Talent Acquisition", True),
    ("Priya Raman <priya.raman@lumenhealth.com>", None, "Lumen Health – next steps",
     "Hi Sam,\n\nThanks for your patience! The team enjoyed reading your application for the Data Engineer "
     "position and we'd love to set up a 30-minute phone screen. Could you share a few times that work for "
     "you next Tuesday or Wednesday?\n\nWarmly,\nPriya Raman\nSenior Recruiter, Lumen Health", False),
    ("Orbital Logistics <noreply@myworkday.com>", None, "Your application for Platform Engineer",
     "Dear Sam Porter,\n\nThank you for your interest in the Platform Engineer position (R-20417) at Orbital "
     "Logistics. After careful review of your background, we have decided to move forward with other "
     "candidates whose qualifications more closely match the requirements of this role.\n\nWe encourage you "
     "to apply for future openings that match your skills.\n\nSincerely,\nOrbital Logistics Talent "
     "Acquisition\n\nThis is an automated message. Please do not reply.", True),
    ("GitHub <noreply@github.com>", None, "[sam/dotfiles] Dependabot alert",
     "A new high severity alert was found in sam/dotfiles for the package requests. Review the alert to see "
     "the recommended upgrade.", False),
    ("Hannah Cole <hannah@brightpath.io>", "hannah@brightpath.io", "Re: Senior Backend Engineer – final round",
     "Hi Sam,\n\nThank you so much for spending Thursday afternoon with the team, and for the thoughtful "
     "system design discussion. It was a genuinely difficult decision, but we've decided to extend the offer "
     "to another candidate whose experience with large-scale event pipelines was a closer match for what we "
     "need right now.\n\nI know this isn't the news you were hoping for. Everyone was impressed by how you "
     "approached the take-home, and I'd be glad to stay in touch.\n\nAll the best,\nHannah Cole\nEngineering "
     "Manager, BrightPath\n\nOn Mon, 7 Sep 2026 at 10:12, Hannah Cole <hannah@brightpath.io> wrote:\n> Hi Sam,"
     "\n> Great news: we'd like to invite you to the final round on Thursday.\n", False),
    ("Kestrel Bank <alerts@kestrelbank.com>", None, "Card payment declined",
     "We declined a payment of £42.10 at CITYMAPPER LTD on your card ending 4471 because it exceeded your "
     "contactless limit. Unfortunately, you'll need to use chip and PIN for this purchase.", False),
    ("The Ledger Review <editors@ledgerreview.com>", None, "Your pitch: 'The hidden cost of free returns'",
     "Dear Sam,\n\nThanks for thinking of The Ledger Review. We read your pitch with interest, but it isn't a "
     "fit for our autumn lineup, so we'll pass this time. We're especially keen on reported pieces with "
     "original data, if you have others in the works.\n\nBest wishes,\nMarta Silva\nDeputy Editor", False),
    ("Ridgeline Ventures <team@ridgeline.vc>", None, "Re: Tiller seed round",
     "Hi Sam,\n\nThanks again for walking us through Tiller last week. After discussing it as a partnership, "
     "we're going to pass on this round: we like the team, but the wedge into mid-market accounting feels "
     "early for our fund. Happy to revisit once you have a few more paying customers.\n\nCheers,\nDev "
     "Malhotra\nPartner, Ridgeline Ventures", False),
    ("Mum <linda.porter@fastmail.com>", None, "Sunday lunch",
     "Hi love, are you still coming on Sunday? Dad's doing the roast. Bring the dog if you like. x", False),
    ("Vertex Analytics <careers@vertexanalytics.com>", None, "Interview invitation: Analytics Engineer",
     "Hi Sam,\n\nUnfortunately the interviewer we had scheduled for Friday is unwell, so we need to move your "
     "technical interview for the Analytics Engineer role. Could you do Monday 14 September at 2pm instead? "
     "We're looking forward to speaking with you.\n\nVertex Analytics Recruiting", False),
    ("Alder & Finch Recruiting <talent@alderfinch.co.uk>", None, "An update on your application",
     "Dear Sam,\n\nThank you for the time you took to interview for the Product Analyst role with us. We "
     "have now completed all interviews and I'm sorry to let you know that on this occasion you have not "
     "been successful.\n\nWe will keep your details on file and may be in touch about future vacancies.\n\n"
     "Kind regards,\nJoanna Pike\nTalent Partner, Alder & Finch", False),
    ("Indeed <donotreply@jobs.indeed.com>", None, "8 new Data Engineer jobs in Bristol",
     "Data Engineer – Copperleaf – Bristol\nSenior Data Engineer – Halo Energy – Remote\nAnalytics Engineer "
     "– Pebble Bank – Bristol\n\nSee all jobs. Unsubscribe from these alerts.", True),
    ("Sunrise Air <noreply@sunriseair.com>", None, "Your flight SA204 has been cancelled",
     "We regret to inform you that flight SA204 from Bristol to Lisbon on 19 September has been cancelled "
     "due to operational reasons. You have been rebooked on SA206 departing at 14:05.", True),
    ("Cobalt Robotics Hiring <no-reply@ashbyhq.com>", "recruiting@cobaltrobotics.ai", "Cobalt Robotics application update",
     "Hi Sam,\n\nThanks for your interest in the Controls Software Engineer position at Cobalt Robotics. "
     "We've reviewed your application carefully and unfortunately we won't be moving forward at this time.\n"
     "\nWe appreciate you considering Cobalt and wish you the best in your search.\n\nThe Cobalt Robotics "
     "Recruiting Team", True),
    ("Grace Oduya <grace.oduya@meridiancollective.org>", None, "Offer – Community Data Lead",
     "Hi Sam,\n\nI'm delighted to tell you that we'd like to offer you the Community Data Lead role at "
     "Meridian Collective! The formal offer letter is attached, and I'd love to walk you through it on a "
     "call this week.\n\nCongratulations,\nGrace", False),
    ("PyCon Lisboa Program Committee <cfp@pyconlisboa.pt>", None, "PyCon Lisboa 2026: your proposal",
     "Dear Sam,\n\nThank you for submitting 'Testing against real IMAP servers' to PyCon Lisboa 2026. We "
     "received over 400 proposals for 60 slots, and we regret that we could not include your talk in this "
     "year's programme.\n\nWe hope to see you in Lisbon anyway!\n\nThe Program Committee", False),
    ("Jamie <jamie.k@gmail.com>", None, "Re: Brightpath",
     "Ugh, so sorry about Brightpath, they clearly don't know what they're missing. Drinks on Friday? "
     "My treat.\n\nOn Fri, 11 Sep 2026 at 18:02, Sam Porter <sam.porter@example.com> wrote:\n> Didn't get "
     "the Brightpath job :( they went with someone else.\n", False),
    ("Tessellate <hello@tessellate.design>", None, "Proposal for the Tessellate website refresh",
     "Hi Sam,\n\nThanks for the detailed proposal and for the call last week. We've decided to go with "
     "another studio whose timeline fits our launch better, so we won't be taking your proposal forward. "
     "It was a close call and we'd happily keep you in mind for smaller projects.\n\nBest,\nOwen\n"
     "Tessellate", False),
    ("Linear <notifications@linear.app>", None, "Weekly digest for Side Projects",
     "3 issues completed, 2 issues created this week in Side Projects. View your team's progress.", True),
    ("Halo Energy Talent <halo-energy@smartrecruiters.com>", None, "Application status – Senior Data Engineer",
     "Dear Sam,\n\nThank you for applying for Senior Data Engineer at Halo Energy. Unfortunately, your "
     "profile was not selected for further consideration.\n\nDue to the high number of applications we are "
     "unable to provide individual feedback.\n\nHalo Energy Talent Team", True),
]


def build(path: Path) -> int:
    if path.exists():
        path.unlink()
    box = mailbox.mbox(str(path))
    box.lock()
    try:
        for i, (sender, reply_to, subject, text, html) in enumerate(MESSAGES):
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = "Sam Porter <sam.porter@example.com>"
            if reply_to:
                msg["Reply-To"] = reply_to
            msg["Subject"] = subject
            msg["Date"] = format_datetime(START + timedelta(hours=17 * i))
            msg["Message-ID"] = f"<sample{i:03d}@sample.rejection-watcher.test>"
            msg.set_content(text)
            if html:
                paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
                msg.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
            box.add(msg)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return len(MESSAGES)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "inbox.mbox"
    print(f"wrote {build(target)} messages to {target}")
