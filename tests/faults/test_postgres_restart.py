"""PostgreSQL restarted under load: /healthz turns 503 while it is down and 200 once it is back, the same
server process serves again (its connection pool reconnects), and no ticket is half written."""

import subprocess
import sys
import threading
from collections import Counter

import psycopg
import requests

from tests.conftest import ROOT, wait_until
from tests.faults.clients import Widget

CUSTOMERS = 12
CREATE_CUSTOMERS = f"""
from loophole.models import User
for n in range({CUSTOMERS}):
    User.objects.create_user(email=f"load{{n}}@example.com", password="load-password")
"""


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
    )


def health(origin: str) -> int:
    try:
        return requests.get(f"{origin}/healthz", timeout=20).status_code
    except requests.RequestException:
        return 0


class Load:
    """Customers asking for a refund and saying yes, round after round, until stopped."""

    def __init__(self, widgets: list[Widget], threads: int = 3) -> None:
        self.widgets = widgets
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.rounds = 0
        self.tickets = 0  # rounds whose "yes" was stored and answered with a ticket
        self.statuses: Counter[int] = Counter()
        self.stored: list[int] = []  # ids of the messages the server said it stored (201)
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, n: int) -> None:
        turn = n
        while not self.stop.is_set():
            widget = self.widgets[turn % len(self.widgets)]  # round robin: no customer reaches the rate limit
            turn += len(self.threads)
            try:
                self._round(widget)
            except (requests.RequestException, AssertionError):
                with self.lock:
                    self.statuses[0] += 1

    def _round(self, widget: Widget) -> None:
        response = widget.http.post(f"{widget.origin}/chat/conversations/", json={}, headers=widget._csrf(), timeout=20)
        self._count(response)
        if response.status_code != 201:
            return
        conversation_id = response.json()["id"]
        for text in ["I was charged twice, I want a refund.", "yes"]:
            response = widget.say(conversation_id, text)
            self._count(response)
            if response.status_code != 201:
                return
        with self.lock:
            self.rounds += 1
        # Eager tasks (no Redis): the answer was written before the response, when the database allowed.
        if (
            widget.http.get(f"{widget.origin}/chat/conversations/{conversation_id}/messages/", timeout=20)
            .json()
            .get("ticket")
        ):
            with self.lock:
                self.tickets += 1

    def _count(self, response: requests.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 201 and "/messages/" in response.url:
                self.stored.append(response.json()["id"])


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as db:
        return db.execute(query).fetchall()


def test_postgres_restarted_under_load_health_turns_503_and_back_and_no_ticket_is_half_written(
    processes, postgres_server
):
    env = {**processes.env, "DATABASE_URL": postgres_server.url}
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", CREATE_CUSTOMERS)
    origin = processes.web(DATABASE_URL=postgres_server.url)  # no REDIS_URL: tasks run in the request
    widgets = [Widget(origin) for _ in range(CUSTOMERS)]
    for n, widget in enumerate(widgets):
        widget.login(f"load{n}@example.com", "load-password")
    assert health(origin) == 200

    with Load(widgets) as load:
        wait_until(lambda: load.tickets >= 3, timeout=60, what="tickets created under load")
        postgres_server.stop("immediate")  # a crash: open transactions die with it
        wait_until(lambda: health(origin) == 503, timeout=60, what="/healthz 503 while PostgreSQL is down")
        during = load.rounds
        postgres_server.start()
        wait_until(lambda: health(origin) == 200, timeout=60, what="/healthz 200 once PostgreSQL is back")
        after = load.tickets
        wait_until(lambda: load.tickets >= after + 3, timeout=60, what="tickets created after the restart")
    assert load.rounds >= during

    url = postgres_server.url
    # Every message the server acknowledged survived the restart.
    kept = {pk for (pk,) in rows(url, "SELECT id FROM tickets_message WHERE author = 'customer'")}
    assert set(load.stored) <= kept
    # No half-written ticket: each has its conversation handed off, its "created" event with the email
    # marker, and the reply telling the customer; no conversation is handed off or offered without them.
    tickets = rows(
        url,
        """
        SELECT t.id, c.state, c.offer IS NULL,
               (SELECT count(*) FROM tickets_ticketevent e WHERE e.ticket_id = t.id AND e.kind = 'created'
                                                             AND e.email = 'created'),
               (SELECT count(*) FROM tickets_message m WHERE m.conversation_id = c.id AND m.kind = 'created'
                                                         AND m.reply_to_id IS NOT NULL)
        FROM tickets_ticket t JOIN tickets_conversation c ON c.id = t.conversation_id
        """,
    )
    assert len(tickets) >= load.tickets >= 6
    assert [row[1:] for row in tickets] == [("handed_off", True, 1, 1)] * len(tickets)
    orphans = rows(
        url,
        """
        SELECT c.id, c.state FROM tickets_conversation c
        WHERE (c.state = 'handed_off' AND NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.conversation_id = c.id))
           OR (c.state = 'ticket_offered' AND c.offer IS NULL)
        """,
    )
    assert orphans == []
    assert load.statuses[201] > 0 and set(load.statuses) <= {0, 201, 500, 503}
