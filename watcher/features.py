"""The model's parts: message -> TF-IDF rows (new text, header tokens, cue phrases) and linear models.

A small vectorizer of our own instead of scikit-learn's: same TF-IDF maths (smooth idf, sublinear tf, l2
rows), but tokens are looked up with one dict.get each, which makes classification several times faster.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from .messages import ParsedMessage, without_links

MAIN_CHARS = 1000  # subject + new text (and signature) fed to the word features and the cue phrases
LETTER_SEARCH_CHARS = 3000  # how far into a mail its letter may start (see _skip_preamble)
QUOTED_CHARS = 600  # the quoted thread gives cue tokens only ("q:regret"): its words cost more than help
_TOKEN = re.compile(r"\w[\w'’]*")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|r|rv|res|fwd?|wg|tr)\s*(?:\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)
_FORWARD = re.compile(r"^\s*(?:fwd?|wg|tr|rv|doorst)\s*:", re.IGNORECASE)  # the forwarding ones
BLOCKS = ("main", "meta", "cues")
Row = tuple[list[str], str, str]  # what message_texts() gives: one entry per block


def header_tokens(msg: ParsedMessage) -> str:
    """Sender name words, domain labels, subject words and a few flags, as prefixed tokens.

    The subject's words are in the main block too, beside the text's; here they get weights of their own
    ("s:update" in a subject says more than "update" anywhere): recall at precision 0.98 on training-side
    cross-validation 0.929 -> 0.943, every kind of rejection up, false positives the same. Whether the new
    text asks anything: 0.943 -> 0.946 (at precision 0.97: 0.960 -> 0.967; a time of day or the length of
    the text added nothing more).
    """
    from .extract import is_ats

    tokens = [f"n:{w}" for w in _TOKEN.findall(msg.sender_name.lower())[:8]]
    tokens += [f"s:{w}" for w in _TOKEN.findall(_REPLY_PREFIX.sub("", msg.subject[:300].lower()))[:12]]
    local, _, domain = msg.sender_address.rpartition("@")
    tokens += [f"d:{label}" for label in domain.split(".") if label]
    if is_ats(domain):
        tokens.append("f:ats")
    if re.search(r"no.?reply|do.?not.?reply", local):
        tokens.append("f:noreply")
    if _REPLY_PREFIX.match(msg.subject):
        tokens.append("f:reply")
    if msg.quoted:
        tokens.append("f:quoted")
    questions = without_links(msg.text[:1500]).count("?")
    if questions:  # an invitation or a request asks; a no seldom does
        tokens.append("f:ask" if questions == 1 else "f:asks")
    if not msg.text:
        tokens.append("f:empty")
    return " ".join(tokens)


# Phrases that say "no" or "not a no", in the languages we read. Each phrase found becomes a token
# ("c:other_candidates"; "q:..." when it is in the quoted thread), so the model can learn them from few
# examples and still see a reply that only quotes a rejection for what it is. Matched on word tokens
# (a "*" ends a word prefix), which is fast; a "|" separates alternatives.
CUES: dict[str, str] = {
    "not_moving": """not moving forward|not be moving forward|won't be moving forward|will not be moving|not
        move forward|not to move forward|not be progressing|not progress*|won't be progressing|not
        proceed*|not be proceeding|won't be proceeding|unable to move forward|not be taking your
        application|not take your application|not be advancing|not advance|not be continuing|won't be
        taking*|not be taking it|not to proceed|not to progress|not be going forward|not going forward|decided
        not to|no longer under|
        won't be able to fit|won't be able to run|won't be able to offer|won't be able to move|won't be able
        to take|won't be able to include|won't be able to publish|won't be able to support|won't be able to
        fund|won't be able to invest|can't take on|cannot take on|not going to work|isn't going to
        work|haven't been able to fit|not able to fit|unable to fit|couldn't fit|can't fit|stop accepting|no
        longer accepting|not commissioning|won't be commissioning|not be commissioning|
        not going to move forward|not going to proceed|not going to progress|not going to take|not take you
        forward|not taking you forward|unable to take your application|not able to take your application|
        unable to progress|not able to progress|unable to take forward|unable to move forward|not able to move
        forward|not at this time|it was not you|n'irons pas plus loin|pas plus loin|no van a seguir
        contigo|no van a seguir|fechar a vaga com|fue asignada a|asignada a otra|asignado a otro|besetzt
        haben|ficar com o outro|given the job to|given the role to|given the position to|gave the job to|gave
        the role to|niet voorstellen|haven't been able to allocate|not able to allocate|unable to allocate""",
    "other_candidates": """other candidate*|another candidate|other applicant*|another applicant|other
        submission*|another vendor|other vendor*|another agency|another partner|different direction|another
        direction|stronger candidate*|more experienced candidate*|more closely match*|more closely align*|
        decided to go with|chosen to go with|chose to go with|decided to move forward with|decided to proceed
        with|decided to pursue other|pursue other|go with another|went with another|going with another| offer
        to another|offered the role to|offered the position to|extend an offer to another|candidate
        whose|candidates whose|closer match|better match|better fit|internal candidate|
        hire someone else|hired someone else|chosen a different|chose a different|awarded to another|
        go with the other|went with the other|going with the other|a otra candidata|a otro candidato|l'autre
        candidat*|outra candidata|weren't selected|were not selected|wasn't selected|was not selected|
        another studio|another firm|another supplier|another provider|work with another|going with someone|
        hired another|chosen another|chose another|selected another|selected a different|stay with our|
        staying with our|stick with our|sticking with our|keep our current|keeping our current|remain with
        our|continue with our current|continue with our existing|awarded to|contract has been awarded|been
        awarded to|will be issued to|adjudicado a|adjudicada a|empresa vencedora|zuschlag erhielt|zuschlag
        wurde|gegund aan|attribué à|otro proveedor|outro fornecedor|autre prestataire|anderen anbieter|andere
        leverancier|
        go with someone|ended up going with|decided to hire|someone
        else|quedamos con otra|otra persona|fechando com|outras pessoas|seguir com outras|quelqu'un
        d'autre|pris quelqu'un|jemand anderen|andere persoon|iemand anders|
        hired another|hired a different|picked another|picked other|picked a different|went elsewhere|go
        elsewhere|going elsewhere|gone elsewhere|proceed with a different|proceed with another|decided not to
        renew|not to renew|not be renewing|won't be renewing|not renewing|seguir com outra|seguir con otra|con
        otra empresa|com outra empresa|an die firma|anderweitig vergeben|eine andere firma|une autre
        entreprise|andere partij|ander bureau|no lo vamos a contratar|não vamos contratar|nicht beauftragen|
        ne retiendrons pas""",
    "regret": """unfortunately|regrettably|regret*|sadly|afraid|sorry to say|sorry to tell|sorry to let|sorry
        to inform|disappoint*|
        sorry to share|i'm sorry|we're sorry|we are
        sorry|bedauern|bedauerlicherweise|lamentamos|regrettons|betreuren""",
    "not_selected": """not selected|not been selected|not successful|not been successful|unsuccessful|not
        chosen|not shortlisted|not been shortlisted|not accepted|not been accepted|not funded|not able to
        offer|unable to offer|not able to accept|unable to accept|not able to fund|unable to fund|not able to
        support|unable to support|not able to include|unable to include|not a fit|not a good fit|not the right
        fit|not right for us|not for us|not a match|isn't a fit|isn't the right fit|isn't right for us|not the
        right match|decided against|declined your|decline your|declining your|decline the|not recommended|not
        recommend|reject*|turned down|not be offering|will not be offering|not invite*|won't be inviting|
        say no|saying no|not been retained|not retained|not be retained|was rejected|been rejected|been
        declined|was declined|will not appear|unable to make you an offer|not able to make you an
        offer|unable to offer you|can't offer|cannot offer|can not offer|haven't been able to offer|not been
        able to offer|not offer you a place|nicht berücksichtigt|keine zusage|af te wijzen|niet
        toegekend|não foi aprovad*|no ha sido aprobad*|non retenue|n'a pas été retenu*|not awarded|not been
        awarded|not the lowest|not the preferred|niet gegund|non attribué|kein zuschlag|nicht den zuschlag|
        no adjudicad*|não adjudicad*|not admitted|not been admitted|geen plaats|niet toegelaten|não
        colocad*|não foi contemplad*|no fue seleccionad*|no resultó seleccionad*|not able to award|aren't able
        to award|unable to award|not been able to match|unable to match you|unable to invite|not able to
        invite|weren't able to offer|were not able to offer|keinen platz|nicht angenommen|nicht zur
        förderung|nicht gefördert|não vai entrar|can't publish|cannot publish|decision is final|
        can't use you|staffed up|not matching|does not match|doesn't match|did not meet|do not meet|don't
        meet|doesn't meet|does not meet|don't currently meet|not among|not referred|not be referred|excluded
        from|excluída|excluído|
        haven't been awarded|have not been awarded|hasn't been awarded|wasn't one of the|weren't one of
        the|was not one of the|not one of the teams|not one of the projects|not among those|did not receive
        funding|didn't receive funding|not receive funding|not been funded|unable to admit|not able to
        admit|not approved|ineligible|not eligible|to other finalists|other finalists|não faz parte|não
        ficou|não selecionou|não foi selecionad*|zit er niet bij|niet bij|no podemos ofrecerte|no hemos
        podido|nicht gefördert|pas été sélectionné*|non sélectionné*|not been offered a place|not offered a
        place|no places have opened|
        decision reject|decision rejected|decision unsuccessful|status unsuccessful|status not selected|status
        rejected|status declined|outcome unsuccessful|result unsuccessful|result not funded|réponse
        refusé|refusé|no admitid*|não admitid*|nicht zugelassen|ablehnungsbescheid|no figura|not able to take
        you on|can't take you on|cannot take you on|can't supervise|cannot supervise|unable to supervise|had
        to drop|have had to drop|can't take it|won't be running|will not be running|won't be
        going out|didn't make it""",
    "pass": """we'll pass|we will pass|going to pass|have to pass|decided to pass|pass on this|pass for
        now|pass this time|not be investing|not invest|won't be investing|not be participating|not
        participate|not be publishing|not publish|won't be publishing|not be running|not run the|not be
        featuring|not a fit for our|not for our|not be able to take|can't take it|cannot take it|not be
        accepting|
        it's a pass|a pass from us|a pass for us|not going to lead|not going to participate|won't be making
        an investment|not be making an investment|not making an investment|not going to invest|we're a
        no|i'm a no|a no for now|a no from us|a no from me|no from me|count me out|i'm out on|skip this
        round|skip this one|skip this extension|sit this round out|not invest this time|not be dabei|nicht
        dabei sein|nicht investieren|bin raus|sind raus|vamos a pasar|voy a pasar|paso esta vez|não é para
        mim|não vamos investir|no vamos a invertir|nous passons|je passe mon tour|ik haak af|
        not going to be a yes|not be a yes|not a yes|not for me|pull out of the round|pulling out of the
        round|pull out of the raise|withdrawing the term sheet|withdraw the term sheet|withdrawing our term
        sheet|not the right partner|aren't the right partner|não vou entrar|não vou investir|stap niet
        in|niet instappen|ga niet instappen|steige nicht ein|nicht einsteigen|ne vais pas investir|
        n'investirons pas|no voy a entrar|no vamos a entrar|not going to invest|won't be joining the
        round|not be joining the round|sit out this round|sitting out this round|can't put in|can't put
        money|cannot put money|can't invest|cannot invest|can't fund|cannot fund|can't make you an
        offer|cannot make you an offer|can't look at this|they've passed|have passed on|passed on it|passed on
        this|no aprobar|geen krediet|kein kredit|keinen kredit|rather than jump in|not jump in""",
    "filled": """position has been filled|role has been filled|position was filled|role was filled|vacancy has
        been filled|filled the role|filled the position|position has been closed|role has been closed|role is
        now closed|position is now closed|hiring freeze|no longer hiring|role has been cancelled|position has
        been cancelled|
        already full|lineup is full|already assigned|already committed|booked through|fully booked|already
        filled|now filled|have filled|we've filled|has been filled|have been filled|ist besetzt|ist bereits
        besetzt|wurde besetzt|preenchida|gone internal|went internal|going internal|pulled the
        headcount|pulled the role|pulled the position|can't extend the offer|cannot extend the
        offer|rescind*|withdraw the offer|withdrawing the offer|offer has been withdrawn""",
    "found_someone": """found someone|found somebody|found a candidate|found the right|got someone|got
        somebody|hired someone|hired somebody|have hired|we've hired|already hired|already found|
        already have someone|already got someone|somebody already|someone already|someone internal|
        somebody internal|promote from within|promoted from within|promoting from within|hire internally|
        hired internally|filled internally|internal hire|internal move|offered it to|offered the job to|
        offered the role|offered the position|gave it to|went another way|gone another way|going another way|
        went a different way|gone a different way|went with someone|gone with someone|went with a|
        gone with a|went with another|gone with another|fully staffed|team is complete|team is full|
        have enough staff|already have enough|déjà trouvé|trouvé quelqu'un|ya hemos encontrado|
        ya tenemos a alguien|ya encontramos|já temos|já encontrámos|já encontramos|equipa completa|
        equipe completa|equipo completo|al iemand gevonden|al gevonden|bereits jemanden|schon jemanden|
        bereits besetzt|anderweitig besetzt|schon besetzt|déjà pourvu|a été pourvu|été pourvu|
        ya ha sido cubierto|ha sido cubierto|hemos cubierto|já foi preenchid*|foi preenchid*|al ingevuld|
        is vervuld|al vervuld|go another way|go a different way|taken someone on|taken on someone|offer the
        job to|offer the role to|offer the position to|extend the offer to|extended the offer to|extended an
        offer to|extend an offer to a|stop the process|didn't meet the bar|not meet the bar|niet
        geslaagd|position filled|role filled|vacancy filled|job filled|post filled""",
    "closed_req": """not hiring|aren't hiring|are not hiring|no longer recruiting|stopped recruiting|not
        recruiting|put on hold|been put on hold|on hold|been paused|was paused|paused indefinitely|role is
        paused|been withdrawn|was withdrawn|post has been withdrawn|been cancelled|was cancelled|been
        canceled|was canceled|req was|requisition was|requisition has been|closed the requisition|closed this
        requisition|closed the search|closing all applications|closed the role|closed the position|will not be
        filled|won't be filled|not be filling|won't be filling|budget was cut|budget cut|lost the budget|lost
        funding|headcount was|no headcount|no longer have the budget|not have the budget|don't have the
        budget|no budget|kept in-house|keep it in-house|keep this in-house|doing it in-house|handle it
        in-house|in house""",
    "no_go": """not taking this further|won't be taking this further|not take this further|not take it
        further|not going ahead|won't go ahead|not go ahead|not proceeding|isn't proceeding|not progressing|
        won't progress|cannot proceed|can't proceed|unable to proceed|no longer under consideration|no longer
        being considered|not being considered|not be considered|not considered further|removed from
        consideration|no longer in consideration|no longer in the running|not in the running|hold off|holding
        off|sit this one out|sit it out|sitting this one out|not going to do it|we're not going to|we are not
        going to|we won't be|we will not be|we gaan het niet|niet doen|not make an offer|not making
        an offer|not extend an offer|not be extending|not be offering you|not offer you|
        not in a position to""",
    "not_right": """not quite right|isn't quite right|not quite a fit|not quite for us|not right for|isn't
        right for|isn't a fit|doesn't fit|does not fit|not the right time|too early for us|too early for|
        outside our|outside of our|out of scope|doesn't align|does not align|don't align|not aligned|
        isn't aligned|not something we|isn't something we|not one for us|not for the|already covered|
        has been covered|covered it|no room|no space|no slot|couldn't find a place|can't find a place|
        not a priority|ne correspond pas|ne correspondait pas|pas correspondre|no encaja|não se enquadra|
        não corresponde|no corresponde|passt nicht|nicht passend|niet passend|past niet|sluit niet aan|
        won't work this time|not running any|aren't able to book|not able to book|unable to book|can't
        book|not taking it|we're not taking|didn't manage to fit|ne retient pas|ne retenons pas|ce ne sera pas
        possible|niet vertegenwoordigen|ga het niet|not adding anyone|not sure it's us|not for us this
        time|don't think it's a fit|not a fit for the show|decline this one|declining this one|ne pas
        retenir|no ha entrado|no ha sido incluid*|não foi possível incluir|no fue posible incluir""",
    "future": """keep your resume|keep your cv|keep your details|keep your information|keep your profile|on
        file|future openings|future opportunities|future roles|future positions|future vacancies|future
        rounds|future cohorts|future calls|future submissions|talent pool|talent community|talent
        network|apply again|reapply|re-apply|encourage you to apply|encourage you to reapply|encourage you to
        re""",
    "luck": """best of luck|good luck|wish you the best|wish you every success|wish you all the best|wish you
        luck|wish you success|wish you well|success in your search|success in your job|luck with your""",
    "volume": """high number of|large number of|high volume of|large volume of|overwhelming number|record
        number|many strong|many qualified|many talented|many excellent|highly competitive|extremely
        competitive|very competitive|difficult decision|tough decision|hard decision|unable to provide
        feedback|unable to provide individual|not able to provide feedback|not able to provide individual""",
    "foreign_no": """leider|absage|absagen|nicht berücksichtigen|nicht weiter|nicht in die engere|anderen
        bewerber*|anderen kandidat*|keine positive|malheureusement|pas retenu*|pas été retenu*|ne pas donner
        suite|pas donner suite|ne pas poursuivre|autre candidat*|autres candidat*|lamentablemente|
        desafortunadamente|no ha sido seleccionad*|no has sido seleccionad*|no continuar|no avanzar|no seguir|
        otros candidat*|otro candidato|otra candidatura|helaas|niet verder|niet geselecteerd|niet door|niet
        gekozen|afgewezen|afwijzen|andere kandida*|infelizmente|não foi|não fomos|não seguir|não avançar|não
        selecionad*|outros candidat*|outro candidato|
        ne pourrons pas|ne pouvons pas|nous avons le regret|keine passende|niet uit te nodigen|hebben
        besloten u niet|no podemos|não podemos|no continuaremos""",
    "invite": """invite you|inviting you|like to invite|like to schedule|like to set up|like to arrange|like
        to chat|like to talk|like to speak|like to meet|like to move you|like to offer|love to chat|love to
        talk|love to meet|love to set up|love to have you|love to schedule|next step|next steps|next
        round|next stage|move you forward|moving you forward|pleased to|happy to invite|happy to offer|happy
        to share| happy to confirm|happy to let you know|excited
        to|congratulations|congrats|delighted|einladen|
        einladung|inviter|invitation|invitarte|invitación|uitnodig*|convid*|
        would like to move forward|like to move forward with you|shortlisted|pleased to invite|moving to the
        next|advance to the next|progress to the next|through to the next|
        nächste runde|nächster schritt|nächsten schritt|prochaine étape|étape suivante|siguiente
        paso|siguiente fase|próxima etapa|próxima fase|volgende stap|volgende ronde|nous avons le
        plaisir|wir freuen uns|nos complace|tenemos el placer|temos o prazer|met plezier""",
    "schedule": """reschedul*|availability|calendar|time slot|time slots|zoom|google meet|teams
        link|postpone*| interviewer is|interviewer has|is ill|is sick|is unwell|been ill|new time|confirm a
        time|confirm the time|your slot|book a slot|book a time|
        calendly|pick a time|choose a time|interview slot|select a time""",
    "offer": """offer letter|formal offer|verbal offer|written offer|start
        date|compensation|salary|onboarding| welcome to the team|welcome aboard|your first day|sign the
        offer|sign your contract|sign the contract|
        pleased to offer|happy to offer|offer of employment|contract attached|employment contract""",
    "received": """received your application|receipt of your|we have your application|received your
        submission|received your proposal|received your cv|received your resume|will review|will be in touch|
        get back to you|will contact you|will reach out|don't hear from us|do not hear from us|not hear back|
        hear back from us|under review|currently reviewing|eingegangen|bien reçu|hemos recibido|ontvangen|
        recebemos|
        confirm receipt|successfully submitted|has been submitted|we'll be in touch|will be reviewed|is
        being reviewed|being reviewed|application is complete|
        not yet made a decision|taking longer|unterlagen erhalten|bewerbung
        erhalten|accusé de réception|accusons bonne réception|bonne réception|hemos recibido tu|confirmamos
        a receção|confirmamos a recepção|in goede orde ontvangen""",
    "assessment": """assessment|coding challenge|coding test|coding exercise|hackerrank|codility|complete the|
        complete this|complete your|within 48 hours|within 72 hours|within 5 days|within 7 days| questionnaire
        """,
    "user_declines": """i've decided to|i have decided to|i've chosen to|i have chosen to|i must decline|i
        will have to decline|i have to decline|i'll have to decline|i need to decline|i'll have to pass|i will
        have to pass|accepted another offer|accepted a different|accepted an offer|accepted another
        role|accepted another position|withdraw my application|withdraw my candidacy|withdrawing my
        application|not looking for new|not interested in new|not looking to move|i'll pass|
        decided not to accept|not to accept the offer|not be accepting the offer|declining our
        offer|declined our offer|decline the offer|your decision to withdraw|withdraw from
        consideration|withdrawn at your request|as you requested|zoals je vroeg|i'm not looking""",
    "commiserate": """so sorry to hear|sorry to hear|so sorry about|that sucks|their loss|hugs|proud of you|
        you'll find|you will find|rooting for you|thinking of you|chin up""",
    "accepted": """accepted for|accepted to|accepted into|acceptance|selected for|selected to join|selected to
        present|selected to speak|selected to receive|love to publish|like to publish|love to feature|like to
        feature|love to run|like to run|love to include|like to include|awarded|pleased to accept|pleased to
        inform you that your""",
    "revise": """revise and resubmit|major revision*|minor revision*|resubmi*|revised manuscript|revised
        version""",
    "your_thing": """your application|your candidacy|your submission|your proposal|your pitch|your manuscript|
        your paper|your profile|your cv|your resume|your company|your startup|your deck|your piece|your
        essay|your query|your talk|your grant|your request|your bid|your quote|your interest|you applied|you
        submitted|ihre bewerbung|deine bewerbung|votre candidature|ta candidature|tu candidatura|su
        candidatura|je sollicitatie|uw sollicitatie|sua candidatura|a tua candidatura""",
    "third_party": """they decided|they went|they chose|they picked|they rejected|they turned|they passed|they
        said|they told|you got rejected|you didn't get|you did not get|you were rejected|i got rejected|i was
        rejected|i didn't get|rejection email|rejection letter|rejections|job hunt|job search is|how to
        handle|dealing with rejection|handle rejection""",
    "bulk": """unsubscribe|newsletter|view in browser|view it in your browser|view in your browser|manage your
        preferences|manage preferences|manage your subscription|webinar|read more""",
}
CROSS_CUES = True  # also pair each "no" cue with each "not a no" cue found beside it ("y:regret|invite")
_NO_CUES = frozenset(
    {"not_moving", "other_candidates", "regret", "not_selected", "pass", "filled", "foreign_no",
     "found_someone", "closed_req", "no_go", "not_right"}
)
# What the message is about: a "no" about a job or a pitch is a rejection; about a raffle or an order, not.
CONTEXTS: dict[str, str] = {
    "job": """
        applica*|apply|applied|applying|position|role|candida*|interview*|hiring|recruit*|job|jobs|vacanc*|
        opening|bewerb*|stelle|poste|puesto|vaga|sollicit*|functie|vacature""",
    "pitch": """
        pitch*|editor*|publication|publish*|essay|piece|story|article|podcast|episode|talk|cfp|speaker|
        speakers|query|anthology|submission""",
    "money": "invest*|fund|funds|fundrais*|portfolio|round|seed|deck|raise|raising|valuation|partnership",
    "client": """
        proposal|proposals|rfp|rfq|tender*|bid|bids|quote|quotes|quotation|vendor|contract|procurement|
        agency|supplier|angebot|devis|presupuesto|offerte""",
    "academic": """
        paper|manuscript|journal|reviewer|reviewers|admission*|phd|doctoral|master's|masters|degree|
        conference|programme|program""",
    "grant": """grant|grants|fellowship|accelerator|cohort|residency|scholarship|stipend*|award|beca|bolsa|
        stipendium|subvention|subsidie""",
    "everyday": """
        ballot|raffle|lottery|draw|sorteo|sorteio|loting|verlosung|tirage|ticket|tickets|order|orders|
        delivery|refund|payment|card|transaction|flight|flights|booking|reservation|apartment|wohnung|flat|
        viewing|besichtigung|tenancy|parking|permit|concert|membership|subscription|prize|winner|giveaway|
        commande|pedido|bestelling|encomenda|vergunning|mortgage|loan|account""",
}


