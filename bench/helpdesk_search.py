"""The peer's side of bench/admin_list.py: django-helpdesk's ticket list searched as ours is.

Run by admin_list.py with the peer's own Python (HELPDESK_DIR/.venv/bin/python, set up and seeded
per ../shared/baseline/peers/django-helpdesk/README.md); it reuses that kit's bench.py (its login,
30 s cap, warm-up, query capture and timed repeats) and asks the staff list (HTML shell plus the
DataTables AJAX rows a browser fetches next, the figure the kit's README calls what a user waits for)
and the ticket admin for each kind of search, with a term of the same kind from the peer's data:

    title      'declined' (one title template, ~3 % of the tickets, the kit's own search word)
    text       'screenshots' (a description sentence; helpdesk searches the description, not follow-ups)
    email      the local part of a customer's address (a partial email)
    phone      seven digits (helpdesk keeps no phone numbers: the box scans for them anyway)

Prints `RESULT {json}`: per kind, the list's html + ajax median and the admin changelist's median
(None when it hit the cap).

usage: HELPDESK_DIR/.venv/bin/python bench/helpdesk_search.py HELPDESK_DIR [--min-repeat 3] [--budget 30]
"""

import argparse
import importlib
import json
import sys
from pathlib import Path
from urllib.parse import urlencode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("helpdesk_dir", type=Path)
    ap.add_argument("--min-repeat", type=int, default=3)
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    sys.path.insert(0, str(args.helpdesk_dir.resolve()))
    peer = importlib.import_module("bench")  # the kit's bench.py: sets up its Django project on import
    from helpdesk.models import Ticket

    email = Ticket.objects.filter(pk=Ticket.objects.count() // 2 + 2).values_list("submitter_email", flat=True)[0]
    terms = {"title": "declined", "text": "screenshots", "email": email.split("@")[0], "phone": "5550123"}
    options = argparse.Namespace(
        repeat=args.repeat, budget=args.budget, min_repeat=args.min_repeat, only=None, skip=None, label=None
    )
    run = peer.Bench(options)
    run.login()
    from django.urls import reverse

    out = {"tickets": Ticket.objects.count(), "terms": terms}
    for kind, term in terms.items():
        query = "?" + urlencode({"q": term})
        run.list_pair(f"search_{kind}", f"search {kind} q={term}", query)
        admin = reverse("admin:helpdesk_ticket_changelist")
        run.page(f"admin_search_{kind}", f"GET {admin}{query}", lambda a=admin, t=term: run.client.get(a, {"q": t}))
        ajax = run.results.get(f"search_{kind}_ajax", {})
        admin_result = run.results.get(f"admin_search_{kind}", {})
        out[kind] = {
            "list_ms": ajax.get("html_plus_ajax_median_ms"),
            "list_status": ajax.get("status"),
            "list_queries": ajax.get("queries"),
            "admin_ms": admin_result.get("median_ms"),
            "admin_status": admin_result.get("status"),
            "admin_queries": admin_result.get("queries"),
        }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
