"""SigV4 (PROTOCOL.md §4.2) against every synthetic vector of the protocol fixtures (tests/fixtures/jimeng)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from core import sigv4

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "jimeng" / "sigv4_test_vectors.synthetic.json"
DOC: dict[str, Any] = json.loads(FIXTURE.read_text())
INPUTS = DOC["inputs"]
CREDS = sigv4.Credentials(INPUTS["access_key_id"], INPUTS["secret_access_key"], INPUTS["session_token"])
VECTORS = [k for k, v in DOC.items() if isinstance(v, dict) and "signature" in v]


def test_fixture_has_all_four_vectors() -> None:
    assert set(VECTORS) >= {
        "apply_image_upload",
        "commit_image_upload",
        "commit_image_upload_web_style",
        "vod_commit_upload_inner",
    }


@pytest.mark.parametrize("name", VECTORS)
def test_vector(name: str) -> None:
    v = DOC[name]
    url = urlsplit(v["url"])
    query = parse_qsl(url.query, keep_blank_values=True)
    body = v["body"].encode() if "body" in v else None
    service = "vod" if "/vod/" in v["string_to_sign"] else INPUTS["service"]
    signed_headers = v["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    signed = sigv4.sign(
        v["method"],
        query,
        CREDS,
        region=INPUTS["region"],
        service=service,
        body=body,
        headers=v.get("headers"),
        signed_headers=signed_headers,
        x_amz_date=INPUTS["x_amz_date"],
    )
    assert signed.canonical_request == v["canonical_request"]
    assert signed.string_to_sign == v["string_to_sign"]
    assert signed.signature == v["signature"]
    assert signed.authorization == v["authorization"]
    if body is not None:
        assert signed.headers["x-amz-content-sha256"] == v["x_amz_content_sha256"]
    assert signed.headers["x-amz-security-token"] == INPUTS["session_token"]


def test_default_signed_headers_are_the_iptag_sets() -> None:
    get = sigv4.sign("GET", [("Action", "ApplyImageUpload")], CREDS, region="cn-north-1", service="imagex")
    assert "SignedHeaders=x-amz-date;x-amz-security-token," in get.authorization
    assert "x-amz-content-sha256" not in get.headers
    post = sigv4.sign(
        "POST", [("Action", "CommitImageUpload")], CREDS, region="cn-north-1", service="imagex", body=b"{}"
    )
    assert "SignedHeaders=x-amz-content-sha256;x-amz-date;x-amz-security-token," in post.authorization


def test_default_apply_matches_vector_without_naming_headers() -> None:
    v = DOC["apply_image_upload"]
    query = parse_qsl(urlsplit(v["url"]).query)
    signed = sigv4.sign("GET", query, CREDS, region="cn-north-1", service="imagex", x_amz_date=INPUTS["x_amz_date"])
    assert signed.authorization == v["authorization"]


def test_query_order_does_not_matter_and_values_are_encoded() -> None:
    a = sigv4.canonical_query([("s", "x"), ("Action", "A"), ("FileSize", "1")])
    assert a == "Action=A&FileSize=1&s=x"  # uppercase sorts before lowercase
    assert sigv4.canonical_query([("k", "a b/c")]) == "k=a%20b%2Fc"


def test_missing_signed_header_is_a_bug_not_a_silent_signature() -> None:
    with pytest.raises(ValueError, match="host"):
        sigv4.sign("GET", [], CREDS, region="cn-north-1", service="imagex", signed_headers=["host", "x-amz-date"])


def test_secrets_stay_out_of_repr() -> None:
    text = repr(CREDS)
    assert INPUTS["secret_access_key"] not in text and INPUTS["session_token"] not in text


def test_amz_date_format() -> None:
    assert sigv4.amz_date(1771922627.0) == "20260224T084347Z"