class PhraseSet:
    """Finds which named phrase lists occur in a token list, with a dict lookup or two per token."""

    def __init__(self, lists: dict[str, str], negatable: frozenset[str] = frozenset()) -> None:
        self.negatable = negatable
        self.singles: dict[str, set[str]] = {}
        self.pairs: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # "w1 w2" -> (rest, name)
        self.stems: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # first 4 letters -> (words, name)
        for name, spec in lists.items():
            for phrase in " ".join(spec.split()).split("|"):
                words = tuple(_TOKEN.findall(phrase.strip().lower()))
                if not words:
                    continue
                if phrase.strip().endswith("*"):
                    words = (*words[:-1], words[-1] + "*")
                if words[0].endswith("*") or (len(words) > 1 and words[1].endswith("*")):
                    if words[0].endswith("*") and len(words[0]) < 5:
                        raise ValueError(f"{phrase!r}: a prefix needs at least 4 letters")
                    self.stems.setdefault(words[0][:4], []).append((words, name))
                elif len(words) == 1:
                    self.singles.setdefault(words[0], set()).add(name)
                else:
                    self.pairs.setdefault(f"{words[0]} {words[1]}", []).append((words[2:], name))
        self._pair_starts = frozenset(key.split(" ", 1)[0] for key in self.pairs)
        self._roles: dict[str, Any] = {}

    def find(self, tokens: Sequence[str], pairs_of: Sequence[str] | None = None) -> set[str]:
        """Names whose phrases occur; `pairs_of` may give the "w1 w2" strings already made.

        A phrase of a name in `negatable` up to four words after "not" / "never" / "wasn't"... does not
        count ("not selected for" is no acceptance, "not able to invite you" no invitation).
        """
        found: set[str] = set()
        pairs, n = self.pairs, len(tokens)
        negatable = self.negatable
        roles, role_of = self._roles, self._role
        last_negation = -10
        for i, tok in enumerate(tokens):
            role = roles.get(tok)
            if role is None:
                if len(roles) > 200_000:  # mail is endless, the memo is not
                    roles.clear()
                role = roles[tok] = role_of(tok)
            if role is _NOTHING:  # most words: no phrase starts with them
                continue
            negation, names, starts_pair, cands = role
            negated = i - last_negation <= 4
            if negation:
                last_negation = i
            if names:
                found |= (names - negatable) if negated else names
            if starts_pair and i + 1 < n:
                hits = pairs.get(pairs_of[i] if pairs_of is not None else f"{tok} {tokens[i + 1]}")
                if hits:
                    for rest, name in hits:
                        if negated and name in negatable:
                            continue
                        if not rest or _follows(tokens, i + 2, rest, n):
                            found.add(name)
            if cands:
                for words, name in cands:
                    if name in found or (negated and name in negatable):
                        continue
                    if _follows(tokens, i, words, n):
                        found.add(name)
        return found

    def _role(self, tok: str) -> Any:
        """What a word can do here: (is a negation, names it is, starts a pair, prefix phrases), memoised."""
        negation = tok in _NEGATIONS
        names = self.singles.get(tok)
        starts_pair = tok in self._pair_starts
        cands = self.stems.get(tok[:4])
        if not (negation or names or starts_pair or cands):
            return _NOTHING
        return negation, names, starts_pair, cands


