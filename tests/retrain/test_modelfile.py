from __future__ import annotations

import pytest

from edgeai.models.modelfile import set_fields

FILE = """# yaml-language-server: $schema=../../schema/model.schema.json
name: m
framework: sklearn
uri: oci://r.example/m:v3   # images/model-m
regions: [a]
retrain:
  metric: f1    # why f1
"""


def test_sets_replaces_and_removes_keeping_other_lines():
    out = set_fields(FILE, {"canary": {"uri": "s3://b/m/2", "weight": 10}}, {"canary": "MLflow version 2"})
    assert out == FILE + "canary: {uri: 's3://b/m/2', weight: 10}   # MLflow version 2\n"
    out = set_fields(out, {"uri": "s3://b/m/2", "canary": None})
    assert out.splitlines() == [FILE.splitlines()[0], "name: m", "framework: sklearn", "uri: s3://b/m/2",
                                "regions: [a]", "retrain:", "  metric: f1    # why f1"]
    assert set_fields(FILE, {"retrain": None}).endswith("regions: [a]\n")


def test_refuses_a_layout_it_does_not_understand():
    with pytest.raises(ValueError, match="edit it by hand"):
        set_fields("name: m\nuri: &u s3://x/1\ncanary: {uri: *u, weight: 1}\n", {"uri": "s3://x/2"})


def test_a_block_sequence_at_column_zero_goes_with_its_key():
    assert set_fields("name: m\nregions:\n- a\n- b\ngpu: 1\n", {"regions": ["c"]}) == "name: m\nregions: [c]\ngpu: 1\n"
