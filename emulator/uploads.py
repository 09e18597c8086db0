"""Uploads (PROTOCOL.md §4.1–4.3): the STS token, ImageX (images) and VOD (videos) Apply/Commit with SigV4 verification, the
upload nodes (CRC32-checked bytes), and the endpoints that read uploaded images back (``get_image_by_uri``,
``algo_proxy``). ``upload_faults`` injects one-shot faults: ``apply_*``, ``upload_500``, ``crc_mismatch``,
``commit_*``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import string
import time
import zlib
from typing import Any

from aiohttp import web

from .cdn import CdnMixin
from .media import image_info, probe_mp4
from .records import Asset, Store, Sts, dumps
from .signing import SigError, verify_sigv4
from .tables import SIGV4_REGION, SPACE_CN, SPACE_INTL


class UploadsMixin(CdnMixin):
    upload_faults: list[str]
    uploaded_images: dict[str, dict]  # uri -> {sessionid,width,height,format,size,md5,token}
    uploaded_vids: dict[str, dict]  # vid -> {sessionid,uri,width,height,duration,size}
    _sts: dict[str, Sts]
    _stores: dict[str, Store]
    _sessions: dict[str, str]

    async def _upload_token(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        if not isinstance(body, dict) or body.get("scene") not in (1, 2):
            return self._mweb(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): peers always send scene
        ak = "AKTP" + self._alnum(44)
        secret = self._alnum(40)
        expires = int(time.time()) + 3600
        token_doc = {
            "LTAccessKeyID": "AKLT" + self._alnum(40),
            "AccessKeyID": ak,
            "SignedSecretAccessKey": self._alnum(40),
            "ExpiredTime": expires,
            "PolicyString": '{"Statement":[{"Effect":"Allow","Action":["ImageX:*","vod:*"],"Resource":["*"]}]}',
        }
        session_token = "STS2" + base64.b64encode(dumps(token_doc).encode()).decode()
        self._sts[ak] = Sts(ak, secret, session_token, acct.sessionid, acct.region, expires)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        return self._mweb(
            "0",
            {
                "access_key_id": ak,
                "secret_access_key": secret,
                "session_token": session_token,
                "service_id": acct.space,
                "space_name": acct.space,
                "upload_domain": host,
                "expired_time": expires,
            },
        )

    def _take_fault(self, step: str) -> str | None:
        for i, f in enumerate(self.upload_faults):
            if f.startswith(step + "_") or (step == "upload" and f == "crc_mismatch"):
                return self.upload_faults.pop(i)
        return None

    def _openapi_error(
        self, request: web.Request, status: int, code_n: int, code: str, message: str, *, invented: bool = False
    ) -> web.Response:
        action = request.query.get("Action", "")
        vod = action in ("ApplyUploadInner", "CommitUploadInner")
        error: dict[str, Any] = {"CodeN": code_n, "Code": code, "Message": message}
        if invented and self.switches.upload_errors == "bare":  # INVENTED (switch: upload_errors): the CodeN
            del error["CodeN"]
        body = {
            "ResponseMetadata": {
                "RequestId": self._logid(),
                "Action": action,
                "Version": request.query.get("Version", "2020-11-19" if vod else "2018-08-01"),
                "Service": "vod" if vod else "imagex",
                "Region": "cn-north-1",
                "Error": error,
            }
        }
        return web.json_response(body, status=status)

    def _invalid(self, request: web.Request, message: str) -> web.Response:
        # INVENTED (switch: upload_errors): the CodeN of an invalid parameter
        return self._openapi_error(request, 400, 100004, "InvalidParameter", message, invented=True)

    def _node_error(self, status: int, code: int, message: str) -> web.Response:
        if self.switches.upload_errors == "bare":
            return web.Response(status=status, text=message)
        # INVENTED (switch: upload_errors): the body of an upload node's refusal
        return web.json_response({"code": code, "message": message}, status=status)

    def _openapi_ok(self, request: web.Request, result: dict, sts: Sts) -> web.Response:
        action = request.query.get("Action", "")
        vod = action in ("ApplyUploadInner", "CommitUploadInner")
        rid = self._logid()
        return web.json_response(
            {
                "ResponseMetadata": {
                    "RequestId": rid,
                    "Action": action,
                    "Version": request.query.get("Version", ""),
                    "Service": "vod" if vod else "imagex",
                    "Region": SIGV4_REGION[sts.region],
                },
                "Result": {**result, "RequestId": rid},
            }
        )

    def _verify(self, request: web.Request, body: bytes, service: str) -> Sts | web.Response:
        res = verify_sigv4(request, body, service, self._sts)
        if isinstance(res, SigError):
            return self._openapi_error(request, res.status, res.code_n, res.code, res.message, invented=res.invented)
        return res

    async def _root(self, request: web.Request) -> web.Response:
        action = request.query.get("Action")
        handlers = {
            ("GET", "ApplyImageUpload"): self._apply_image,
            ("POST", "CommitImageUpload"): self._commit_image,
            ("GET", "ApplyUploadInner"): self._apply_vod,
            ("POST", "CommitUploadInner"): self._commit_vod,
        }
        handler = handlers.get((request.method, action or ""))
        if handler is None:
            return await self._not_found(request)
        return await handler(request)

    def _new_store(self, request: web.Request, sts: Sts, kind: str, size: int) -> Store:
        space = SPACE_CN if sts.region == "cn" else SPACE_INTL
        if kind == "image":
            prefix = f"tos-cn-i-{space}" if sts.region == "cn" else f"tos-alisg-i-{space}-sg"
        else:
            prefix = f"tos-cn-v-{space}" if sts.region == "cn" else f"tos-alisg-v-{space}-sg"
        uri = f"{prefix}/{self._hex(32)}"
        auth = f"SpaceKey/{space}/1/:version:v2:" + base64.b64encode(self._rng.randbytes(48)).decode()
        store = Store(kind, uri, auth, sts.sessionid, size, session_key="")
        self._stores[uri] = store
        return store

    def _check_size(self, request: web.Request) -> int | None:
        try:
            size = int(request.query.get("FileSize", ""))
        except ValueError:
            return None
        return size if size > 0 else None

    async def _apply_image(self, request: web.Request) -> web.Response:
        sts = self._verify(request, await request.read(), "imagex")
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("apply"):
            return self._openapi_error(
                request, 403, 100010, "SignatureDoesNotMatch", "injected fault: SignatureDoesNotMatch", invented=True
            )
        space = SPACE_CN if sts.region == "cn" else SPACE_INTL
        size = self._check_size(request)
        if request.query.get("ServiceId") != space or size is None:
            return self._invalid(request, "invalid ServiceId or FileSize")
        store = self._new_store(request, sts, "image", size)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        addr: dict[str, Any] = {
            "StoreInfos": [{"StoreUri": store.store_uri, "Auth": store.auth, "UploadID": self._hex(32)}],
            "UploadHosts": [host],
            "UploadHost": host,
        }
        store.session_key = base64.b64encode(dumps(addr).encode()).decode()
        addr["SessionKey"] = store.session_key
        self._sessions[store.session_key] = store.store_uri
        return self._openapi_ok(request, {"UploadAddress": addr}, sts)

    async def _apply_vod(self, request: web.Request) -> web.Response:
        sts = self._verify(request, await request.read(), "vod")
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("apply"):
            return self._openapi_error(
                request, 403, 100010, "SignatureDoesNotMatch", "injected fault: SignatureDoesNotMatch", invented=True
            )
        size = self._check_size(request)
        space_ok = request.query.get("SpaceName") in ("dreamina", SPACE_CN if sts.region == "cn" else SPACE_INTL)
        if not space_ok or size is None:
            return self._invalid(request, "invalid SpaceName or FileSize")
        store = self._new_store(request, sts, "vod", size)
        store.vid = "v0" + self._alnum(28, string.ascii_lowercase + string.digits)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        node: dict[str, Any] = {
            "Vid": store.vid,
            "UploadHost": host,
            "Type": "normal",
            "StoreInfos": [{"StoreUri": store.store_uri, "Auth": store.auth, "UploadID": self._hex(32)}],
        }
        store.session_key = base64.b64encode(dumps(node).encode()).decode()
        node["SessionKey"] = store.session_key
        self._sessions[store.session_key] = store.store_uri
        return self._openapi_ok(request, {"InnerUploadAddress": {"UploadNodes": [node]}}, sts)

    async def _upload_bytes(self, request: web.Request) -> web.Response:
        store = self._stores.get(request.match_info["store_uri"])
        if store is None:
            return self._node_error(404, 4004, "store uri not found")
        if request.headers.get("Authorization") != store.auth:
            return self._node_error(401, 4001, "auth failed")
        body = await request.read()
        fault = self._take_fault("upload")
        if fault == "upload_500":
            return web.json_response({"code": 5000, "message": "internal error (injected)"}, status=500)
        crc = f"{zlib.crc32(body) & 0xFFFFFFFF:08x}"
        sent = request.headers.get("Content-CRC32", "")
        if fault == "crc_mismatch" or not re.fullmatch(r"[0-9a-f]{8}", sent) or sent != crc:
            return self._node_error(400, 4003, "crc32 mismatch")
        if len(body) != store.file_size:
            return self._node_error(400, 4002, "file size mismatch")
        store.data = body
        return web.json_response({"code": 2000, "message": "Success", "data": {"crc32": crc}})

    async def _commit_store(self, request: web.Request, service: str) -> tuple[Sts, Store | None] | web.Response:
        body = await request.read()
        sts = self._verify(request, body, service)
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("commit"):
            return self._openapi_error(request, 500, 100001, "InternalError", "injected fault")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        key = doc.get("SessionKey") if isinstance(doc, dict) else None
        uri = self._sessions.get(key) if isinstance(key, str) else None
        store = self._stores.get(uri) if uri else None
        if store is None or store.sessionid != sts.sessionid:
            return self._invalid(request, "invalid SessionKey")
        return sts, store

    async def _commit_image(self, request: web.Request) -> web.Response:
        res = await self._commit_store(request, "imagex")
        if isinstance(res, web.Response):
            return res
        sts, store = res
        assert store is not None
        info = image_info(store.data) if store.data is not None else None
        if store.kind != "image" or store.data is None or info is None:
            return self._openapi_ok(request, {"Results": [{"Uri": store.store_uri, "UriStatus": 2001}]}, sts)
        width, height, fmt = info
        md5 = hashlib.md5(store.data).hexdigest()
        token = self._hex(32)
        self._assets[token] = Asset(
            "upload", width, height, token, data=store.data, content_type=f"image/{fmt or 'png'}"
        )
        store.committed = True
        self.uploaded_images[store.store_uri] = {
            "sessionid": store.sessionid,
            "width": width,
            "height": height,
            "format": fmt,
            "size": len(store.data),
            "md5": md5,
            "token": token,
        }
        plugin = {
            "FileName": store.store_uri.rsplit("/", 1)[-1],
            "SourceUri": store.store_uri,
            "ImageUri": store.store_uri,
            "ImageWidth": width,
            "ImageHeight": height,
            "ImageMd5": md5,
            "ImageFormat": fmt,
            "ImageSize": len(store.data),
            "FrameCnt": 1,
        }
        return self._openapi_ok(
            request, {"Results": [{"Uri": store.store_uri, "UriStatus": 2000}], "PluginResult": [plugin]}, sts
        )

    async def _commit_vod(self, request: web.Request) -> web.Response:
        res = await self._commit_store(request, "vod")
        if isinstance(res, web.Response):
            return res
        sts, store = res
        assert store is not None
        if store.kind != "vod" or store.data is None or store.vid is None:
            return self._invalid(request, "nothing uploaded")
        meta = probe_mp4(store.data) or {"width": 0, "height": 0, "duration": 0.0}
        store.committed = True
        self.uploaded_vids[store.vid] = {
            "sessionid": store.sessionid,
            "uri": store.store_uri,
            **meta,
            "size": len(store.data),
        }
        video_meta = {
            "Uri": store.store_uri,
            "Width": meta["width"],
            "Height": meta["height"],
            "Duration": meta["duration"],
            "Size": len(store.data),
            "Md5": hashlib.md5(store.data).hexdigest(),
            "Format": "mp4" if meta["width"] else "",
            "Codec": "h264" if meta["width"] else "",
            "Bitrate": int(len(store.data) * 8 / meta["duration"]) if meta["duration"] else 0,
            "Fps": 24 if meta["width"] else 0,
        }
        return self._openapi_ok(request, {"Results": [{"Vid": store.vid, "VideoMeta": video_meta}]}, sts)

    async def _image_by_uri(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        body = await self._json_body(request)
        uris = body.get("uris") if isinstance(body, dict) else None
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            return self._mweb("1000")
        out = {}
        for u in uris:
            info = self.uploaded_images.get(u)
            if info is not None:
                out[u] = {
                    "image_uri": u,
                    "image_url": self._cdn_url(f"/img/{info['token']}.webp"),
                    "width": info["width"],
                    "height": info["height"],
                    "format": info["format"],
                }
        return self._mweb("0", {"uri2image": out})

    async def _algo_proxy(self, request: web.Request) -> web.Response:
        if not self.switches.invented_payloads:  # INVENTED (switch: invented_payloads): the reply was never seen
            return await self._not_found(request)
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        body = await self._json_body(request)
        files = body.get("file_list") if isinstance(body, dict) else None
        if not isinstance(files, list):
            return self._mweb("1000")
        for f in files:
            if not isinstance(f, dict) or f.get("file_uri") not in self.uploaded_images:
                return self._mweb("1000")
        return self._mweb("0", {})