_NOTHING = ()


def _follows(tokens: Sequence[str], i: int, rest: tuple[str, ...], n: int) -> bool:
    if i + len(rest) > n:
        return False
    for k, word in enumerate(rest):
        tok = tokens[i + k]
        if word.endswith("*"):
            if not tok.startswith(word[:-1]):
                return False
        elif tok != word:
            return False
    return True


_NEGATIONS = frozenset(
    {"not", "never", "no", "wasn't", "weren't", "isn't", "aren't", "won't", "cannot", "can't", "nicht", "pas",
     "niet", "não"}
)
_PHRASES = PhraseSet({**CUES, **{f"ctx_{k}": v for k, v in CONTEXTS.items()}},
                     negatable=frozenset({"accepted", "invite", "offer", "received"}))


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def cue_tokens(text: str | list[str], prefix: str = "c", pairs: Sequence[str] | None = None) -> list[str]:
    """Cue tokens, and for each "no" cue its pairing with what the text is about ("x:regret|job")."""
    tokens = tokenize(text) if isinstance(text, str) else text
    names = _PHRASES.find(tokens, pairs)
    cues = {n for n in names if not n.startswith("ctx_")}
    out = [f"{prefix}:{c}" for c in cues if prefix != "c" or c not in _CONTEXT_ONLY]
    no = cues & _NO_CUES
    if prefix == "c" and no:
        contexts = [n[4:] for n in names if n.startswith("ctx_")] or ["none"]
        out += [f"x:{c}|{k}" for c in no for k in contexts]
        if CROSS_CUES:
            out += [f"y:{c}|{d}" for c in no for d in cues - _NO_CUES]  # "no" beside "not a no"
    return sorted(out)


