from datetime import timedelta

import pytest

from apps.contents.models import Content, ContentStatus
from apps.core.models import Decision

URL = "/api/v1/contents/{}/"


def put(api, ext, **body):
    return api.put(URL.format(ext), body, format="json")


@pytest.mark.django_db
class TestPut:
    def test_register_then_same_put_is_one_content(self, api, client_a):
        body = {"title": "속보: 서울 첫눈", "body": "서울에 첫눈이 내렸다.", "category": "weather", "language": "ko",
                "created_at": "2026-11-28T09:00:00Z"}
        first = api.put(URL.format("n-1"), body, format="json")
        assert first.status_code == 201, first.data
        assert first.data["status"] == "registered"
        assert first.data["expires_at"] == "2026-11-28T13:00:00Z"  # default lifetime 4 h
        again = api.put(URL.format("n-1"), body, format="json")
        assert again.status_code == 200
        assert Content.objects.filter(client=client_a, external_id="n-1").count() == 1
        assert again.data["updated_at"] == first.data["updated_at"]  # unchanged: nothing written

    def test_update_changes_fields(self, api):
        put(api, "n-2", title="First", created_at="2026-11-28T09:00:00Z")
        r = put(api, "n-2", title="Second", created_at="2026-11-28T09:00:00Z", category="sports")
        assert r.status_code == 200
        assert (r.data["title"], r.data["category"]) == ("Second", "sports")

    def test_evaluation_time_follows_client_delay(self, make_client):
        from rest_framework.test import APIClient

        client = make_client("fast", evaluation_delay=timedelta(0))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {client.plain_key}")
        put(api, "x", title="Now", created_at="2026-11-28T09:00:00Z")
        c = Content.objects.get(client=client, external_id="x")
        assert c.evaluate_at == c.created_at

    def test_changed_text_of_a_candidate_is_evaluated_again(self, api, client_a, now):
        put(api, "n-3", title="Old title")
        c = Content.objects.get(external_id="n-3")
        Content.objects.filter(pk=c.pk).update(status=ContentStatus.CANDIDATE, push_score=2.0)
        r = put(api, "n-3", title="New title")
        assert r.status_code == 200
        c.refresh_from_db()
        assert c.status == ContentStatus.REGISTERED and c.push_score is None
        assert Decision.objects.filter(content=c, action="content_reevaluate").exists()

    def test_changed_text_after_push_keeps_status(self, api):
        put(api, "n-4", title="Pushed")
        Content.objects.filter(external_id="n-4").update(status=ContentStatus.SENDING)
        put(api, "n-4", title="Pushed, edited")
        assert Content.objects.get(external_id="n-4").status == ContentStatus.SENDING

    @pytest.mark.parametrize(
        "body, field",
        [
            ({}, "title"),
            ({"title": ""}, "title"),
            ({"title": "x" * 501}, "title"),
            ({"title": "ok", "url": "not a url"}, "url"),
            ({"title": "ok", "language": "Korean!"}, "language"),
            ({"title": "ok", "created_at": "yesterday"}, "created_at"),
            ({"title": "ok", "created_at": "2026-11-28T09:00:00Z", "expires_at": "2026-11-28T08:00:00Z"}, "expires_at"),
        ],
    )
    def test_bad_fields_are_named(self, api, body, field):
        r = api.put(URL.format("bad"), body, format="json")
        assert r.status_code == 400
        assert r.data["field"] == field
        assert r.data["status"] == 400 and r.data["message"]
        assert not Content.objects.filter(external_id="bad").exists()

    def test_malformed_json(self, api):
        r = api.generic("PUT", URL.format("j"), "{not json", content_type="application/json")
        assert r.status_code == 400 and r.data["code"] == "parse_error"

    def test_bad_external_id_in_path(self, api):
        r = api.put("/api/v1/contents/%20bad%20id/", {"title": "x"}, format="json")
        assert r.status_code == 404


@pytest.mark.django_db
class TestRead:
    def test_detail_has_scores_variants_campaign(self, api, client_a, content_factory):
        from apps.contents.models import TitleVariant

        c = content_factory(client_a, "d-1", title="Hello", body="World")
        TitleVariant.objects.create(content=c, text="Hello", source="original")
        r = api.get(URL.format("d-1"))
        assert r.status_code == 200
        assert r.data["body"] == "World"
        assert r.data["scores"]["push_score"] is None
        assert [v["text"] for v in r.data["title_variants"]] == ["Hello"]
        assert r.data["campaign"] is None

    def test_other_clients_row_is_404_and_not_in_lists(self, api, api_b, client_a, client_b, content_factory):
        content_factory(client_a, "mine", title="Mine")
        content_factory(client_b, "theirs", title="Theirs")
        r = api.get(URL.format("theirs"))
        assert r.status_code == 404 and "Theirs" not in str(r.content)
        listing = api.get("/api/v1/contents/")
        assert [c["external_id"] for c in listing.data["results"]] == ["mine"]
        # Writing to another client's id creates a separate content of one's own, never touches theirs.
        put(api, "theirs", title="Mine too")
        assert Content.objects.get(client=client_b, external_id="theirs").title == "Theirs"

    def test_filters_and_pagination(self, api, client_a, content_factory, now):
        for i in range(7):
            content_factory(client_a, f"f{i}", category="sports" if i % 2 else "politics",
                            created_at=now - timedelta(hours=i))
        Content.objects.filter(external_id="f1").update(status=ContentStatus.CANDIDATE)
        r = api.get("/api/v1/contents/", {"category": "sports"})
        assert sorted(c["external_id"] for c in r.data["results"]) == ["f1", "f3", "f5"]
        r = api.get("/api/v1/contents/", {"status": "candidate"})
        assert [c["external_id"] for c in r.data["results"]] == ["f1"]
        after = (now - timedelta(hours=2, minutes=30)).isoformat()
        r = api.get("/api/v1/contents/", {"created_after": after})
        assert [c["external_id"] for c in r.data["results"]] == ["f0", "f1", "f2"]
        page1 = api.get("/api/v1/contents/", {"page_size": 3})
        page2 = api.get(page1.data["next"])
        ids = [c["external_id"] for c in page1.data["results"] + page2.data["results"]]
        assert ids == ["f0", "f1", "f2", "f3", "f4", "f5"]

    def test_bad_filter_is_400(self, api):
        r = api.get("/api/v1/contents/", {"status": "nonsense"})
        assert r.status_code == 400 and r.data["field"] == "status"
        r = api.get("/api/v1/contents/", {"created_after": "soon"})
        assert r.status_code == 400 and r.data["field"] == "created_after"
