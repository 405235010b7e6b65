"""Whether a message asks about the customer's support tickets ("any news on my case?", "has my request
been sorted?"), however it is worded: read before anything else, so a status question never gets an offer."""

import re

from assistant.language import _norm

_ABOUT = r"(?:ticket|case|request|query|complaint|enquiry|inquiry|claim|message|email|report)s?"
_ASKED = r"(?:request|complaint|message|email|ticket|case|query|enquiry|inquiry)s?"  # not "claim" or "report"
_MY_TICKETS = re.compile(r"\bmy (support )?(ticket|case)s\b")
STATUS_REQUEST = re.compile(
    r"\b(ticket|case) (status|update)\b|\bstatus of (my |the )?"
    r"(ticket|case|request)|\b(update|news) on (my |the )?(ticket|case|request)|\bwhere is my (ticket|case)\b|"
    r"\b(open|active|pending|outstanding) (tickets?|cases?|requests?|queries|complaints)\b|"
    # "the request I opened last week: where are we?", "any news on the complaint I put in?"
    r"\b(i|we) (opened|sent|raised|submitted|put in|made|logged|filed|lodged|reported)\b.{0,60}\b" + _ABOUT + r"\b"
    r".{0,60}\b(news|update|status|progress|heard|hear back|get back|got back|up to|go through|went through|answered|"
    r"replied|reply|response|where are we|still waiting|any word|looked at|working on|dealing with|moved|sorted|logged|"
    r"someone on it)\b|"
    # "has my request been sorted?", "was my account deletion request done?", "my request says waiting for you"
    r"\b(has|have|was|is|did) my (\w+ ){0,2}" + _ASKED + r" (been |got |get )?(sorted|done|dealt with|processed|"
    r"actioned|logged|moved|gone|go)\b|"
    r"\bmy (request|ticket|case|query|complaint|enquiry)s? (says|shows|still says|is still) (waiting|in progress|"
    r"pending|open|awaiting)\b|\bfollowing up (on|about|regarding) (my|our|the) (\w+ ){0,2}" + _ASKED + r"\b|"
    r"\bdid my " + _ASKED + r"\b.{0,50}\b(get|go) through\b|"
    r"\bwhere (my|the|our) (\w+ ){0,2}" + _ASKED + r" (is|are) (at|up to)\b|"
    r"\bmy (\w+ ){0,2}" + _ASKED + r"\b.{0,20}\b(is|has) it (been )?(done|sorted|finished|dealt with)\b|"
    r"\b(news|update|updates|status|progress|any word)\b.{0,30}\b" + _ABOUT + r"\b.{0,30}\b(i|we) "
    r"(opened|sent|raised|submitted|put in|made|logged|filed|lodged)\b|"
    r"\b(ticket|case|query|complaint|enquiry|inquiry)\b.{0,40}\b(up to|is at|go through|went through|get back to me|"
    r"heard back|been answered|any news|an update)\b|"
    r"\b(has|did|have) (anyone|someone|somebody|the team|your team|you)( guys)?( actually| already| even| yet)? "
    r"(answered|replied|responded|looked at|looked into|read|seen|got back)\b|"
    r"\b(did|has) my " + _ABOUT + r" (go through|get through|arrive|reach)\b|"
    r"\b(hear|heard|hearing) back (on|about|regarding) (the |my |our )?" + _ABOUT + r"\b|"
    r"\bcheck(ing)? (in )?on (the|my|our) (\w+ ){0,2}" + _ABOUT + r"\b|"
    r"\b" + _ABOUT + r" (you|u) (opened|raised|logged)\b|"
    # "update on my lost property report", "what's happening with the refund request I sent on monday"
    r"\b(update|news|latest|progress|happening|happened|going on) (on|about|with|of|to) (the|my|our) (\w+ ){0,2}"
    + _ABOUT
    + r"\b|"
    r"\b(is|are) (someone|anyone|somebody|anybody) (still )?(dealing with|working on|looking (at|into)|handling) "
    r"(the|my|our) (\w+ ){0,2}" + _ABOUT + r"\b|"
    r"\b(i|we) (emailed|messaged|wrote to|contacted) (you|u|support|your team|the team)\b.{0,80}"
    r"\b(update|news|reply)\b|\b(is it|it'?s) still in the queue\b|"
    r"\bmy " + _ABOUT + r"\b.{0,20}\b(get|gets|got|been|be) (answered|replied to|resolved|closed|looked at|given to|"
    r"assigned|picked up)\b|"
    r"^(escalated|raised|sent|submitted|logged) (my|a|the|our) " + _ABOUT + r"\b.{0,60}\bany (word|news|update)\b|"
    # "you said someone would get back to me on my case"
    r"\bget back to (me|us)\b.{0,20}\b(on|about|regarding) (my|our|the) " + _ABOUT + r"\b"
)


def is_status_request(text: str, product_nouns: frozenset[str] = frozenset()) -> bool:
    """Whether `text` asks about the customer's support tickets. "My tickets" alone is not, where tickets are
    what the business sells (`product_nouns`, vocabulary.product_nouns)."""
    norm = _norm(text)
    if re.search(r"^(how (do|can|should|would) (i|we|you)|how to)\b", norm) and "status" not in norm:
        return False  # "how do I give my ticket number over the phone?" is a how-to question
    mine = (m for m in _MY_TICKETS.finditer(norm) if m.group(1) or m.group(2) not in product_nouns)
    return bool(STATUS_REQUEST.search(norm)) or any(mine)