# Words that say "bad news" but not whose: "unfortunately" opens a rejection as often as a rescheduled
# interview or a declined card. They reach the model only through the cue tokens that pair them with what
# the mail is about ("x:regret|job", "y:regret|invite"), never on their own, so the model cannot learn
# them as evidence either way from whichever kind of mail happened to use them more in its corpus.
TONE_WORDS = frozenset(
    [
        "unfortunately", "regrettably", "sadly", "regret", "regrets", "afraid", "sorry", "leider",
        "bedauerlicherweise", "malheureusement", "lamentablemente", "desafortunadamente", "helaas",
        "infelizmente"
    ]
)
_CONTEXT_ONLY = frozenset({"regret"})


def message_texts(msg: ParsedMessage) -> Row:
    """(terms of subject + new text, sender, subject and flag tokens, cue tokens): the inputs of the model."""
    body = without_links(msg.full_text[: LETTER_SEARCH_CHARS + MAIN_CHARS])
    text = f"{msg.subject}\n{body}"
    if _FORWARD.match(msg.subject) and len(msg.text) < 300 and msg.quoted:
        # a forward with a line on top: the forwarded mail is what it is about
        text = f"{text}\n{without_links(msg.quoted[:LETTER_SEARCH_CHARS])}"
    opening = _skip_preamble(body)
    letter = f"{msg.subject}\n{body[opening:]}" if opening else text
    words = tokenize(letter[:MAIN_CHARS])
    if TONE_WORDS.isdisjoint(words):
        pairs = word_pairs(words)
        cues = cue_tokens(words, "c", pairs)
    else:  # the terms leave the tone words out, so their pairs differ from the ones the cues look at
        cues = cue_tokens(words, "c")
        words = [w for w in words if w not in TONE_WORDS]
        pairs = word_pairs(words)
    quoted = without_links(msg.quoted[:LETTER_SEARCH_CHARS])[:QUOTED_CHARS]
    if quoted:
        cues += cue_tokens(quoted, "q")
    return words + pairs, header_tokens(msg), " ".join(cues)


