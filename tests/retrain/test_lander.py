"""edgeai.retrain.lander's own logic (the Kafka and S3 ends run in tests/e2e/test_retrain_loop.py): what it
subscribes to, where it writes, and that offsets are committed only after every object is stored."""

from __future__ import annotations

import re

import pytest

from edgeai.retrain import lander, landing


def test_the_subscription_is_every_sites_mirror_of_the_topics() -> None:
    pattern = lander.topic_pattern(("predictions", "predictions-low-confidence"))
    assert re.match(pattern, "lyon-store-007.predictions") and re.match(pattern, "a.predictions-low-confidence")
    assert not re.match(pattern, "predictions") and not re.match(pattern, "lyon.predictions.x")
    assert not re.match(pattern, "lyon.sensor-events")


def test_objects_are_laid_out_as_the_retrain_job_reads_them(tmp_path) -> None:
    key = lander.object_key("edge/", "lyon.predictions", 1_767_225_600_000_000_000)
    assert key == "edge/lyon.predictions/dt=2026-01-01/1767225600000000000.jsonl"
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_text(lander.as_line(b'{"features": [1, 2], "prediction": 0.9, "model": "m"}') + "\n")
    [record] = landing.records(landing.source(str(tmp_path / "edge")), "m")
    assert record.features == (1.0, 2.0) and record.prediction == 0.9


@pytest.mark.parametrize("value", [b"not json", b"\xff\xfe", None])
def test_a_record_that_is_not_json_is_skipped(value) -> None:
    assert lander.as_line(value) is None


def test_a_multi_line_json_value_becomes_one_line() -> None:
    assert lander.as_line(b'{\n "a": 1\n}') == '{"a":1}'


def test_batches_are_due_by_count_or_age() -> None:
    b = lander.Batches(count=3, seconds=10)
    assert not b.due(0)
    b.add("t", "1", now=100)
    b.add("t", "2", now=101)
    assert not b.due(105) and b.due(110)
    b.add("u", "3", now=106)
    assert b.due(106)


def test_offsets_are_committed_only_after_every_object_is_stored() -> None:
    stats, stored, commits = lander.Stats(), {}, []
    b = lander.Batches(count=10, seconds=1)
    b.add("a.predictions", "1", 0)
    b.add("b.predictions", "2", 0)

    def failing_put(key: str, body: bytes) -> None:
        if key.split("/")[1] == "b.predictions":
            raise OSError("store down")
        stored[key] = body

    with pytest.raises(OSError):
        lander.flush(b, failing_put, lambda: commits.append(1), "edge", stats)
    assert not commits and list(b.lines) == ["b.predictions"]      # a's written, b's still held
    lander.flush(b, lambda k, v: stored.__setitem__(k, v), lambda: commits.append(1), "edge", stats)
    assert commits == [1] and not b.lines and stats.objects == 2
    assert sorted(v for v in stored.values()) == [b"1\n", b"2\n"]
