"""Deterministic reading of customers' words: yes/no, ticket references typed or spoken, intents, facts.

Nothing here calls a model. The ticket gate relies on `confirmation()` alone.
"""

import re
from enum import Enum

from assistant import charges
from assistant.vocabulary import STOPWORDS


class Answer(Enum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


def _norm(text: str) -> str:
    text = (text or "").lower().replace("\u2019", "'")
    text = re.sub(r"[👍✅]", " yes ", text)
    text = re.sub(r"[👎❌]", " no ", text)
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text)).strip()


_YES_STRONG = re.compile(
    r"^(y|yes|yeah|yea|ya|yep|yup|yes please|sure|ok|okay|k|please|absolutely|definitely|certainly|correct|right|"
    r"alright|affirmative|go ahead|do it|do that|go for it|of course|open it|open one|open the ticket|"
    r"open a ticket|create it|create one|create the ticket|create a ticket|make it|sounds good|"
    r"that would be great|that'd be great|please do|go on|why not)$"
)
_YES_WORDS = frozenset(
    "y yes yeah yea ya yep yup sure ok okay k please pls plz absolutely definitely certainly correct right alright "
    "affirmative go ahead do it that of course open create make a the one ticket for me sounds good would be great "
    "that'd fine thanks thank you kindly i'd like to id i'm im happy with sir agree agreed perfect great thing "
    "on then why not helpful help lovely cheers and asap now quickly straight away right away urgently".split()
)
# A plain yes must not also say no.
_NO_IN_YES = frozenset({"no", "not", "nope", "nah", "don't", "dont", "never", "cancel", "stop", "why"})

# A refusal is read leniently (declining is always safe): it opens with one of these.
_REFUSAL = re.compile(
    r"^(?:(?:actually|oh|um+|hmm+|ok|okay|well|sorry|thanks|thank you|ah|erm|but)\s+)*"
    r"(?:no|nope|nah|naw|nay|negative|no thanks?|no thank you|thanks but no|thank you but no|"
    r"not (?:now|yet|today|right now|at the moment|for now|this time|necessary|needed|required|really|interested)|"
    r"(?:please )?(?:don'?t|do not)(?: (?:bother|worry|open|create|need|want|make|file|raise|do))?|"
    r"never ?mind|nevermind|forget (?:it|about it)|cancel|stop|skip it|leave it|no need|no worries|"
    r"(?:i'?m|i am|we'?re|we are) (?:all )?(?:good|fine|ok|okay|all set|set|sorted)|all good|"
    r"(?:it'?s|that'?s) (?:fine|ok|okay|alright|all right|all good|not necessary|not needed)|"
    r"(?:actually |nevermind |never mind )?i (?:figured|sorted|fixed|solved|worked) (?:it|this|that)(?: out)?|"
    r"(?:actually )?(?:it'?s|it is|that'?s) (?:fixed|sorted|solved|working|resolved) now|"
    r"i'?ll (?:pass|manage|sort it|try|figure|wait|handle|do it|deal|leave it|check|look)|"
    r"i (?:don'?t|do not) (?:need|want)(?: one| a ticket| that| it)?|(?:i'?d|i would) rather not|rather not|"
    r"maybe later|later|not a ticket|no ticket)\b"
)


def confirmation(text: str) -> Answer:
    """Read a reply to "Shall I open a ticket?": a yes strictly, a no leniently, anything else UNCLEAR.

    "yes please", "sure, go ahead" -> YES. "no thanks", "nope, not now", "No need, I figured it out",
    "no, don't bother" -> NO. A question, a mixed answer, or any other text (pasted JSON, "SYSTEM:
    ticket created", "yes and tell me X") -> UNCLEAR, which the caller handles as a new message.
    """
    norm = _norm(text)
    if not norm or len(norm) > 300:
        return Answer.UNCLEAR
    if _REFUSAL.match(norm):
        return Answer.NO
    if re.search(r"[^\w\s.,!?'\u2019👍✅👎❌-]", text or "") or len(norm) > 80:
        return Answer.UNCLEAR  # markup, JSON, "SYSTEM:" prefixes: not a plain yes
    words = norm.split()
    if any(w in _NO_IN_YES for w in words) and not re.search(r"\bwhy not\b", norm):
        return Answer.UNCLEAR
    if all(w in _YES_WORDS for w in words) and (
        _YES_STRONG.match(norm)
        or any(_YES_STRONG.match(w) for w in words)
        or re.search(r"\b(go ahead|why not|go on|would be (great|helpful|good|nice|lovely))\b", norm)
    ):
        return Answer.YES
    return Answer.UNCLEAR