# The line a letter starts with, in the languages we read: what comes before it in a long mail is a banner,
# navigation or the job's details, and the word features should see the letter instead.
_GREETING = re.compile(
    r"^[ \t]*(?:dear|hi|hello|hey|good\s+(?:morning|afternoon|evening)|greetings|bonjour|bonsoir|cher|chère|"
    r"madame|monsieur|hallo|liebe|lieber|sehr\s+geehrte|guten\s+tag|hola|estimad[oa]s?|buenos\s+d[ií]as|"
    r"buenas\s+tardes|ol[áa]|prezad[oa]s?|caro|cara|bom\s+dia|boa\s+tarde|beste(?!\s+gr[üu])|geachte|"
    r"goedemorgen|goedemiddag)\b",
    re.IGNORECASE | re.MULTILINE,
)
PREAMBLE_CHARS = 200  # a greeting further in than this starts the letter


def _skip_preamble(text: str) -> int:
    """Where the letter starts when a long preamble comes before its greeting; else 0."""
    if len(text) <= MAIN_CHARS - PREAMBLE_CHARS:
        return 0  # short mail: all of it fits anyway
    found = _GREETING.search(text, PREAMBLE_CHARS, LETTER_SEARCH_CHARS)
    if found is None or _GREETING.search(text, 0, PREAMBLE_CHARS) is not None:
        return 0  # no greeting, or the letter starts at the top (the later one is a quoted reply's)
    return found.start()


