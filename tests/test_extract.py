"""Company, role, stage and kind extraction, on messages written for these tests."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from watcher import extract
from watcher.messages import ParsedMessage, parse


def message(sender: str, subject: str, body: str, reply_to: str | None = None) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Robin Vale <robin.vale@example.net>"
    msg["Subject"] = subject
    msg["Message-ID"] = "<t1@example.net>"
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content(body)
    return parse(msg.as_bytes())


def test_ats_sender_gives_the_real_company() -> None:
    msg = message(
        "Acme Talent Team <no-reply@greenhouse-mail.io>",
        "Your application",
        "Hi Robin,\n\nThanks for applying. After review we will not be moving forward.\n\nBest,\nRecruiting",
    )
    assert extract.company(msg) == "Acme"


def test_company_from_domain_matches_the_name_in_the_text() -> None:
    msg = message(
        "Tomasz Wright <t.wright@quillbridgeanalytics.com>",
        "Re: Data Analyst",
        "Hi Robin,\n\nThanks for your time last week. We've decided to go with another applicant.\n\n"
        "Tomasz\nHead of Data, Quillbridge Analytics",
    )
    assert extract.company(msg) == "Quillbridge Analytics"


def test_company_from_on_behalf_of_line() -> None:
    msg = message(
        "Careers <notifications@app.jobsystem.example>",
        "Application outcome",
        "Dear Robin,\n\nWe regret that your application was unsuccessful.\n\n"
        "This message was sent on behalf of Marlowe Shipping by our recruitment platform.",
    )
    assert extract.company(msg) == "Marlowe Shipping"


def test_company_from_ats_local_part_and_text() -> None:
    msg = message(
        "Careers <tidewaterbank@myworkday.com>",
        "Application update",
        "Dear Robin,\n\nThank you for your interest in Tidewater Bank. Unfortunately we have filled "
        "the role.",
    )
    assert extract.company(msg) == "Tidewater Bank"


def test_company_is_none_without_any_clue() -> None:
    msg = message("someone@gmail.com", "hi", "unfortunately not this time")
    assert extract.company(msg) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("Acme, Inc.", "acme"), ("The Atlantic", "Atlantic"), ("Hazel & Hart Ltd", "hazel and hart"),
     ("Brightwell GmbH", "Brightwell")],
)
def test_normalise_company(a: str, b: str) -> None:
    assert extract.normalise_company(a) == extract.normalise_company(b)


@pytest.mark.parametrize(
    ("subject", "body", "role"),
    [
        ("Your application", "Thank you for applying for the Senior Data Engineer position at Acme.",
         "Senior Data Engineer"),
        ("Update", "Your application for Warehouse Team Lead has been reviewed.", "Warehouse Team Lead"),
        ("Backend Developer at Norrow", "Thanks for your interest. We will not proceed.",
         "Backend Developer"),
        ("Ihre Bewerbung", "vielen Dank für Ihre Bewerbung als Projektingenieur bei uns.",
         "Projektingenieur"),
    ],
)
def test_role_phrases(subject: str, body: str, role: str) -> None:
    assert extract.role(message("HR <hr@acme.example>", subject, body)) == role


def test_stage_application_when_no_interview_happened() -> None:
    msg = message(
        "Acme <no-reply@hire.lever.co>",
        "Your application",
        "Hi Robin,\n\nUnfortunately we won't be moving you forward to the interview stage at this time.",
    )
    assert extract.stage(msg) == "application"


def test_stage_interview_from_the_text() -> None:
    msg = message(
        "Dana Cole <dana@acme.example>",
        "Following up",
        "Hi Robin,\n\nThank you for meeting the team on Tuesday and for the take-home. We have decided to "
        "offer the role to someone else.",
    )
    assert extract.stage(msg) == "interview"


def test_stage_interview_from_the_quoted_thread() -> None:
    msg = message(
        "Dana Cole <dana@acme.example>",
        "Re: Thursday",
        "Hi Robin,\n\nWe've decided not to proceed. Thanks again.\n\nDana\n\n"
        "On Mon, 2 Mar 2026 at 09:00, Robin Vale <robin.vale@example.net> wrote:\n"
        "> Thanks for the interview on Thursday, I enjoyed speaking with you and the team.\n",
    )
    assert "interview" in msg.quoted.lower()
    assert extract.stage(msg) == "interview"


def test_stage_multilingual() -> None:
    msg = message("HR <hr@firma.example>", "Absage",
                  "nach unserem Vorstellungsgespräch müssen wir leider absagen.")
    assert extract.stage(msg) == "interview"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("We have reviewed your grant application for the Spring cohort of our fellowship.", "program"),
        ("The reviewers did not recommend your manuscript for publication in the journal.", "academic"),
        ("We've decided not to invest; the round doesn't fit our fund's thesis.", "investor"),
        ("We went with another vendor for the RFP; thanks for the proposal.", "client"),
        ("Thanks for the pitch, but our editor passed on the essay.", "pitch"),
        ("We have decided not to move forward with your candidacy for the role.", "job"),
    ],
)
def test_kind_rules(body: str, kind: str) -> None:
    assert extract.kind(message("Someone <a@b.example>", "Decision", body)) == kind


def test_same_company_accepts_what_a_person_would_call_right() -> None:
    from watcher.extract import same_company

    assert same_company("Halden & Price", "Halden & Price LLP")
    assert same_company("Halcyon Review", "Halcyon Review of Books")
    assert same_company("the acme corporation", "Acme Corporation")
    assert not same_company("Universidad", "Universidad de los Andes")
    assert not same_company("Greenhouse", "Acme")
    assert not same_company("Acme", None)


@pytest.mark.parametrize(
    ("sender", "subject", "body", "expected"),
    [
        (  # an agency writes; the client it names decided
            "Morgan Hale <morgan@harbourtalentsearch.co.uk>",
            "Finance Manager - update",
            "Hi Robin,\n\nI've had feedback from Pellow Marine after your interview. Sadly they will not be "
            "progressing.\n\nMorgan Hale\nHarbour Talent Search",
            "Pellow Marine",
        ),
        (
            "Dana Roe <dana@quaystaffing.com>",
            "Your application",
            "Hi Robin,\n\nThank you for applying for the Office Administrator role with my client, "
            "Brightmoor Dental. They have chosen other candidates.\n\nDana\nQuay Staffing",
            "Brightmoor Dental",
        ),
        (  # an acronym the mail spells out
            "NRSC Grants <grants@nrsc.org>",
            "Decision on your application",
            "Dear Robin,\n\nThe Northern Rivers Science Council has completed its review. We regret that "
            "your proposal was not funded.\n\nNRSC Grants Office",
            "Northern Rivers Science Council",
        ),
        (  # a journal whose domain is an acronym plus "journal"
            "Dr. Ana Pell <apell@jcr-journal.org>",
            "Decision on manuscript JCR-2026-0192",
            "Dear Dr. Vale,\n\nThank you for submitting to the Journal of Coastal Research. After review we "
            "are unable to accept your manuscript.\n\nAna Pell, Handling Editor",
            "Journal of Coastal Research",
        ),
        (  # a small business on a free-mail address
            "Copper Kettle Cafe <copperkettlecafe@gmail.com>",
            "Re: weekend barista",
            "Hi Robin, thanks for dropping your CV in but we've already found someone. Good luck!",
            "Copper Kettle Cafe",
        ),
        (  # the organisation type opens the name before the part the domain spells
            "Gerda Brink <g.brink@havenveld.nl>",
            "Uw sollicitatie",
            "Beste Robin,\n\nHelaas hebben wij gekozen voor een andere kandidaat.\n\nMet vriendelijke groet,"
            "\nGerda Brink\nWoonstichting Havenveld",
            "Woonstichting Havenveld",
        ),
    ],
)
def test_company_rules_for_agencies_acronyms_and_small_senders(sender: str, subject: str, body: str,
                                                               expected: str) -> None:
    assert extract.company(message(sender, subject, body)) == expected


def test_public_job_board_is_not_the_company() -> None:
    msg = message(
        "USAJOBS <no-reply@usajobs.gov>",
        "Your application status has been updated",
        "Your application for Medical Support Assistant with the Department of Veterans Affairs was "
        "not referred to the hiring manager.",
    )
    assert extract.company(msg) == "Department of Veterans Affairs"


def test_company_from_the_sign_off_when_a_person_writes_from_free_mail() -> None:
    msg = message(
        "Dr. Paula Greaves <paulagreaves.dds@yahoo.com>",
        "Re: Thursday",
        "Hi Robin,\n\nThank you for spending the morning with us. I've decided to offer the front desk job "
        "to someone who knows our billing software.\n\nPaula Greaves, DDS\nGreaves Family Dentistry",
    )
    assert extract.company(msg) == "Greaves Family Dentistry"


def test_a_first_name_in_passing_does_not_beat_the_senders_domain() -> None:
    msg = message(
        "Farah Lind <farah@haverstock-coffee.com>",
        "Re: Operations Lead",
        "Hi Robin,\n\nThanks for the cupping session with Joel. We've decided to offer the role to someone "
        "who has run roastery production before.\n\nFarah",
    )
    assert extract.company(msg) == "Haverstock Coffee"


def test_platform_named_after_via_is_not_the_company() -> None:
    msg = message(
        "Thornbury District Council via OpenTender <no-reply@opentender.co.uk>",
        "Tender outcome: grounds maintenance",
        "Dear bidder,\n\nYour tender was unsuccessful. The contract has been awarded to another supplier.\n\n"
        "OpenTender on behalf of the buyer",
    )
    assert extract.company(msg) == "Thornbury District Council"


def test_department_words_before_the_name_are_dropped() -> None:
    msg = message(
        "Direction des Ressources Humaines SIT <drh@sit-telecom.ci>",
        "Votre candidature",
        "Madame,\n\nNous avons le regret de vous informer que votre candidature n'a pas été retenue.\n\n"
        "La Direction des Ressources Humaines",
    )
    assert extract.company(msg) == "SIT"


def test_recruiter_naming_the_employer_in_the_text_is_an_agency() -> None:
    msg = message(
        "Olivia Sloane <olivia@sloanecarterlegal.co.uk>",
        "Interview feedback",
        "Hi Robin,\n\nI've had feedback from Pemberton Reid following your interview. They've decided not "
        "to take things further.\n\nOlivia Sloane\nSloane Carter Legal",
    )
    assert extract.company(msg) == "Pemberton Reid"


@pytest.mark.parametrize(("sender", "body", "expected"), [
    ("Amy Larkin <amy@northlightrecruit.co.uk>",  # the recruiter spoke to someone at the client
     "Hi Robin,\n\nI've spoken to Pinecrest's Head of Design and sadly they've decided not to progress you."
     "\n\nAmy\nNorthlight Recruitment", "Pinecrest"),
    ("Inês Carvalho <ines@rumo-recrutamento.pt>",  # the client decided
     "Olá Robin,\n\nDepois da entrevista, a Lusomar Seguros decidiu avançar com outro candidato.\n\n"
     "Inês Carvalho\nRumo Recrutamento", "Lusomar Seguros"),
    ("Helena Marsh <helena@ardmore-search.co.uk>",  # a title is not the client: the agency decided
     "Dear Robin,\n\nI spoke with the Chair yesterday. They have decided to proceed with another candidate."
     "\n\nHelena Marsh\nPartner, Ardmore Executive Search", "Ardmore Executive Search"),
    ("Kim Delaney <kdelaney@summitstaffingco.com>",  # the client called the recruiter
     "Hi Robin,\n\nOakridge Credit Union called me this morning. They're moving ahead with an internal "
     "candidate. Can I come back to you about the next one?\n\nKim Delaney\nSummit Staffing Co.",
     "Oakridge Credit Union"),
    ("Foundry Talent <no-reply@us.greenhouse-mail.io>",  # an agency's own ATS
     "Hi Robin,\n\nThanks for your interest in the role with our client, Verity Health Tech. Unfortunately "
     "the Verity team has decided not to move forward.\n\nThe Foundry Talent Team", "Verity Health Tech"),
])
def test_an_agency_passing_on_its_clients_decision(sender: str, body: str, expected: str) -> None:
    found = extract.company(message(sender, "Update", body))
    assert extract.same_company(found, expected), found


def test_in_an_employers_own_mail_the_one_deciding_is_a_person() -> None:
    msg = message("Tomasz Wright <t.wright@quillbridgeanalytics.com>", "Re: Data Analyst",
                  "Hi Robin,\n\nSarah Long has decided to go with another applicant.\n\n"
                  "Tomasz\nHead of Data, Quillbridge Analytics")
    assert extract.company(msg) == "Quillbridge Analytics"


@pytest.mark.parametrize(("sender", "body", "expected"), [
    # the procurement office
    ("Zentrale Vergabestelle Landkreis Ostwald <vergabestelle@landkreis-ostwald.de>",
     "Sehr geehrte Damen und Herren,\n\nleider können wir Ihr Angebot nicht berücksichtigen.\n\n"
     "Mit freundlichen Grüßen\nZentrale Vergabestelle", "Landkreis Ostwald"),
    ("Isabelle Fontaine <contact@domaine-troischenes.fr>",  # "des" inside the name
     "Bonjour,\n\nMerci pour votre devis. Nous avons retenu un autre traiteur.\n\nIsabelle Fontaine\n"
     "Domaine des Trois Chênes – Saint-Émilion", "Domaine des Trois Chênes"),
    # the college, not the postcode line
    ("Business Manager - St Brigid's College <business.manager@stbrigids.qld.edu.au>",
     "Dear Robin,\n\nThank you for your quote. The contract has been awarded to another supplier.\n\n"
     "Business Manager\nSt Brigid's College\n14 Ward Street\nToowong QLD 4066", "St Brigid's College"),
])
def test_offices_connectors_and_addresses_around_a_name(sender: str, body: str, expected: str) -> None:
    msg = message(sender, "Ihr Angebot / Votre devis / Your quote", body)
    assert extract.company(msg, "client") == expected


@pytest.mark.parametrize(("sender", "body", "expected"), [
    ("Arcwell Energy via Coupa <do_not_reply@arcwellenergy.coupahost.com>",  # the platform signs the mail
     "Hi Robin,\n\nArcwell Energy has completed its review. Status: Not awarded.\n\nPowered by Coupa\n"
     "Coupa Software, 1855 S. Grant Street, San Mateo, CA 94402", "Arcwell Energy"),
    ("Blue Heron Coffee Roasters <no-reply@breezy-mail.com>",
     "Hi Robin,\n\nWe've decided to go with another candidate.\n\nBen\n\nPowered by Breezy HR",
     "Blue Heron Coffee Roasters"),
    ("HR <recruitment@stbrendans.ie>",  # "St." does not end the name
     "Dear Robin,\n\nThank you for applying to St. Brendan's University Hospital. Unfortunately you have not "
     "been shortlisted.\n\nHR Department", "St. Brendan's University Hospital"),
])
def test_the_platform_is_not_the_company_and_saints_keep_their_names(sender: str, body: str,
                                                                     expected: str) -> None:
    assert extract.company(message(sender, "Update", body)) == expected


def test_business_with_an_ampersand_on_free_mail() -> None:
    msg = message("Bean & Bramble <beanandbramble.cafe@gmail.com>", "Re: barista",
                  "Hi Robin, thanks for coming in but we've gone with someone else. Good luck!")
    assert extract.company(msg) == "Bean & Bramble"


def test_umlauts_and_their_ascii_spelling_are_one_name() -> None:
    assert extract.same_company("Brueckner Ventures", "Brückner Ventures")
    assert extract.same_company("Cafe Rosenrot", "Café Rosenrot")
    assert not extract.same_company("Bruckner Ventures", "Brückner Ventures Holdings Group International")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Your application for Logistics Planner at Vesterhavn", "Logistics Planner"),
        ("Re: Barista application", "Barista"),
        ("Account Executive - final interview", "Account Executive"),
        ("About the iOS Developer role", "iOS Developer"),
        ("Your application: Financial Planning Analyst (R0032154)", "Financial Planning Analyst"),
        ("Lower Elementary Guide", "Lower Elementary Guide"),
        ("Interview outcome", None),
        ("Respuesta a tu candidatura - Técnico/a de Selección", "Técnico/a de Selección"),
        ("AW: Bewerbung Tischlergeselle", "Tischlergeselle"),
        ("Uw sollicitatie voor Beleidsmedewerker Duurzaamheid", "Beleidsmedewerker Duurzaamheid"),
        ("Candidature spontanée", None),
    ],
)
def test_role_from_the_subject_line(subject: str, expected: str | None) -> None:
    msg = message("Talent Team <jobs@vesterhavn.dk>", subject,
                  "Hi Robin,\n\nThank you for your time. We have decided to proceed with other candidates.")
    assert extract.role(msg) == expected


def test_a_street_address_in_the_footer_is_not_the_company() -> None:
    msg = message(
        "Careers <careers-noreply@microsoft.com>",
        "Your application",
        "Hello,\n\nThank you for applying. We have decided to pursue other candidates.\n\n"
        "Microsoft Corporation\nOne Microsoft Way\nRedmond, WA 98052",
    )
    found = extract.company(msg)
    assert found is not None and "Way" not in found
    assert extract.same_company(found, "Microsoft Corporation")


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("International Office Universität Lindenthal <io@uni-lindenthal.de>", "Universität Lindenthal"),
        ("P&O Waterschap Lage Venen <po@lagevenen.nl>", "Waterschap Lage Venen"),
        ("Redacción Contraluz <redaccion@revistacontraluz.co>", "Contraluz"),
        ("Lektorat Verlag Lindenblatt <lektorat@lindenblatt-verlag.de>", "Verlag Lindenblatt"),
        ("Kulturamt der Stadt Regensfeld <kulturamt@regensfeld.de>", "Stadt Regensfeld"),
        ("Landratsamt Hohenfels <bewerbung@lra-hohenfels.de>", "Landratsamt Hohenfels"),  # an office itself
        ("2025 Kuvana Climate Leaders <selection@kuvanaclimate.org>", "Kuvana Climate Leaders"),
        ("Eastbrook University for Fall 2026 <gradadmissions@eastbrook.edu>", "Eastbrook University"),
    ],
)
def test_a_department_named_before_the_organisation_is_dropped(sender: str, expected: str) -> None:
    msg = message(sender, "Ihre Anfrage", "Hello,\n\nWe regret that we cannot offer you a place this year.")
    assert extract.company(msg) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("callum@orchardstreet.com", "Orchard Street"),
        ("danny@thecopperkettle.ie", "The Copper Kettle"),
        ("dan@hearthandhook.co", "Hearth and Hook"),
        ("sam@copperline.vc", "Copperline"),  # a short label is more often one brand than two words
        ("m.koster@ltdelta.nl", "Ltdelta"),  # no English words spell it: left whole
    ],
)
def test_a_domain_the_mail_never_spells_out_is_split_into_words(address: str, expected: str) -> None:
    msg = message(f"Pat Quinlan <{address}>", "Re: our chat",
                  "Hi Robin,\n\nThanks for the time. We've decided not to go ahead with this one.\n\nPat")
    assert extract.company(msg, "investor") == expected


def test_platforms_mail_apps_and_job_titles_are_not_the_company() -> None:
    gupy = message("Grupo Jacarandá Varejo <naoresponda@gupy.com.br>", "Processo seletivo",
                   "Olá,\n\nAgradecemos sua participação. Infelizmente seu perfil não foi selecionado.")
    assert extract.company(gupy) == "Grupo Jacarandá Varejo"
    isp = message("Brasserie Le Perron <brasserie.leperron@skynet.be>", "Candidature",
                  "Bonjour,\n\nNous avons choisi un autre candidat.\n\nEnvoyé de mon iPhone")
    assert extract.company(isp) == "Brasserie Le Perron"
    outlook = message("Lisa Pemberton <lisa.pemberton@outlook.com>", "Re: quote",
                      "Hi,\n\nWe went with another photographer in the end, sorry.\n\nSent from Outlook")
    assert extract.company(outlook, "job") is None
    title = message("Sabine Kuhlmann <s.kuhlmann@stadtwerke-emmertal.de>",
                    "Sachbearbeitung Energieabrechnung (m/w/d)",
                    "Sehr geehrte Frau Roth,\n\nleider haben wir uns für eine andere "
                    "Bewerberin entschieden.\n\nStadtwerke Emmertal GmbH")
    assert extract.same_company(extract.company(title), "Stadtwerke Emmertal")


def test_an_angel_or_private_client_on_free_mail_is_the_decider() -> None:
    msg = message("Graham Whitlock <g.whitlock@btinternet.com>", "Re: seed round",
                  "Hi Robin,\n\nI've thought it over and I'm going to sit this round out. Good luck with it.")
    assert extract.company(msg, "investor") == "Graham Whitlock"
    assert extract.company(msg, "job") is None  # a person hiring from home mail: the business is unknown


def test_an_angel_on_their_own_domain_is_the_decider_but_an_office_is_not() -> None:
    angel = message("Tomasz Wierzbicki <tomasz@wierzbicki.vc>", "Re: deck",
                    "Hey Robin,\n\nI'm going to sit this one out. I already have two bets in the space."
                    "\n\nT.")
    assert extract.company(angel, "investor") == "Tomasz Wierzbicki"
    office = message("Inkoop Gemeente Dijkerland <inkoop@dijkerland.nl>", "Uw offerte",
                     "Beste Robin,\n\nHelaas is de opdracht gegund aan een andere partij.\n\n"
                     "Gemeente Dijkerland")
    assert extract.company(office, "client") == "Gemeente Dijkerland"


def test_a_departments_mail_names_its_university() -> None:
    body = ("Dear Applicant,\n\nYour application for admission into the M.Sc. Soil Science programme was "
            "considered by the Departmental Postgraduate Committee.\n\nWe regret that you were not offered "
            "admission.\n\nSigned:\nSecretary, School of Postgraduate Studies\n"
            "Federal University of Agriculture, Umuoma")
    msg = message("Postgraduate School <admissions@fua-umuoma.edu.ng>", "POSTGRADUATE ADMISSION STATUS", body)
    assert extract.company(msg, "academic") == "Federal University of Agriculture"


@pytest.mark.parametrize(("sender", "body", "expected"), [
    ("Sabine Kuhlmann <s.kuhlmann@stadtwerke-emmertal.de>",  # a greeting is no name
     "Hallo Frau Weber,\n\nkurze Rückmeldung: Wir haben uns für eine andere Bewerberin entschieden.\n\n"
     "Viele Grüße\nSabine Kuhlmann", "Stadtwerke Emmertal"),
    ("Stellan Logistics Careers <stellanlogistics@myworkday.com>",  # nor a footer link
     "Hi Robin,\n\nWe will not be moving forward with your application.\n\n"
     "Stellan Logistics Candidate Privacy Notice", "Stellan Logistics"),
])
def test_greetings_and_footer_links_are_not_names(sender: str, body: str, expected: str) -> None:
    assert extract.company(message(sender, "Update", body)) == expected


@pytest.mark.parametrize(("sender", "body", "expected"), [
    ("St Brigid's People & Culture <careers@stbrigids.org.au>",  # a saint keeps the 's
     "Dear Robin,\n\nThank you for applying to St Brigid's Private Hospital. Unfortunately you have not been "
     "shortlisted.\n\nSt Brigid's Private Hospital", "St Brigid's Private Hospital"),
    ("Interfolio on behalf of Northgate University <no-reply@interfolio.com>",  # the platform writes for it
     "Dear Robin,\n\nThe search committee has completed its review. We regret that you were not selected.",
     "Northgate University"),
    ("HR Service Centre Brightwater Council <recruitment@brightwater.gov.uk>",  # the council, not the centre
     "Dear Robin,\n\nWe will not be taking your application further.\n\nHR Service Centre\n"
     "Brightwater Council", "Brightwater Council"),
])
def test_saints_platforms_and_service_centres(sender: str, body: str, expected: str) -> None:
    assert extract.company(message(sender, "Your application", body)) == expected


def test_category_second_level_domains_are_not_the_name() -> None:
    msg = message("RH Construtora Vale Forte <rh@valeforte.eng.br>", "Processo seletivo - Engenheiro Civil",
                  "Olá Robin,\n\nInfelizmente você não foi selecionado para a vaga de Engenheiro Civil.\n\n"
                  "Atenciosamente,\nRecursos Humanos")
    assert extract.company(msg) == "Construtora Vale Forte"


def test_a_business_named_in_a_free_mail_address() -> None:
    msg = message("Siobhán Keane <copperkettlegalway@gmail.com>", "Re: weekend shifts",
                  "Hi Robin,\n\nThanks for the trial at the Copper Kettle on Saturday. We've given the "
                  "shifts to someone with more barista experience.\n\nSiobhán")
    assert extract.company(msg) == "Copper Kettle"
    own = message("Mark Hollins <markhollins.landscapes@gmail.com>", "Re: job",
                  "Hi Robin, we went with someone else, sorry. Mark")
    assert extract.company(own) is None  # the person's own address names no business


def test_a_shouted_connector_does_not_open_a_name() -> None:
    msg = message("Lagos Builders Residency <info@lagosbuilders.ng>", "Your application",
                  "THANK YOU FOR APPLYING\n\nDear Robin,\n\nWe are unable to offer you a place this year.\n\n"
                  "FOR LAGOS BUILDERS RESIDENCY\nThe Selection Team")
    assert extract.company(msg, "program") == "Lagos Builders Residency"


@pytest.mark.parametrize(("sender", "expected"), [
    ("Jasmine at Sprout Learning <jasmine@hire.lever.co>", "Sprout Learning"),  # her name is no hint
    ("Dienst HR AZ Kempenland <jobs@azkempenland.be>", "AZ Kempenland"),  # "Dienst HR" is a department
])
def test_a_recruiters_own_name_or_department_is_not_the_company(sender: str, expected: str) -> None:
    msg = message(sender, "Update", "Hi Robin,\n\nWe will not be moving forward with your application.")
    assert extract.company(msg) == expected


def test_a_street_address_is_not_a_name() -> None:
    msg = message("Black Lantern Tattoo <blacklanterntattoo@gmail.com>", "Re: apprenticeship",
                  "Hi Robin,\n\nWe went with someone else for the apprenticeship, sorry.\n\n"
                  "Black Lantern Tattoo\n2207 S Lamar, Austin TX 78704")
    assert extract.company(msg, "job") == "Black Lantern Tattoo"


def test_office_of_admissions_before_a_comma_is_a_department() -> None:
    msg = message("Office of Admissions, Harrowgate School of Medicine <admissions@hsm.ac.uk>",
                  "Admission decision", "Dear Robin,\n\nWe regret that we are unable to offer you a place.")
    assert extract.company(msg, "academic") == "Harrowgate School of Medicine"
