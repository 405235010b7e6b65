"""The intent classifier: how a message is said, learned from labelled messages, shipped as a file."""

import json

import pytest
from django.core.management import CommandError, call_command

from assistant import intents, training

OFFER_WORDS = "the zorblat arrived zorbled and I want it looked at"


def examples(n: int = 6) -> list[intents.Example]:
    rows = []
    for i in range(n):
        rows.append((f"how do I change my plan number {i}?", "answer", 1.0, frozenset()))
        rows.append((f"my parcel {i} never arrived and the box was crushed", "offer", 1.0, frozenset()))
        rows.append((f"what is the status of my ticket {i}", "status", 1.0, frozenset()))
    return rows


def test_the_shipped_model_is_exactly_what_its_training_data_gives():
    call_command("train_intents", "--check")  # raises CommandError when the file differs


def test_training_is_deterministic_byte_for_byte():
    assert intents.train(examples()).to_json() == intents.train(examples()).to_json()


def test_a_model_reads_its_own_json_back_and_scores_the_same():
    model = intents.train(examples())
    again = intents.Model.from_json(model.to_json())
    text = "my parcel never arrived"
    assert again.scores(text) == pytest.approx(model.scores(text), abs=1e-4)
    assert max(again.scores(text), key=again.scores(text).get) == "offer"


def test_numbers_codes_amounts_and_addresses_are_placeholders_never_learned_as_words():
    words = intents.tokens("Order 7QK2M9XD cost £49.99, ref 123456, write to bob@example.com")
    assert "<code>" in words and "<money>" in words and "<num>" in words and "<email>" in words
    assert not any("7qk2m9xd" in w or "bob" in w for w in words)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("can I get my money back?", "q"),
        ("How do refunds work", "q"),
        ("the parcel arrived crushed. can you look?", "q"),
        ("I was charged twice for one order", "s"),
        ("", "s"),
    ],
)
def test_the_help_centres_verdict_is_read_with_how_the_message_is_said(text, form):
    feats = intents.features(text, frozenset({"r:staff", "r:conf3"}))
    assert {f"x:{form}|r:staff", f"x:{form}|r:conf3"} <= set(feats)
    other = "s" if form == "q" else "q"
    assert not any(f.startswith(f"x:{other}|") for f in feats)


def test_a_huge_message_is_read_up_to_the_cap():
    assert len(intents.tokens("word " * 100_000)) <= intents.MAX_TEXT // 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"classes": ["answer", "nonsense"], "bias": [0, 0], "weights": {}}, "unknown classes"),
        ({"classes": ["answer", "offer"], "bias": [0], "weights": {}}, "do not match"),
        ({"classes": ["answer", "offer"], "bias": [0, 0], "weights": {"w:x": [1]}}, "do not match"),
    ],
    ids=["unknown-class", "short-bias", "short-row"],
)
def test_a_malformed_model_file_is_refused(data, error):
    with pytest.raises(ValueError, match=error):
        intents.Model.from_json(json.dumps(data))


def test_training_refuses_nothing_and_unknown_classes():
    with pytest.raises(ValueError, match="no labelled messages"):
        intents.train([])
    with pytest.raises(ValueError, match="unknown classes: refund"):
        intents.train([("x", "refund", 1.0, frozenset())])


@pytest.mark.django_db
def test_an_operator_retrains_on_their_own_messages_into_a_file_of_their_choice(tmp_path):
    mine = tmp_path / "mine.json"
    cases = [{"text": f"{OFFER_WORDS} {i}", "expect": "offer"} for i in range(8)]
    cases += [{"text": f"how do I set up my zorblat {i}?", "expect": "answer"} for i in range(8)]
    mine.write_text(json.dumps(cases), encoding="utf-8")
    output = tmp_path / "model.json"
    call_command("train_intents", str(mine), "--only", "--output", str(output))
    model = intents.Model.from_json(output.read_text(encoding="utf-8"))
    scores = model.scores(OFFER_WORDS)
    assert scores["offer"] > scores["answer"]
    assert set(model.classes) == {"answer", "offer"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("{not json", "not JSON"),
        ('{"text": "hi"}', "a JSON list"),
        ('[{"text": "", "expect": "answer"}]', "item 1 has no text"),
        ('[{"text": "hi", "expect": "refund"}]', "item 1 has expect='refund'"),
        ("[]", "no labelled messages"),
    ],
    ids=["malformed", "not-a-list", "empty-text", "unknown-label", "empty-list"],
)
def test_bad_training_files_are_refused_and_no_model_is_written(tmp_path, content, error):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    output = tmp_path / "model.json"
    with pytest.raises(CommandError, match=error):
        call_command("train_intents", str(bad), "--only", "--output", str(output))
    assert not output.exists()


