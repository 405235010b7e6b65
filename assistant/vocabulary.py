"""Words as the help-centre search reads them: stopwords, everyday synonyms and phrases, stemming.

Shared by the retrieval (assistant.retrieval), the intent classifier and the readers of customers' words.
"""

import functools
import re
import threading
from collections import Counter

import Stemmer

# Snowball's English stemmer in C; an instance must not be used by two threads at once.
_STEMMER = Stemmer.Stemmer("english", 0)
_STEMMER_LOCK = threading.Lock()
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't during each few
    for from further had hadn't has hasn't have haven't having he her here hers herself him himself his how i i'd
    i'll i'm i've if in into is isn't it it's its itself let's me more most my myself no nor not of off on once only
    or other ought our ours ourselves out over own same she should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they this those through to too under until up very was wasn't
    we were weren't what what's when where which while who whom why with won't would wouldn't you your yours
    yourself yourselves hi hello hey please thanks thank pls plz just really also get got want wanted need needs
    like know tell help im ive dont cant wont doesnt didnt isnt whats hows way ok okay still thing things something
    anyone someone guys will able use using used long many much way ways find found say says said show shows take
    takes make makes made look looks looking see seen right now later soon never ever always again back even
    well good great bad weird strange sure maybe actually basically probably literally yes yeah yep yup nope
    kind sort lot lots bit little every everything nothing anything go going gone come came give gave put try tried
    different separate another unrelated btw u ur r ya wat wot gonna wanna lol tbh mate asap hiya guys cheers
    trying keep kept let lets wanted wants say think thought mean means wondering wonder hoping hope sorry dumb
    question quick us one two ones today yesterday yet already ago able
    """.split()
)

# Words that ask for help without saying about what: a message of only these is too vague to answer.
GENERIC = frozenset(
    """question questions issue issues problem problems thing things stuff something help support assist account
    check earlier before matter concern query info information detail details change changes possible work works
    working fix sort handle deal right wrong correct okay fine hmm hm um uh confused understand know error errors
    broken glitch glitchy glitching bugged messed playing acting""".split()
)

# Everyday support wording: each group's words count as one another.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("password", "passcode", "passphrase", "pwd", "credentials", "login", "signin", "logon"),
    ("cancel", "cancellation", "unsubscribe", "terminate", "discontinue", "stop"),
    ("refund", "reimburse", "reimbursement", "chargeback", "moneyback"),
    ("charge", "charged", "bill", "billed", "billing", "payment", "debit", "debited", "fee"),
    ("invoice", "receipt", "statement"),
    ("delete", "remove", "erase", "wipe"),
    ("email", "e-mail", "mail", "inbox", "address"),
    ("contact", "reach", "touch"),
    ("plan", "subscription", "tier", "package", "membership"),
    ("upgrade", "switch", "change"),  # upgrade and downgrade each count as a change, not as each other
    ("downgrade", "switch", "change"),
    ("member", "teammate", "colleague", "coworker", "seat", "user", "invite"),
    ("export", "download", "backup"),
    ("2fa", "mfa", "two-factor", "twofactor", "authenticator", "otp"),
    ("phone", "mobile", "cell", "iphone", "android", "ios", "app"),
    ("error", "bug", "broken", "crash", "crashes", "crashing", "glitch", "fail", "fails", "failing", "failed"),
    ("outage", "down", "offline", "unavailable", "status"),
    ("notification", "notifications", "alert", "alerts", "notify"),
    ("integration", "integrate", "connect", "connected", "sync"),
    ("price", "pricing", "cost", "costs", "expensive", "cheaper"),
    ("trial", "free"),
    ("locked", "lockout", "locked-out", "blocked", "suspended", "disabled"),
    ("ticket", "case", "request"),
    ("text", "sms", "texting"),
    ("call", "phone", "ring"),
    ("project", "workspace"),
    ("archive", "archived", "restore", "recover", "undelete"),
    ("privacy", "gdpr", "ccpa"),
    ("token", "key", "apikey", "secret"),
    ("undo", "revert", "resume", "reactivate", "reinstate"),
    ("member", "employee", "staff", "hire", "hired", "people", "newcomer", "colleagues"),
    ("setup", "enable", "activate", "configure", "turnon"),
    ("maintenance", "scheduled", "planned", "downtime"),
    ("yearly", "annual", "annually", "year"),
    ("monthly", "month"),
    ("permission", "permissions", "role", "roles", "allowed", "access", "rights"),
    ("bills", "invoices"),
    ("card", "creditcard", "visa", "mastercard"),
    # Everyday English for the same thing, whatever the business.
    ("stolen", "steal", "stole", "theft", "nicked", "robbed", "pickpocketed"),
    ("lost", "lose", "misplaced"),
    ("damaged", "damage", "faulty", "defective", "cracked", "smashed", "dented", "scratched", "broken"),
    (
        "arrive",
        "arrival",
        "arrived",
        "deliver",
        "delivery",
        "delivered",
        "dispatch",
        "dispatched",
        "shipped",
        "shipping",
    ),
    ("discount", "cheap", "cheaper", "deal", "deals", "promo", "promotion", "coupon", "voucher", "concession"),
    ("child", "children", "kid", "kids", "son", "daughter", "teen", "teenager", "minor", "junior", "age"),
    ("abroad", "overseas", "international", "foreign", "travelling", "traveling"),
    ("partner", "wife", "husband", "spouse", "family", "relative"),
    ("surname", "married", "marriage", "maiden"),
    ("deceased", "died", "death", "bereavement", "passed"),
    ("bounced", "bounce", "declined", "rejected", "unpaid", "missed"),
    ("funds", "money", "balance"),
    ("address", "postcode", "zip"),
    ("delay", "delayed", "late", "waiting"),
    ("pause", "freeze", "frozen", "suspend", "hold"),
    ("join", "joining", "signup", "register", "registration", "enrol", "enroll"),
    ("update", "edit", "modify", "amend", "correct", "correction"),
    ("wifi", "wireless", "internet", "broadband", "connection"),
    ("instalment", "installment", "instalments", "installments", "finance", "spread"),
    ("photo", "picture", "image", "pic", "screenshot"),
    ("identity", "id", "passport", "licence", "license", "proof", "verify", "verification"),
    ("referral", "refer", "referred", "recommend"),
    ("rewards", "points", "loyalty"),
    ("luggage", "baggage", "suitcase", "bags"),
    ("gratuity", "tip", "tips"),
)


# Multi-word wording folded to one word before anything else, in articles and questions alike.
PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bmoney back\b", "refund"),
        (r"\b(send|sending|sent|take|taking|took|bring|give|post|ship)( \w+){0,2} back\b", "return"),
        (r"\bget rid of\b", "cancel remove"),
        (r"\bsign(ed|ing)? ?up\b", "signup register join"),
        (r"\b(log|sign)(ged|ging)? ?(in|on)\b", "login"),
        (r"\b(log|sign)(ged|ging)? ?out\b", "logout"),
        (r"\btwo[- ]?(factor|step)( authentication| verification)?\b", "2fa"),
        (r"\bmulti[- ]?factor( authentication)?\b", "2fa"),
        (r"\bcredit card\b", "card"),
        (r"\be[- ]mail\b", "email"),
        (r"\bset ?up\b", "setup"),
        (r"\bturn(ed|ing)? on\b", "turnon"),
        (r"\bapi (key|token)s?\b", "apikey"),
        (r"\b(backup|recovery|back-up) codes?\b", "recoverycode"),
        (r"\bclos(e|ing) (my |our |the )?account\b", "delete account"),
        (r"\bget in touch\b", "contact"),
        (r"\bcharged (twice|two times|double)\b", "duplicate charge"),
        (r"\bdouble[- ]charged?\b", "duplicate charge"),
        (r"\blocked out\b", "lockout"),
        (r"\bcan'?t (get|log) in(to)?\b", "lockout login"),
        (r"\bpay ?wall\b", "plan"),
    )
)


# All phrases in one pass: one alternation, each phrase a named group.
_PHRASE_ANY = re.compile("|".join(f"(?P<p{i}>{p.pattern})" for i, (p, _r) in enumerate(PHRASES)))
_PHRASE_REPLACEMENT = {f"p{i}": r for i, (_p, r) in enumerate(PHRASES)}


def _fold(text: str) -> str:
    text = (text or "").lower().replace("\u2019", "'")
    return _PHRASE_ANY.sub(lambda m: _PHRASE_REPLACEMENT[m.lastgroup or ""], text)


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    with _STEMMER_LOCK:
        return _STEMMER.stemWord(word.replace("'", ""))


def words(text: str) -> list[str]:
    """Lower-cased words of `text` with stopwords removed (unstemmed)."""
    return [w for w in _WORD.findall(_fold(text)) if w not in STOPWORDS and len(w) > 1]


def is_vague(text: str) -> bool:
    """True when the message names no topic at all ("I have a question", "there's a problem")."""
    return all(w in GENERIC for w in words(text))


def terms(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


SYNONYM_OF: dict[str, frozenset[str]] = {}
for _group in SYNONYMS:
    _stems = frozenset(stem(w.replace("-", "")) for w in _group) | frozenset(stem(w) for w in _group)
    for _s in _stems:
        SYNONYM_OF[_s] = SYNONYM_OF.get(_s, frozenset()) | _stems


# The words customers use for their support requests, which some businesses also use for what they sell (an
# events company's tickets): "my tickets" is then about the product. Not "case": "in case" is everywhere.
SUPPORT_NOUNS = ("ticket",)
_NOUN_USE = {n: (re.compile(rf"\b{n}s?\b"), re.compile(rf"\b(support|help) {n}s?\b")) for n in SUPPORT_NOUNS}


def noun_uses(text: str) -> tuple[set[str], set[str]]:
    """The support nouns an article uses at all, and those it uses for a support request ("support ticket")."""
    text = (text or "")[:100_000].lower()
    used = {n for n, (word, _support) in _NOUN_USE.items() if word.search(text)}
    return used, {n for n in used if _NOUN_USE[n][1].search(text)}


def product_nouns(uses: list[tuple[set[str], set[str]]]) -> frozenset[str]:
    """From each article's noun_uses(), the support nouns a help centre uses for its products: in at least 3
    articles and a tenth of them, mostly not as "support ticket"."""
    used = Counter(n for nouns, _support in uses for n in nouns)
    as_support = Counter(n for _nouns, support in uses for n in support)
    return frozenset(n for n, count in used.items() if count >= max(3, len(uses) / 10) and 2 * as_support[n] < count)
