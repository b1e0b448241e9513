"""The demo app: its commands, and the demo world made through the product's own services."""

import io
import json
import stat

import pytest
from django.core.management import call_command, get_commands, load_command_class
from rest_framework.test import APIClient


def test_the_demo_commands_belong_to_the_demo_app():
    commands = get_commands()
    assert commands["demo_setup"] == commands["demo_live"] == "apps.demo"
    assert load_command_class("apps.demo", "demo_live").help.startswith("Drive a running pushadmin")


@pytest.mark.django_db
def test_demo_setup_makes_the_accounts_and_a_working_api_key(tmp_path, client):
    key_file = tmp_path / "demo-api-key"
    out = io.StringIO()
    call_command("demo_setup", "--subscribers", "0", "--key-file", str(key_file), stdout=out)

    key = key_file.read_text()
    logins = json.loads((tmp_path / "demo-logins.json").read_text())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert set(logins) == {"admin", "editor", "operator"}
    assert key in out.getvalue() and all(password in out.getvalue() for password in logins.values())
    assert client.post("/login/", {"username": "operator", "password": logins["operator"]}).status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/contents/").status_code == 200


@pytest.mark.django_db
def test_demo_world_has_subscribers_contents_and_reads():
    from apps.contents.models import Content
    from apps.demo.world import demo_world_load

    world = demo_world_load(subscribers=50)
    assert world["subscribers"] == 50 and world["contents"] == 40 and world["reads"] > 0
    assert set(Content.objects.filter(client=world["client"]).values_list("language", flat=True)) == {"en", "ko"}