def word_terms(text: str | list[str], ngrams: int = 2) -> list[str]:
    """Words and (with ngrams=2) word pairs of a text; a list is taken as its terms already made."""
    if not isinstance(text, str):
        return text
    tokens = _TOKEN.findall(text.lower())
    if ngrams < 2:
        return tokens
    return tokens + word_pairs(tokens)


def word_pairs(tokens: Sequence[str]) -> list[str]:
    """Neighbouring words as "w1 w2" terms (the same pairs at training and at classification time)."""
    return list(map(" ".join, zip(tokens, tokens[1:], strict=False)))


class TermVectorizer:
    """TF-IDF over word n-grams (or whitespace tokens), fitted deterministically."""

    def __init__(self, *, ngrams: int = 2, split: bool = False, min_df: int = 2, max_df: float = 1.0,
                 max_features: int | None = None) -> None:
        self.ngrams = ngrams
        self.split = split
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.vocabulary_: dict[str, int] = {}
        self.idf_: np.ndarray = np.zeros(0)

    def terms(self, text: str | list[str]) -> list[str]:
        if self.split:
            return text.split() if isinstance(text, str) else text
        return word_terms(text, self.ngrams)

    def fit(self, texts: Sequence[str | list[str]]) -> TermVectorizer:
        df: Counter[str] = Counter()
        tf: Counter[str] = Counter()
        for text in texts:
            terms = self.terms(text)
            tf.update(terms)
            df.update(set(terms))
        n = len(texts)
        keep = [t for t, d in df.items() if d >= self.min_df and d <= self.max_df * n]
        if self.max_features is not None and len(keep) > self.max_features:
            keep = sorted(keep, key=lambda t: (-tf[t], t))[: self.max_features]
        self.vocabulary_ = {t: i for i, t in enumerate(sorted(keep))}
        self.idf_ = np.array(
            [math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(keep)], dtype=np.float64
        )
        return self

    def transform(self, texts: Iterable[str | list[str]]) -> sp.csr_matrix:
        """Rows of sublinear TF x IDF, l2-normalised. Counting is done for the whole batch by numpy."""
        get, terms_of, missing = self.vocabulary_.get, self.terms, repeat(-1)
        ids: list[int] = []
        sizes = []
        for text in texts:  # one flat list of column ids (-1: not in the vocabulary), filled by C loops
            before = len(ids)
            ids.extend(map(get, terms_of(text), missing))
            sizes.append(len(ids) - before)
        n_docs, width = len(sizes), max(len(self.vocabulary_), 1)
        lengths = np.array(sizes, dtype=np.int64)
        flat = np.array(ids, dtype=np.int64)
        docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        known = flat >= 0
        keys, counts = np.unique(docs[known] * width + flat[known], return_counts=True)
        rows, cols = np.divmod(keys, width)
        indptr = np.searchsorted(rows, np.arange(n_docs + 1))
        data = (1.0 + np.log(counts)) * self.idf_[cols] if cols.size else np.zeros(0)
        matrix = sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n_docs, len(self.vocabulary_)))
        return _l2_rows(matrix)

    def feature_names(self) -> list[str]:
        names = [""] * len(self.vocabulary_)
        for term, i in self.vocabulary_.items():
            names[i] = term
        return names


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    if not matrix.nnz:
        return matrix
    squares = matrix.data**2
    lengths = np.diff(matrix.indptr)
    sums = np.zeros(matrix.shape[0])
    nonempty = lengths > 0
    sums[nonempty] = np.add.reduceat(squares, matrix.indptr[:-1][nonempty])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    matrix.data /= np.repeat(norms, lengths)
    return matrix