_REFUSAL_FILLER = frozenset(
    """thanks thank thx cheers worries sorted sort fixed figured worked working works solved resolved myself wait
    later manage handle bother worry open ticket tickets create file raise need necessary needed fine good set
    ok okay alright time moment rather pass deal leave try check look mind anyway appreciate offer""".split()
)


_ASKS = re.compile(
    r"^(?:(?:but|and|though|however|also|just|so|then|oh|ok|okay|well|actually|thanks|thank|you|thx|no)\s+)*"
    r"(?:how|what|whats|when|where|"
    r"why|which|who|can|could|do|does|did|is|are|will|would|should|tell me|i need|i want|i'd like|please)\b"
)


def says_more_than_no(text: str) -> bool:
    """Whether a refusal also asks something of its own ("no thanks, but how do I X?"), rather than
    saying what the customer will do instead ("no thanks, I'll call my bank")."""
    norm = _norm(text)
    match = _REFUSAL.match(norm)
    rest = norm[match.end() :].strip() if match else norm
    content = [w for w in rest.split() if w not in STOPWORDS and w not in _REFUSAL_FILLER]
    return bool(content) and bool(_ASKS.search(rest))


# --- intents -------------------------------------------------------------------------------------

_Q = (
    r"(?:^|[.!?]\s+)(?:how|hows|what|whats|when|where|wheres|which|why|is|are|does|do|can|could|will|would|should)\b"
    r"|\b(?:policy|policies|eligible|eligibility|allowed)\b"
)
INFORMATIONAL = re.compile(_Q)

