import pytest


@pytest.fixture
def campaigns(client_a, client_b, content_factory, now):
    from apps.campaigns.models import Campaign, Wave

    out = {}
    for client, ext in ((client_a, "a1"), (client_b, "b1")):
        content = content_factory(client, ext)
        campaign = Campaign.objects.create(client=client, content=content, created_at=now, sends=300, clicks=9, expected_clicks=3.0)
        Wave.objects.create(campaign=campaign, number=1, planned_size=300, sends=300, clicks=9, expected_clicks=3.0,
                            created_at=now, state="decided", decision="expand")
        Wave.objects.create(campaign=campaign, number=2, planned_size=1200, created_at=now)
        out[ext] = campaign
    return out


@pytest.mark.django_db
def test_list_and_detail_with_waves_and_numbers(api, campaigns):
    r = api.get("/api/v1/campaigns/")
    assert r.status_code == 200
    assert [c["content"] for c in r.data["results"]] == ["a1"]
    d = api.get(f"/api/v1/campaigns/{campaigns['a1'].pk}/")
    assert d.status_code == 200
    assert d.data["improvement"] == pytest.approx(3.0)
    assert [(w["number"], w["decision"]) for w in d.data["waves"]] == [(1, "expand"), (2, "")]
    assert d.data["waves"][0]["improvement"] == pytest.approx(3.0)


@pytest.mark.django_db
def test_other_clients_campaign_is_404(api, campaigns):
    r = api.get(f"/api/v1/campaigns/{campaigns['b1'].pk}/")
    assert r.status_code == 404 and r.data["code"] == "not_found"


@pytest.mark.django_db
def test_filter_by_state(api, campaigns):
    assert len(api.get("/api/v1/campaigns/", {"state": "done"}).data["results"]) == 0
    assert len(api.get("/api/v1/campaigns/", {"state": "running"}).data["results"]) == 1
    assert api.get("/api/v1/campaigns/", {"state": "bogus"}).status_code == 400


@pytest.mark.django_db
def test_campaigns_are_read_only(api, campaigns):
    assert api.post("/api/v1/campaigns/", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/campaigns/{campaigns['a1'].pk}/").status_code == 405