class Features:
    """The blocks side by side, each l2-normalised and weighted: X = [main | meta | cues]."""

    def __init__(self, weights: dict[str, float] | None = None, max_features: int = 80_000) -> None:
        self.weights = weights or {"main": 1.0, "meta": 0.25, "cues": 0.22}
        self.vectorizers: dict[str, TermVectorizer] = {
            "main": TermVectorizer(ngrams=2, min_df=2, max_df=0.9, max_features=max_features),
            "meta": TermVectorizer(split=True, min_df=2),
            "cues": TermVectorizer(split=True, min_df=1),
        }

    def fit(self, rows: Sequence[Row], y: Any = None) -> Features:
        for k, name in enumerate(BLOCKS):
            self.vectorizers[name].fit([r[k] for r in rows])
        return self

    def transform(self, rows: Sequence[Row]) -> sp.csr_matrix:
        blocks = []
        for k, name in enumerate(BLOCKS):
            block = self.vectorizers[name].transform(r[k] for r in rows)
            weight = self.weights.get(name, 1.0)
            if weight != 1.0:
                block.data *= weight
            blocks.append(block)
        return sp.hstack(blocks, format="csr")

    def fit_transform(self, rows: Sequence[Row], y: Any = None) -> sp.csr_matrix:
        return self.fit(rows).transform(rows)

    def feature_names(self) -> list[str]:
        return [f"{name}__{term}" for name in BLOCKS for term in self.vectorizers[name].feature_names()]

    def transform_messages(self, messages: Sequence[ParsedMessage]) -> sp.csr_matrix:
        return self.transform([message_texts(m) for m in messages])


class Linear:
    """A fitted linear model reduced to numpy arrays (so loading the model never imports scikit-learn)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[Any]) -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64).ravel()
        self.classes = list(classes)

    @classmethod
    def from_sklearn(cls, model: Any) -> Linear:
        return cls(model.coef_, model.intercept_, model.classes_.tolist())

    def decision(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def proba(self, X: Any) -> np.ndarray:
        """Class probabilities as scikit-learn's LogisticRegression gives them (sigmoid or softmax)."""
        d = self.decision(X)
        if d.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-d[:, 0]))
            return np.column_stack([1 - p, p])
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> list[Any]:
        return [self.classes[i] for i in self.proba(X).argmax(axis=1)]