NEEDS_PERSON: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "human": r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(human|person|agent|someone|somebody|"
        r"representative|rep|staff|team|manager|supervisor|people)\b|\breal (person|human)\b|^(human|agent|"
        r"representative|operator)( please)?$|\bescalate\b|"
        # "I need a person to fix ...", "need a human to look", "get me an agent" (not "do I need a person at home?").
        r"(?<!do )(?<!will )(?<!would )(?<!should )(?<!did )\b(i|we)( really| just)?( need| want| would like|'d like) "
        r"(a|an) (actual |live )?(human|person|agent|representative|operator)\b(?! (at|present|home|there|to be))|"
        r"(?<!do i )(?<!do we )(?<!will i )(?<!would i )\b(need|want|get me|give me|find me) (a|an|your) "
        r"(actual |live )?(human|agent|representative|operator|manager|supervisor)\b"
        r"(?! (role|account|access|permission|seat|login))|(^|[.!?,] *)(a )?(human|agent|real person)"
        r"( please| pls| plz)?[.!]*$|"
        r"\b(don'?t|do not) want (a |to (talk|speak|chat) to a )?(bot|robot|machine)\b|\bno (more )?bots\b|"
        r"\b(get|find|put) me (through to )?(someone|somebody|a person) (who|that) (can|could|knows)\b|"
        r"\b(someone|somebody|anyone|anybody|(a|an|any) (actual |real |live )?(person|human)) (i|we) (can|could) "
        r"(speak|talk|chat) (to|with)\b|"
        r"\b(can|could|would|will) (someone|somebody|anyone|a person|you|your team)( please)? (call|ring|phone) (me|us)"
        r"\b(?! (before|when|if|after|once))",
        "ticket_request": r"\b(open|create|file|raise|log|submit|start)\b.{0,12}\b(support )?(ticket|case)\b|"
        # "I want to make a complaint" (not "how do I make a complaint?")
        r"\b((i|we) (want|wish|would like|'?d like|need)|id like) to (make|file|raise|lodge|put in) (a |an )?"
        r"(formal |official )?"
        r"complaint\b|"
        # Only staff can do these: "could you extend / waive / transfer / restore / correct / move ...".
        r"\b((can|could|would|will) (you|u|someone|somebody)|please|pls|plz|i need you to|i'?d like you to)"
        r"( please| pls| possibly| kindly)*( be able to)? (extend|waive|unlock|reactivate|credit|reimburse|transfer|"
        r"merge|restore|reinstate|correct|move|reverse|escalate|backdate|lift|hold|rush|release|reopen|unblock|chase|"
        r"speed up|put (\w+ ){1,4}back|"
        r"take (\w+ ){1,4}off)\b",
        # The company's own doing, reported: "you renewed us for 12 months but ...", "your contractor broke ...".
        "company_error": r"(^|[.!?] )(you|u|you'?ve|youve|you guys|your (\w+ )?(team|driver|courier|engineer|"
        r"contractor|handler|agent|staff|app|system|website|site)) (have |has |had |just |still |then |also )?(\w+ed|"
        r"took|sent|gave|paid|put|made|charged|cancelled|renewed|broke|lost|sold|left|kept|forgot|stole|swapped|"
        r"wrote|spelt|spelled)\b",
        "refund": r"\brefund|\bmoney back\b|\breimburs|\bchargeback",
        "billing": r"\bcharged (me )?(twice|two times|double|again|after|even though|without)|\bdouble[- ]charged?|"
        r"\bduplicate (charge|payment)|\bovercharg|\bwrong amount\b|\bdisput|\bunauthori[sz]ed (charge|payment)|"
        r"\bdidn'?t (authori[sz]e|sign up)|\b(don'?t|do not|doesn'?t) recogni[sz]e|\bbilled (me )?(twice|double|wrong)|"
        r"\bnever signed up\b|\bno idea what (it|this|that) is\b|\bamount is (just |simply |all )?wrong\b",
        "access": r"\blocked out\b|\block(ed)? me out\b|\b(can'?t|cannot|can not|unable to)\b.{0,10}\b(log|sign)"
        r" ?(in|on)\b|\baccount (is |was |got |has been )?(locked|suspended|disabled|hacked|compromised)|"
        r"\bhacked\b|\blost (my )?(2fa|authenticator|phone|recovery codes?)|\b(suspended|deactivated|banned)\b|"
        r"\bcan'?t get (back )?in\b|\bsomeone (else )?(changed|accessed|logged|got) ",
        "persistent": r"\b(already|i'?ve|i have|i|we) (tried|updated|reinstalled|restarted|cleared|checked|did|done)\b"
        r".{0,80}\b(still|keeps?|again|every time|no luck|same)\b|"
        r"\b(still|keeps?) (a |the )?(blank|broken|fail|failing|crash|crashing|not work)|"
        r"\b(three|several|multiple|many|few) times\b|\bevery time\b|"
        # Tried more than once, or tried another way, and it still fails.
        r"\b(\d+|four|five|ten|twenty|loads of|lots of|a (few|couple of|dozen)|dozens of|hundreds of) times\b|"
        r"\b(tried|restarted|rebooted|reinstalled|refreshed|retried|reset|unplugged|updated) (it|them|the \w+|my \w+)?"
        r" ?(too|as well|again|twice)\b|"
        r"\b(same thing|same result|same again|made no difference|no difference|nothing changed|no change)\b",
        "data_loss": r"\blost (all )?(my |our )?(data|files|projects?|work|history)|\b(data|files|projects?|"
        r"work) (is |are |has |have )?(been )?(gone|missing|lost|deleted|disappeared|vanished)|\bdisappeared\b|"
        r"\bdeleted (it |them )?by (mistake|accident)|\baccidentally deleted",
        # Requests to erase someone's data or legal demands: not a question about a policy or a document.
        "privacy": r"\bright to be forgotten\b|\b(data|privacy) (deletion|erasure) request|"
        r"\b(delete|erase|remove|wipe) (all )?(of )?(my|our|his|her|their) (personal )?"
        r"(data|information|info|details)\b|"
        r"\bsubpoena|\blawyer|\blegal (request|notice|action)",
        "bug": r"\bbug\b|\bcrash(es|ed|ing)?\b|\berror( code| message)?\b|\bnot working\b|\b(doesn'?t|does not|"
        r"won'?t|will not|isn'?t|is not|can'?t|cannot)\b.{0,12}\b(work|load|open|sync|save|upload|send)\b|"
        r"\bbroken\b|\bstuck\b|\bblank (page|screen)\b|\bfreez(es|ing)\b",
    }.items()
}

