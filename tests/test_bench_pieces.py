"""bench/pieces.py's variants (each hand-written piece put back to the ORM or to Django's stock handler)
still apply to this tree, import, and give the results of the pieces they replace."""

import ast
import importlib
import types
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from channels_io.sms import adapter
from tests.conftest import ROOT, bench_module
from tests.factories import UserFactory
from tickets import services, statements
from tickets.models import Message

DRIVER = bench_module("pieces")
PIECES = list(DRIVER.PIECES)


def public_names(source: str) -> set[str]:
    """The names a module defines or assigns at its top level, not starting with an underscore."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return {name for name in names if not name.startswith("_")}


def signatures(source: str) -> dict[str, str]:
    return {
        node.name: ast.unparse(node.args) + " -> " + ast.unparse(node.returns or ast.Constant(None))
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def off(piece: str) -> types.ModuleType:
    """The piece's TARGET module with the piece put back, run as a module of its own."""
    target, source = DRIVER.replaced_module(piece)
    module = types.ModuleType(f"off_{piece}")
    exec(compile(source, target, "exec"), module.__dict__)  # noqa: S102 - our own bench/pieces/ source
    return module


def test_every_piece_has_a_replacement_and_nothing_else_is_there():
    assert sorted(p.stem for p in DRIVER.REPLACEMENTS.glob("*.py")) == sorted(PIECES)


@pytest.mark.parametrize("piece", PIECES)
def test_each_replacement_still_applies_and_keeps_the_modules_names_and_signatures(piece):
    replacement = (DRIVER.REPLACEMENTS / f"{piece}.py").read_text()
    target, spliced = DRIVER.replaced_module(piece)
    original = (ROOT / target).read_text()
    assert spliced != original
    assert public_names(spliced) == public_names(original)
    for name, signature in signatures(replacement).items():  # classes keep their names: checked above
        assert signatures(original)[name] == signature, f"{target}: {name} changed its signature"


@pytest.mark.parametrize("piece", PIECES)
def test_each_variant_imports_with_the_names_of_the_module_it_replaces(piece):
    target = DRIVER.target_of((DRIVER.REPLACEMENTS / f"{piece}.py").read_text())
    original = importlib.import_module(DRIVER.module_name(target))
    variant = off(piece)
    missing = {name for name in vars(original) if not name.startswith("_") and not hasattr(variant, name)}
    assert not missing


@pytest.mark.parametrize(
    "replacement",
    [
        'TARGET = "tickets/statements.py"\n\ndef lock_conversations(a, b, c):\n    return None\n',
        'TARGET = "tickets/statements.py"\n\nimport os\n',
        'TARGET = "tickets/statements.py"\n\nHISTORY = 3\n\ndef claim(message_id, at):\n    return True\n',
    ],
    ids=["renamed-function", "replaces-nothing", "other-statement"],
)
def test_a_replacement_that_no_longer_fits_its_module_is_refused(replacement):
    source = (ROOT / "tickets/statements.py").read_text()
    with pytest.raises(ValueError):
        DRIVER.splice(source, replacement, "tickets/statements.py")


@pytest.mark.django_db
def test_the_orm_statements_give_the_hand_written_ones_results():
    orm = off("statements")
    customer = UserFactory()
    conversation = services.open_conversation(channel="chat", customer=customer)
    stored = [services.store_customer_message(conversation.pk, f"m{i}")[0] for i in range(4)]
    services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice")
    with transaction.atomic():
        for args in [(conversation.pk, None, ""), (conversation.pk, customer.pk, "chat"), (conversation.pk, 0, "chat")]:
            assert orm.lock_conversation(*args) == statements.lock_conversation(*args)
    for args in [(conversation.pk, stored[3].pk, 2), (conversation.pk, stored[0].pk, 2)]:
        assert orm.turns_before(*args) == statements.turns_before(*args)
    at = timezone.now()
    assert orm.claim(stored[0].pk, at) is True and statements.claim(stored[0].pk, at) is False
    message = Message(conversation=conversation, author="customer", text="again", channel="chat", external_id="x:1")
    with transaction.atomic():
        assert orm.insert_message(message, once=True) is message and message.pk
        replay = Message(conversation=conversation, author="customer", text="again", channel="chat", external_id="x:1")
        assert orm.insert_message(replay, once=True) is None
        orm.mark_newest(conversation.pk, message.pk, at + timedelta(seconds=1))
        newest = (conversation.pk, None, "")
        assert orm.lock_conversation(*newest) == statements.lock_conversation(*newest)
    assert Message.objects.filter(external_id="x:1").count() == 1


@pytest.mark.django_db
def test_the_orm_accept_keeps_a_text_once_as_the_statement_does():
    orm = off("sms_accept")
    kept = orm.accept("SM1", "+15550001111", "hello")
    assert kept and orm.accept("SM1", "+15550001111", "hello") is None
    assert adapter.accept("SM1", "+15550001111", "hello") is None
    assert adapter.accept("SM2", "+15550001111", "hi") not in (None, kept)
