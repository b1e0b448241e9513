"""The live demo: the simulated world talks to a running pushadmin the way real systems do.

Contents, subscribers, app opens and reads arrive through the REST API; the product's Celery
workers evaluate, launch (auto-approve), plan waves and dispatch them to the ``webhook`` provider,
whose receiver here hands each push to the world; the clicks the world draws come back through
the events API when their time comes. The product's clock and the world's run at the same speed
(``PUSHADMIN_CLOCK_SPEED``), from the same epoch.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import requests

from apps.core import clock
from apps.simulation.payloads import activity_items, content_data, subscriber_items, world_events
from recsys.simulate.world import World, WorldConfig

log = logging.getLogger("pushadmin.demo")


class LiveWorld:
    def __init__(self, *, api: str, key: str, subscribers: int, seed: int, secret: str):
        start = clock.now()
        self.world = World(WorldConfig(n_subscribers=subscribers, seed=seed, start=start, contents_per_day=96))
        self.api, self.secret = api.rstrip("/"), secret
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})
        self.lock = threading.Lock()
        self.clicks: list = []  # heap of (time s, send id)
        self.index = {str(e): i for i, e in enumerate(self.world.subscribers.external_id)}
        self.content_index: dict[str, int] = {}
        self.seq = 0
        self.pushes = 0

    # --- the push receiver (the webhook provider's endpoint) ---------------------------------
    def receive(self, body: bytes, signature: str) -> int:
        from apps.delivery.providers import verify

        if not verify(self.secret, signature, body, now=time.time()):
            return 401
        push = json.loads(body)
        ext, sub = push["content_external_id"], push["subscriber_external_id"]
        with self.lock:
            if ext not in self.content_index or sub not in self.index:
                return 200  # delivered to someone outside the simulated world: nobody will click
            t = self.world.seconds(clock.now())
            at = self.world.push(self.content_index[ext], np.array([self.index[sub]]), t)[0]
            self.pushes += 1
            if np.isfinite(at):
                heapq.heappush(self.clicks, (float(at), int(push["send_id"])))
        return 200

    def serve(self, port: int) -> ThreadingHTTPServer:
        live = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = live.receive(body, self.headers.get("X-Pushadmin-Signature", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    # --- the world's side, through the REST API -----------------------------------------------
    def _post(self, method: str, path: str, payload) -> dict:
        r = self.http.request(method, f"{self.api}{path}", data=json.dumps(payload), timeout=60)
        if r.status_code == 429:
            time.sleep(float(r.headers.get("Retry-After", 1)))
            return self._post(method, path, payload)
        r.raise_for_status()
        return r.json()

    def register_subscribers(self) -> None:
        items = subscriber_items(self.world)
        for k in range(0, len(items), 5000):
            self._post("POST", "/api/v1/subscribers/bulk/", {"subscribers": items[k:k + 5000]})

    def step(self) -> dict:
        """Bring the world up to the product's clock and report what happened through the API."""
        world = self.world
        with self.lock:
            act = world.advance(world.seconds(clock.now()))
            horizon = act.end
            due = []
            while self.clicks and self.clicks[0][0] <= horizon:
                due.append(heapq.heappop(self.clicks))
        for c in act.contents:
            self.content_index[c.external_id] = c.index
            self._post("PUT", f"/api/v1/contents/{c.external_id}/", content_data(c, iso=True))
        if len(act.opens):
            items = activity_items(world, act)
            for k in range(0, len(items), 5000):
                self._post("POST", "/api/v1/subscribers/bulk/", {"subscribers": items[k:k + 5000]})
        events, self.seq = world_events(world, act, due, seq=self.seq, prefix="live-")
        for k in range(0, len(events), 5000):
            self._post("POST", "/api/v1/events/", {"events": events[k:k + 5000]})
        return {"contents": len(act.contents), "reads": len(act.reads), "clicks": len(due), "pushes": self.pushes}
