"""[rate_limit]: per credential and per source address, 429 with the
RATE_LIMIT_EXCEEDED body and X-RateLimit-* headers; probes are never
limited; a badge spends its key's budget and is an SVG when over it."""
import time

import harness as H


def test_rate_limits(cluster_factory):
    c = cluster_factory(start=False)
    c.rate_limit = {"anonymous_per_minute": 3, "authenticated_per_minute": 5}
    c.write_config()
    c.start_all()
    n = c.names[0]
    if time.time() % 60 > 55:  # windows are whole minutes: do not straddle one
        time.sleep(61 - time.time() % 60)
    statuses = []
    for _ in range(7):
        r = c.get(n, "/api/config")
        statuses.append(r.status_code)
        if r.status_code == 200:
            assert r.headers["x-ratelimit-limit"] == "5" and int(r.headers["x-ratelimit-remaining"]) >= 0
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429], statuses
    H.assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert int(r.headers["retry-after"]) >= 1 and r.headers["x-ratelimit-remaining"] == "0"
    # Another credential has its own budget; the limit is per node and per minute.
    assert c.get(n, "/api/config", key=H.PROD_KEY).status_code == 200
    # Anonymous (no or bad key) callers are limited by address.
    anon = [c.get(n, "/api/config", key=None).status_code for _ in range(5)]
    assert anon[:3] == [401] * 3 and anon[3:] == [429, 429], anon
    # Never limited: the probes.
    assert all(c.health(n)[0] == 200 for _ in range(10))
    # A badge spends the budget of the key in its path (the admin key's is spent).
    r = c.get(n, f"/badges/{H.ADMIN_KEY}/x/y/Deployment/w/c", key=None)
    assert r.status_code == 429 and r.headers["content-type"] == "image/svg+xml" and "rate limited" in r.text
    badges = [c.get(n, f"/badges/{H.DEV_KEY}/{H.DEV_CLIENT}/y/Deployment/w/c", key=None) for _ in range(6)]
    assert [b.status_code for b in badges] == [200] * 5 + [429], [b.status_code for b in badges]
