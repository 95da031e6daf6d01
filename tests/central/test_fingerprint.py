"""The fingerprint text is assembled from pieces; it must stay byte for byte what
``canonical`` gives for the same fields, or replays stored earlier would turn into
conflicts."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from central.store import _canonical_text, _fingerprint_text, _stored_text, canonical

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_attachment = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1),
        "sha256": st.text(min_size=1),
        "size": st.integers(min_value=0),
        "upload": st.text(),
    }
)


@given(
    kind=st.text(min_size=1),
    version=st.integers(min_value=1, max_value=9),
    stream=st.text(min_size=1),
    payload=st.dictionaries(st.text(), _json, max_size=4),
    attachments=st.lists(_attachment, max_size=2),
)
def test_fingerprint_text_is_canonical(
    kind: str, version: int, stream: str, payload: dict[str, Any], attachments: list[Any]
) -> None:
    item = {
        "key": "K-1-x-0000000001",
        "kind": kind,
        "schema_version": version,
        "stream": stream,
        "payload": payload,
        "attachments": attachments,
        "created_at": 1.5,
    }
    material = {
        "kind": kind,
        "schema_version": version,
        "stream": stream,
        "payload": payload,
        "attachments": [
            {"name": a["name"], "sha256": a["sha256"], "size": a["size"]} for a in attachments
        ],
    }
    text = _fingerprint_text(item, _canonical_text(payload))
    assert text.encode() == canonical(material)
    assert hashlib.sha256(text.encode()).digest() == hashlib.sha256(canonical(material)).digest()
    assert json.loads(_stored_text(item, _canonical_text(payload))) == item