DIDNT_HELP = re.compile(
    r"\b(didn'?t|did not|doesn'?t|does not|not) help|\bnot helpful\b|\bthat'?s not (it|what)|\bnot what i\b|"
    r"\bstill (doesn'?t|does not|not|isn'?t|won'?t|can'?t|broken|the same|having)|\b(didn'?t|did not) work\b|"
    r"\b(already|i) tried (that|this|it|those)\b|\bno luck\b|\buseless\b|\bsame (problem|issue|error)\b|"
    r"^(i )?(did|done|tried|followed|checked)( all| every(thing)?)? (that|this|those|it|them|the steps|everything)\b|"
    r"\b(followed|did|tried) (all )?(the|your|those|these) (steps|instructions)\b|\bstill (no|nothing|only|the same)\b"
)
_SMALLTALK = {
    "greeting": re.compile(r"^(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)( there)?$|"
                           r"^((hi|hello|hey) )?(is )?(anyone|anybody) (there|around|home)$"),
    "thanks": re.compile(r"^(thanks?( you)?( so much| a lot| very much)?|thx|ty|cheers|great thanks|perfect thanks|"
                         r"awesome|great|perfect|cool|got it|ok thanks|okay thanks|that helped|that worked|nice one|"
                         r"brilliant|lovely)( yes)?$"),
    "bye": re.compile(r"^(bye|goodbye|see you|see ya|that'?s all|nothing else|no that'?s all|all good)$"),
    "how_are_you": re.compile(r"^(how are you|how'?s it going|how are you doing)( today)?$"),
    "who": re.compile(r"^(who are you|are you (a )?(bot|robot|human|ai|real))$"),
    "ok": re.compile(r"^(ok|okay|k|kk|lol|haha|ha|lmao|fair enough|i see)$"),
    "fed_up": re.compile(r"^(you'?re|you are|ur|u r|this is|this bot is|what a) (so |really |completely )?(useless|"
                         r"rubbish|pointless|hopeless|terrible|a joke|stupid|dumb)( bot| lol| haha| mate)*$"),
}  # fmt: skip


_SMALLTALK_LEAD = re.compile(r"^(?:(?:ok|okay|oh|ah|right|alright|great|cool|perfect|brilliant|lovely|well)\s+)+")
# Short small talk said more loosely than the exact phrases above (on a message of a few words only).
_LOOSE_SMALLTALK = {
    "who": re.compile(
        r"\b(are|r) (you|u) (a |an )?(real|human|bot|robot|ai|person|machine|computer)\b|\bwho (are|r) (you|u)\b|"
        r"^is (this|it) (a |an )?(real |actual )?(human|bot|robot|ai|person|machine|computer)"
        r"( or (a |an )?(real )?\w+)?( typing| here| talking| answering)?$"
    ),
    "bye": re.compile(r"\b(bye|goodbye|see you|see ya|cya|have a (nice|good|great) (day|weekend|evening|one))\b"),
    "thanks": re.compile(
        r"\b(thanks?|thank you|thx|ty|ta|cheers|appreciate it|(been|was|very|really|super) helpful)\b"
    ),
}  # fmt: skip
_NOT_SMALLTALK = re.compile(r"\?|\b(but|how|what|when|where|why|can|could|help me|need|problem|issue|still)\b")
# "it works now", "all sorted now", "I fixed it": the matter is solved, nothing is left to act on.
_RESOLVED = re.compile(
    r"\b(works|working|worked|fixed|sorted|solved|resolved|fine|ok|okay|good) (again|now|itself)\b|"
    r"\b(it'?s|its|it is|all|that'?s) (fixed|sorted|solved|resolved)\b|"
    r"\bi (fixed|sorted|solved|figured out) (it|this|that)\b|\b(figured|sorted|fixed|solved) (it|this|that)( out)?$"
)
_UNRESOLVED = re.compile(
    r"\b(not|no longer|doesn'?t|don'?t|isn'?t|won'?t|can'?t|cannot|haven'?t|hasn'?t|didn'?t|never|"
    r"stopped|broke|broken|crash\w*|fail\w*|error\w*|"
    r"stuck|freez\w*|wrong|missing)\b|^(is|are|was|were|has|have|had|did|does|do|will|would|should|can|could)\b"
)


