"""Load generator for POST /api/v1/events/ (run from another process than the server).

Sends batches of BATCH events with DUP_SHARE of their event_ids repeated from earlier batches,
over CONNECTIONS concurrent workers, for REQUESTS requests in all; prints one JSON line with the
throughput, latency percentiles and the acknowledged counts.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def bodies(n_requests: int, batch: int, dup_share: float, subscribers: int, contents: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, issued = [], []
    for r in range(n_requests):
        events = []
        n_dup = int(batch * dup_share) if issued else 0
        for eid in rng.sample(issued, min(n_dup, len(issued))):
            events.append(eid)
        while len(events) < batch:
            eid = f"ev-{r}-{len(events)}"
            events.append(eid)
            issued.append(eid)
        items = [{"event_id": eid, "type": rng.choice(("read", "open", "read", "dismiss")),
                  "subscriber": f"s{rng.randrange(subscribers)}", "content": f"c{rng.randrange(contents)}",
                  "occurred_at": "2026-11-28T08:00:00Z"} for eid in events]
        out.append(json.dumps({"events": items}).encode())
    return out, len(set(issued))


def main():
    host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    n_requests, batch, dup, conns = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
    payloads, unique_ids = bodies(n_requests, batch, dup, 5000, 200, seed=1)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    def send(body: bytes):
        t = time.perf_counter()
        c = http.client.HTTPConnection(host, port, timeout=60)
        c.request("POST", "/api/v1/events/", body=body, headers=headers)
        resp = c.getresponse()
        data = resp.read()
        c.close()
        dt = time.perf_counter() - t
        if resp.status != 200:
            return dt, resp.status, 0, 0
        d = json.loads(data)
        return dt, 200, d["accepted"], d["duplicates"]

    # warm-up outside the measurement: one small request per server worker
    start = time.perf_counter()
    with ThreadPoolExecutor(conns) as pool:
        results = list(pool.map(send, payloads))
    wall = time.perf_counter() - start
    lat = sorted(r[0] for r in results)
    accepted = sum(r[2] for r in results)
    print(json.dumps({
        "requests": n_requests, "batch": batch, "connections": conns, "wall_s": round(wall, 3),
        "events_sent": n_requests * batch, "unique_event_ids": unique_ids,
        "accepted": accepted, "duplicates": sum(r[3] for r in results),
        "non_200": sum(1 for r in results if r[1] != 200),
        "events_per_s": round(n_requests * batch / wall), "accepted_per_s": round(accepted / wall),
        "p50_ms": round(1000 * statistics.median(lat), 1),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
    }))


if __name__ == "__main__":
    main()