@pytest.mark.django_db
def test_only_needs_a_file_and_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="--only needs"):
        call_command("train_intents", "--only", "--output", str(tmp_path / "m.json"))
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("train_intents", str(tmp_path / "nowhere.json"), "--only", "--output", str(tmp_path / "m.json"))


def test_check_fails_when_the_model_file_is_not_what_the_training_gives(tmp_path):
    stale = tmp_path / "stale.json"
    stale.write_text(intents.train(examples()).to_json(), encoding="utf-8")
    with pytest.raises(CommandError, match="is not what the training data gives"):
        call_command("train_intents", "--check", "--output", str(stale))


def test_banking_rows_need_every_category_labelled(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("text,category\nwhere is my card,card_arrival\n", encoding="utf-8")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"other": {"expect": "answer"}}), encoding="utf-8")
    with pytest.raises(training.TrainingDataError, match="card_arrival"):
        training.banking_messages(rows, labels)
    labels.write_text(json.dumps({"card_arrival": {"expect": "offer"}}), encoding="utf-8")
    assert training.banking_messages(rows, labels) == [
        ("where is my card", "offer", training.BANKING_WEIGHT, frozenset())
    ]


def test_the_shipped_training_data_is_in_the_repository():
    from assistant.management.commands import train_intents

    assert len(list(train_intents.DOMAINS.glob("*/cases.json"))) >= 7
    assert (train_intents.DOMAINS / training.BANK / "banking77_labels.json").is_file()
    assert train_intents.BANKING_ROWS.is_file() and train_intents.DEMO_ARTICLES.is_dir()
    assert len(list(training.TRAINING_DIR.glob("*/cases.json"))) >= 4


def _help_centre(folder, cases):
    (folder / "articles").mkdir(parents=True)
    (folder / "articles" / "returns.md").write_text("# Returns\n\nYou have 30 days to send it back.\n", "utf-8")
    (folder / "cases.json").write_text(json.dumps(cases), encoding="utf-8")


def test_help_centres_written_for_training_are_always_learned_from_and_never_left_out(tmp_path):
    domains, extra, rows = tmp_path / "domains", tmp_path / "training", tmp_path / "rows.csv"
    _help_centre(domains / "shop", [{"id": "s1", "text": "how long for returns?", "expect": "answer"}])
    _help_centre(domains / "bank", [{"id": "b1", "text": "thanks!", "expect": "smalltalk"}])
    (domains / "bank" / "banking77_labels.json").write_text('{"card_arrival": {"expect": "offer"}}', "utf-8")
    rows.write_text("text,category\nwhere is my card,card_arrival\n", encoding="utf-8")
    _help_centre(extra / "shop", [{"id": "t1", "text": "you sent me a broken lamp", "expect": "offer"}])

    def read(leave_out):
        found = training.shipped_examples(domains, tmp_path, rows, leave_out=leave_out, extra=extra)
        return [text for text, _label, _weight, _context in found]

    assert read("") == ["thanks!", "how long for returns?", "you sent me a broken lamp", "where is my card"]
    # Holding out an evaluation domain never drops a training-only help centre of the same name.
    assert read("shop") == ["thanks!", "you sent me a broken lamp", "where is my card"]
    assert read("bank") == ["how long for returns?", "you sent me a broken lamp"]
    weights = {
        text: weight
        for text, _label, weight, _context in training.shipped_examples(domains, tmp_path, rows, extra=extra)
    }
    assert weights["you sent me a broken lamp"] == training.TRAINING_WEIGHT < weights["how long for returns?"] == 1.0


def test_a_training_help_centre_without_articles_is_refused_by_name(tmp_path):
    extra = tmp_path / "training"
    (extra / "empty").mkdir(parents=True)
    (extra / "empty" / "cases.json").write_text(json.dumps([{"text": "hi", "expect": "smalltalk"}]), "utf-8")
    with pytest.raises(training.TrainingDataError, match="empty/articles: no articles"):
        training.shipped_examples(tmp_path / "domains", tmp_path, tmp_path / "none.csv", leave_out="bank", extra=extra)


@pytest.mark.django_db
def test_an_output_that_cannot_be_written_is_a_clear_error(tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps([{"text": "how do I pay?", "expect": "answer"}] * 3), encoding="utf-8")
    with pytest.raises(CommandError, match="cannot write"):
        call_command("train_intents", str(mine), "--only", "--output", str(tmp_path / "no-such-dir" / "m.json"))