def smalltalk(text: str) -> str | None:
    norm = _norm(text)
    for prefix in ("hi ", "hello ", "hey "):
        if norm.startswith(prefix) and _SMALLTALK["how_are_you"].match(norm[len(prefix) :]):
            return "how_are_you"
    for name, pattern in _SMALLTALK.items():
        if pattern.match(norm) or pattern.match(_SMALLTALK_LEAD.sub("", norm)):
            return name
    asks, words = bool(_NOT_SMALLTALK.search(norm)), len(norm.split())
    if not asks and "?" not in (text or "") and words <= 14 and _RESOLVED.search(norm) and not _UNRESOLVED.search(norm):
        return "resolved"
    if words <= 10:
        if _LOOSE_SMALLTALK["who"].search(norm):
            return "who"
        if not asks:
            for name in ("bye", "thanks"):
                if _LOOSE_SMALLTALK[name].search(norm):
                    return name
    return None


# A problem tried again that still asks what to do ("how long", "anything else i can try", "can i switch"):
# the help centre may answer it, so it is left to the classifier.
_ASKS_WHAT_NEXT = re.compile(r"\b(how|what|whats|why|anything else|is there|can i|should i|do i)\b")


def needs_person(text: str) -> str | None:
    """The kind of problem only a person can solve, or None. "How do refunds work?" is a question, not one."""
    norm = _norm(text)
    informational = (
        bool(INFORMATIONAL.search(norm))
        and not re.search(r"^((hi|hello|hey) )?(can|could|would|will) (you|u|someone|somebody)\b|\bplease\b", norm)
        and not re.search(r"\b(i|we|my|our|me)\b.{0,40}\b(was|were|got|been|have|has|am|need|want)\b", norm)
    )
    asks_about = bool(
        re.search(
            r"^(how|when|what|why|does|do|is|are|will)\b(?! there (some|any)(one|body)| there (a|an|any) "
            r"(actual |real |live )?(human|person)\b)",
            norm,
        )
    )
    for name, pattern in NEEDS_PERSON.items():
        if pattern.search(norm) and (not informational or (name == "human" and not asks_about)):
            if name in {"persistent", "company_error"} and _ASKS_WHAT_NEXT.search(norm):
                continue  # "tapped unlock 3 times ... anything else i can try": a question, not a report
            return name
    if not informational and charges.CHARGED.search((text or "")[:2000].lower()):
        return "billing"
    return None


# Asking the company's people to do something ("can you switch it to USD", "please arrange", "can this be
# fixed?"): a hint for the classifier, not a verdict (a how-to question is worded the same way at times).
_ASKS_STAFF = re.compile(
    r"\b(can|could|would|will) (you|u|someone|somebody|your team)( please| pls)?( be able to)? (switch|change|fix|"
    r"sort|arrange|cancel|update|remove|add|apply|send|check|look|investigate|refund|replace|swap|put|turn|set|get|"
    r"pause|make)\b|\b(manually|by hand|make an exception)\b|"
    r"\bplease (arrange|sort|fix|change|switch|update|cancel|remove|add|apply|send|check)\b|"
    r"\b(need|want|like) (a|an|some) (human|person|agent|one of your (team|staff))\b|"
    r"\b(need|want|like) (you|someone|somebody|your team) to\b|"
    r"\b(can|could) (this|it|that) be (fixed|sorted|changed|corrected|undone|reversed|looked at|looked into|reduced|"
    r"waived|refunded)\b"
)


