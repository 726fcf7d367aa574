"""charts/redis on redis-server (Debian): the local site's rendered redis.conf, started by the
chart's rendered start.sh with the password the Secret would give it. AUTH is required, the AOF
is on, and what was acknowledged survives a crash (SIGKILL) and a restart on the same volume.

Adapted for 127.0.0.1 (engines.start_redis): `bind * -::*` -> 127.0.0.1, port 6379 -> a free
port, `dir /data` -> a temporary directory, /etc/redis/redis.conf -> that file's local copy.
tests/charts/test_redis.py also starts redis-server (chart-default values, primary + replica);
this test takes the site's render through the real start.sh and adds the crash/restart."""

from __future__ import annotations

import time

from tests.realengines import engines
from tests.realengines.engines import REDIS_PASSWORD


def test_redis_requires_auth_keeps_an_aof_and_survives_a_crash(local_site, tmp_path) -> None:
    engines.require("redis")
    objects = local_site["redis"]
    data_dir = tmp_path / "data"
    with engines.processes() as procs:
        server, port = engines.start_redis(objects, data_dir, procs, REDIS_PASSWORD)

        def cli(*args: str, password: str | None = REDIS_PASSWORD) -> str:
            return engines.redis_cli(port, *args, password=password)

        server.wait_for(lambda: cli("ping") == "PONG", "PONG")
        assert "NOAUTH" in cli("get", "x", password=None)
        assert "WRONGPASS" in cli("auth", "not-the-password", password=None)
        for key, value in {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "volatile-lru",
                           "protected-mode": "yes", "save": ""}.items():
            assert (cli("config", "get", key).splitlines() + [""])[1] == value, key
        # What the Siddhi app writes: one hash per sensor.
        for i in range(50):
            assert cli("hset", f"sensor_aggregates:pump-{i}", "avgValue", f"{i}.5", "eventCount", str(i)) == "2"
        time.sleep(1.5)  # appendfsync everysec
        assert list((data_dir / "appendonlydir").glob("*.incr.aof"))

        server.kill()   # SIGKILL: no clean shutdown, no final rewrite
        server, port = engines.start_redis(objects, data_dir, procs, REDIS_PASSWORD, port=port)
        server.wait_for(lambda: cli("ping") == "PONG", "PONG after the restart")
        assert cli("dbsize") == "50"
        assert cli("hget", "sensor_aggregates:pump-49", "avgValue") == "49.5"
        assert "Reading RDB base file on AOF loading" in server.log.read_text() or \
            "DB loaded from append only file" in server.log.read_text()
