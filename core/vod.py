"""Upload a video or audio reference to VOD (PROTOCOL.md §4.3) and return its ``vid``.

The same three steps as ImageX with the same STS (the account's cached ``get_upload_token``, shared with the image
uploader): ``ApplyUploadInner`` (SigV4 service ``vod``, GET) → the bytes to the upload node (``Auth``,
``Content-CRC32``) → ``CommitUploadInner`` (SigV4, POST ``{"SessionKey", "Functions": []}``). Uploading is free, so
transient faults are retried with backoff; a signature refusal (which VOD also answers intermittently with a correct
signature, AICF) is retried with a fresh token. Secrets never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import string
from dataclasses import dataclass
from typing import Any

from core import sigv4
from core.errors import UpstreamUploadError
from core.upload import ImageUploader, UploadAccount, UploadToken, _dict, _Fault, _first, _int, _openapi_result
from core.wire import (
    IMAGEX_SIGNED_HEADERS_GET,
    IMAGEX_SIGNED_HEADERS_POST,
    REGIONS,
    USER_AGENT,
    VOD_ACTION_APPLY,
    VOD_ACTION_COMMIT,
    VOD_COMMIT_CONTENT_TYPE,
    VOD_FILE_TYPE,
    VOD_HOST,
    VOD_SERVICE,
    VOD_SPACE_FALLBACK,
    VOD_VERSION,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UploadedMedia:
    """A video/audio reference in VOD: its ``vid`` (what drafts reference) and what Commit reported."""

    vid: str
    uri: str = ""
    width: int = 0
    height: int = 0


class VodUploader:
    """Uploads video/audio bytes for one engine, on the STS cache of its ``ImageUploader``."""

    def __init__(self, images: ImageUploader, *, rng: random.Random | None = None) -> None:
        self.images = images
        self.upstream = images.upstream
        self._rng = rng or random.Random()

    async def upload(self, account: UploadAccount, data: bytes, *, index: int, kind: str) -> UploadedMedia:
        """Upload one file; raises ``UpstreamUploadError`` naming the reference (``index`` 0-based)."""
        stale: UploadToken | None = None
        fresh_used = False
        attempt = 0
        while True:
            token: UploadToken | None = None
            try:
                token = await self.images._token(account, stale=stale)
                return await self._once(account, data, token)
            except _Fault as fault:
                retry = (
                    fault.transient and attempt + 1 < self.images.attempts and not (fault.fresh_token and fresh_used)
                )
                if not retry:
                    raise UpstreamUploadError(
                        f"reference {index + 1} ({kind}) could not be uploaded: {fault.reason}",
                        index=index,
                        ret=fault.ret,
                    ) from None
                if fault.fresh_token:
                    stale, fresh_used = token, True
                delay = self.images.retry_base_s * (2**attempt) * (0.75 + self._rng.random() / 2)
                attempt += 1
                log.warning(
                    "VOD upload of reference %d for %s: %s; retrying in %.1fs",
                    index + 1,
                    account.masked,
                    fault.reason,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _once(self, account: UploadAccount, data: bytes, token: UploadToken) -> UploadedMedia:
        info = REGIONS[account.token.region]
        web_headers = {
            "accept": "*/*",
            "origin": info.web_origin,
            "referer": f"{info.web_origin}/",
            "sec-fetch-site": "cross-site",
            "user-agent": USER_AGENT,
        }
        space = VOD_SPACE_FALLBACK  # AICF's real captures send SpaceName=dreamina on CN
        query = [
            ("Action", VOD_ACTION_APPLY),
            ("Version", VOD_VERSION),
            ("SpaceName", space),
            ("FileType", VOD_FILE_TYPE),
            ("IsInner", "1"),
            ("FileSize", str(len(data))),
            ("s", "".join(self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))),
        ]
        signed = sigv4.sign(
            "GET",
            query,
            token.creds,
            region=info.aws_region,
            service=VOD_SERVICE,
            signed_headers=IMAGEX_SIGNED_HEADERS_GET,  # the same sets as ImageX (AICF),
        )
        status, doc = await self._request("GET", query, {**web_headers, **signed.headers}, None, "apply")
        result = _openapi_result(doc, status, "VOD ApplyUploadInner")
        node = _dict(_first(_dict(result.get("InnerUploadAddress")).get("UploadNodes")))
        store = _dict(_first(node.get("StoreInfos")))
        vid, host, session_key = node.get("Vid"), node.get("UploadHost"), node.get("SessionKey")
        store_uri, auth = store.get("StoreUri"), store.get("Auth")
        if not (vid and host and session_key and store_uri and auth):
            raise _Fault("VOD ApplyUploadInner returned an incomplete upload node", transient=True)

        await self.images._put_bytes(str(host), str(store_uri), str(auth), data, web_headers)

        body = json.dumps({"SessionKey": session_key, "Functions": []}, separators=(",", ":")).encode()
        query = [("Action", VOD_ACTION_COMMIT), ("Version", VOD_VERSION), ("SpaceName", space)]
        signed = sigv4.sign(
            "POST",
            query,
            token.creds,
            region=info.aws_region,
            service=VOD_SERVICE,
            body=body,
            signed_headers=IMAGEX_SIGNED_HEADERS_POST,
        )
        headers = {**web_headers, **signed.headers, "content-type": VOD_COMMIT_CONTENT_TYPE}
        status, doc = await self._request("POST", query, headers, body, "commit")
        result = _openapi_result(doc, status, "VOD CommitUploadInner")
        first = _dict(_first(result.get("Results")))
        meta = _dict(first.get("VideoMeta"))
        committed = first.get("Vid") or vid
        return UploadedMedia(
            vid=str(committed),
            uri=str(meta.get("Uri") or store_uri),
            width=_int(meta.get("Width")),
            height=_int(meta.get("Height")),
        )

    async def _request(
        self, method: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes | None, step: str
    ) -> tuple[int, Any]:
        return await self.images._request(method, VOD_HOST, query, headers, body, step, service="VOD")
