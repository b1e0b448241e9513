"""The API's documentation pages: Swagger UI at ``/api/docs/`` and ReDoc at ``/api/redoc/``.

Both run drf-spectacular-sidecar's copies of their scripts from our static files (no CDN script
on the origin of the logged-in pages) and answer with a Content-Security-Policy that lets them
load nothing from another origin: no scripts, styles, fonts or images from elsewhere (ReDoc's
bundle would fetch its vendor's logo), and requests only to this site. Swagger UI runs its start-up
script from a URL of its own (``?script``), so no inline script is needed.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # both set style attributes; ReDoc injects its styles
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",  # ReDoc's search index
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class _OwnOriginOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class SwaggerUiView(_OwnOriginOnly, SpectacularSwaggerSplitView):
    pass


class RedocView(_OwnOriginOnly, SpectacularRedocView):
    template_name = "api/redoc.html"  # without the web-font links of drf-spectacular's page