def asks_staff_to_act(text: str) -> bool:
    return bool(_ASKS_STAFF.search(_norm(text)))


# A clause that asks to know something ("... what happens if he doesn't", "is there a way", "should I have heard
# by now"), in a message that asks nobody to act: whatever it reports, it wants an answer first.
_KNOW_CLAUSE = re.compile(
    r"(^|[.!?,]\s*|\b(and|but|so|or)\s+)(how|what|whats|when|where|which|why|is there|are there|is something|is it|"
    r"is that|should i|do i|any way|anything)\b([^.!?]*)"
)
_ASKS_TO_ACT = re.compile(
    r"\b(can|could|would|will) (you|u|we|someone|somebody)\b|\bwould it be possible\b|\b(please|pls)\b"
)


def wants_to_know(text: str) -> bool:
    lowered = (text or "")[:2000].lower().replace("\u2019", "'")  # with its punctuation: clauses matter here
    if _ASKS_TO_ACT.search(lowered):
        return False
    # A question of four words or more: "what is this?" or "is that allowed??" after a report is a complaint.
    return any(len((m.group(3) + m.group(4)).split()) >= 4 for m in _KNOW_CLAUSE.finditer(lowered))


_PLEASE = re.compile(r"\b(please|pls|plz)\b")
_ASKS_TO_KNOW = re.compile(
    r"\b(how|what|whats|where|when|which|why|who|tell me|explain|let me know|show me|info|information|guide)\b"
)


def polite_request(text: str) -> bool:
    """A request made with "please" that asks to know nothing ("need my surname changed please", "please
    arrange"): something for the company's people to do, not a question."""
    norm = _norm(text)
    return (
        bool(_PLEASE.search(norm))
        and "?" not in (text or "")
        and not _ASKS_TO_KNOW.search(norm)
        and not _ABOUT_TICKETS.search(norm)  # "check my case please": a status question
    )


_ABOUT_TICKETS = re.compile(r"\b((ticket|case|query|enquiry|inquiry|complaint)s?|status|progress|any news|an update)\b")


def didnt_help(text: str) -> bool:
    return bool(DIDNT_HELP.search(_norm(text)))


def smalltalk_kind(text: str) -> str:
    """Which small talk a message the classifier reads as small talk is, by its words."""
    norm = _norm(text)
    if re.search(r"\b(bot|robot|human|real person|ai|who are you|machine)\b", norm):
        return "who"
    if re.search(r"\b(bye|goodbye|see you|see ya|that'?s all|nothing else|have a good)\b", norm):
        return "bye"
    if re.search(r"\b(thanks?|thx|ty|cheers|helpful|appreciated?|great|perfect|brilliant|awesome)\b", norm):
        return "thanks"
    if re.search(r"\bhow are (you|u)\b", norm):
        return "how_are_you"
    return "greeting"


_ARTICLES_AND_OWNERS = frozenset("a an the my our your his her their this that these those some".split())
# Verbs that make two words a request ("forgot my password", "connect slack", "2fa setup"), not a topic.
_ACTION_WORDS = frozenset(
    """forgot forget lost broke cancel cancle connect reset change delete close setup set pay return track add remove
    export import download upload login log sign update transfer unlock renew book buy order""".split()
)


def is_fragment(text: str) -> bool:
    """A message of one or two words that names a topic and asks nothing ("invoices", "my card")."""
    words = [w for w in _norm(text).split() if w not in _ARTICLES_AND_OWNERS]
    return (
        0 < len(words) <= 2
        and "?" not in (text or "")
        and not any(w.endswith(("ing", "ed")) or w in _ACTION_WORDS for w in words)
    )
