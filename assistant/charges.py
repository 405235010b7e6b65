"""What a customer says about money taken or owed: a charge reported, two prices set against each other, a
payment they say is not theirs, money or credit owed that has not come. Each reads lower-cased text and stays
linear (bounded gaps, no nested repeats).
"""

import re

# "you took £34.99", "I've been charged $12", "billed me £60": money taken, which the customer reports.
CHARGED = re.compile(
    r"\b(?:you|you'?ve|u)(?: have| guys| still| then| also| just| already| again)* "
    r"(?:took|charged|billed|taken|debited|deducted)\b|\b(?:charged|billed|debited|taken|took)\b[^.!?\n]{0,30}?[£$€]\s?\d"
)

# Two prices set against each other ("took £58 when my monthly is £41.20", "charged 41p/min, the app said 32p"):
# a charge the customer says is wrong, however it is asked.
_AMOUNT = r"(?:[£$€]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:p|pence|cents?|dollars|pounds|euros?)\b)"
_PRICE_MISMATCH = re.compile(
    _AMOUNT + r"[^.!?\n]{0,60}?\b(?:when|but|instead of|should|supposed|meant|costs?|said|says|shows?|advertised|"
    r"quoted|not|only)\b[^.!?\n]{0,40}?" + _AMOUNT
)


def price_mismatch(text: str) -> bool:
    return bool(_PRICE_MISMATCH.search((text or "")[:2000].lower()))


# A payment the customer says they did not make, or money a machine did not pay out: "a payment I didn't make",
# "an unknown card payment", "used without my permission", "the ATM gave me less". However it is asked ("why is
# there a payment I never made?"), only the company can look into it.
_PAID = r"(?:payments?|charges?|transactions?|purchases?|withdrawals?|debits?|direct debits?|amount)"
_NOT_MINE = r"(?:didn'?t|did not|never|don'?t|do not|have not|haven'?t)"
DISPUTED = re.compile(
    rf"\b{_PAID}\b[^.!?]{{0,40}}\b(?:i|we) {_NOT_MINE}(?: even)? (?:make|made|do|did|perform|performed|authori[sz]ed?|"
    r"recogni[sz]e|know|buy|bought|order|ordered|request|requested)\b|"
    r"\b(?:i|we) (?:didn'?t|did not|never|have not|haven'?t) (?:make|made|authori[sz]ed?|perform|performed)\b"
    rf"[^.!?]{{0,30}}\b{_PAID}\b|"
    rf"\b(?:unknown|suspicious|unfamiliar|fraudulent|unrecogni[sz]ed|unauthori[sz]ed) (?:card )?{_PAID}|"
    r"\bwithout my (?:permission|consent|knowledge|authori[sz]ation)\b|"
    r"\b(?:atm|cash machine|cashpoint|machine)\b[^.!?]{0,60}\b(?:gave|give|giving|dispensed|paid out|got|received)"
    r"(?: me| out)? (?:less|the wrong|a different|the incorrect|an incorrect|only|short|not enough)\b|"
    r"\b(?:didn'?t|did not|doesn'?t|wouldn'?t) (?:give|dispense) (?:me )?(?:my|the|all|enough|any)(?: of the| of my)? "
    r"(?:cash|money)\b|"
    r"\b(?:received|got|given) (?:less|the wrong amount of|a different amount of|not enough) (?:cash|money)\b|"
    r"\bwrong amount of (?:cash|money)\b|"
    # Not them: "it wasn't me", "I didn't do it", "someone is using my card", "my card details were stolen".
    r"\bit (?:wasn'?t|was not) me\b|\bi (?:didn'?t|did not) do (?:it|this|that)\b|\b(?:know|knew) nothing about\b|"
    r"\b(?:someone|somebody)(?: else)? (?:has |is |was |might be |may be |could be |must have )?(?:been )?"
    r"(?:using|used|cloned|copied|got hold of|has a copy of) (?:my )?card\b|"
    r"\bcard (?:details|info|information|number) (?:was |were |has been |have been |may have been |might have been |"
    r"seems to have been )?(?:stolen|cloned|copied|compromised|skimmed)\b|\bcard (?:was |has been |may have been |"
    r"might have been )?(?:cloned|copied|compromised|skimmed)\b|"
    # Taken twice: "charged twice", "showing twice", "a double charge", "paid for the same thing twice".
    r"\b(?:charged|billed|taken|debited|showing|shows|showing up|appears|came out|gone out)(?: me)? (?:twice|two times|"
    r"double)\b|\b(?:a|my|the|this|these|two) (?:double|duplicate|duplicated) (?:charges?|payments?|transactions?)\b|"
    r"\btwo of the same\b|\bdouble[- ]?(?:charged|billed)\b|"
    r"\bpaid (?:for )?(?:the same|it) (?:thing )?twice\b|"
    # Less cash than asked for: "withdrew $100 but only received $20", "only 20 came out".
    r"\bwithdr[ae]w\w*\b[^.!?]{0,50}\b(?:but|and) (?:it |they )?only\b|\bonly (?:\w+ )?(?:gave|came out|dispensed)\b"
)


def disputed(norm: str) -> bool:
    """A payment reported as not the customer's own, in text normalised by assistant.language."""
    return bool(DISPUTED.search(norm[:2000]))


# Money or credit owed that has not come: "my referral credit never came", "still no refund", "no sign of my
# payout". Chasing it is the company's to do.
_OWED = "credit|refund|payout|voucher|reward|bonus|cashback|compensation"
OVERDUE = re.compile(
    rf"\b(?:{_OWED}|code|discount)s? (?:has |have )?(?:never|still (?:hasn'?t|has not|not|hasnt)|hasn'?t|has not|"
    r"didn'?t|did not|not) (?:comes?|came|arrived?|arrives|shown up|shows? up|appeared|appears?|been (?:paid|applied|"
    rf"added|credited))\b|\bstill no (?:{_OWED}|money|code)\b|\bno sign of (?:my |the |any )?(?:{_OWED}|money)\b"
)


def overdue(norm: str) -> bool:
    """Money or credit owed to the customer that has not come, in text normalised by assistant.language."""
    return bool(OVERDUE.search(norm[:2000]))
