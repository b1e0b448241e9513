"""Per-client API keys: ``Authorization: Api-Key <key>`` (or ``X-Api-Key: <key>``).

A key is ``pa_<prefix>_<secret>``; the prefix finds the row, a constant-time comparison of the
SHA-256 checks the secret. The authenticated principal is the client, and every API view scopes
its queries to ``request.user.client``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions

from apps.core.models import ApiKey, Client

KEY_PREFIX = "pa_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix, secret


@dataclass(frozen=True)
class ApiClient:
    """The principal of an API request: a client, never a person."""

    client: Client
    key_prefix: str

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @property
    def pk(self):  # used by throttling and logging
        return self.client.pk

    def __str__(self) -> str:
        return f"client:{self.client.slug}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            header = authentication.get_authorization_header(request).decode("latin-1")
            if not header:
                return None
            scheme, _, raw = header.partition(" ")
            if scheme.lower() != self.keyword.lower() or not raw.strip():
                raise exceptions.AuthenticationFailed("Use the header 'Authorization: Api-Key <key>'.")
        parts = split_key(raw.strip())
        if parts is None:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        prefix, secret = parts
        try:
            key = ApiKey.objects.select_related("client").get(prefix=prefix, revoked_at__isnull=True)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.") from None
        if not hmac.compare_digest(key.hashed_key, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return ApiClient(client=key.client, key_prefix=prefix), key

    def authenticate_header(self, request):
        return self.keyword


class IsApiClient(permissions.BasePermission):
    message = "An API key is required."

    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)


try:  # documents both ways of sending the key, either of which is enough
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class ApiKeyScheme(OpenApiAuthenticationExtension):
        target_class = ApiKeyAuthentication
        name = ["ApiKey", "XApiKey"]

        def get_security_requirement(self, auto_schema):
            return [{name: []} for name in self.name]  # alternatives, not both at once

        def get_security_definition(self, auto_schema):
            how = "make a key with `manage.py create_api_key CLIENT`."
            return [
                {"type": "apiKey", "in": "header", "name": "Authorization",
                 "description": f"The value is `Api-Key <key>` (not `Bearer`); {how}"},
                {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                 "description": f"The value is the key alone; {how} Takes precedence over `Authorization`."},
            ]
except ImportError:  # pragma: no cover
    pass
