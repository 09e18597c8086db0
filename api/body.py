"""Reading request bodies: lenient JSON or multipart, within the configured limits."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from api import lenient_json
from api.errors import ApiError, bad_request
from api.keys import SETTINGS
from api.settings import JSON_THREAD_BYTES

_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


@dataclass(slots=True)
class UploadedFile:
    name: str
    data: bytes = field(repr=False)
    filename: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class Form:
    """Fields as a JSON-like dict (``a[]`` and repeated names become lists, ``a[b]`` nests), files by field name."""

    fields: dict[str, Any]
    files: dict[str, list[UploadedFile]]

    def pop_files(self, *names: str) -> list[UploadedFile]:
        out: list[UploadedFile] = []
        for name in names:
            out.extend(self.files.pop(name, []))
        return out


def is_multipart(request: web.Request) -> bool:
    return request.content_type.startswith("multipart/")


def _check_multipart(request: web.Request) -> None:
    if request.content_type != "multipart/form-data":
        raise ApiError(
            415,
            f"'{request.content_type}' is not accepted: send multipart/form-data or JSON",
            param="Content-Type",
            code="unsupported_media_type",
        )
    if not parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary"):
        raise bad_request(
            "the multipart body has no boundary in its Content-Type", param="Content-Type", code="invalid_multipart"
        )


def _unreadable(request: web.Request, exc: Exception) -> ApiError:
    """A body the transport could not deliver: a false ``Content-Encoding``, a truncated or broken stream. The rest
    of it is dropped (aiohttp would otherwise read it again after the answer and log the parser's error as its own)
    and the connection closes after the answer."""
    request.content.feed_eof()
    cause = exc.__cause__ or exc
    if isinstance(cause, ContentEncodingError) or "content-encoding" in str(exc).lower():
        message, param = "the body could not be decoded as its Content-Encoding says", "Content-Encoding"
    else:
        message, param = "the request body could not be read (truncated or malformed)", None
    return ApiError(400, message, param=param, code="invalid_body", close=True)


async def read_json(request: web.Request) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    try:
        raw = await request.read()  # client_max_size → 413
    except (RequestPayloadError, HttpProcessingError) as exc:
        raise _unreadable(request, exc) from None
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    repairable = len(raw) <= settings.lenient_json_bytes
    try:
        if len(raw) > JSON_THREAD_BYTES:  # parsing (and repairing) a big body must not hold the event loop
            data = await asyncio.to_thread(lenient_json.loads, raw, allow_repair=repairable)
        else:
            data = lenient_json.loads(raw, allow_repair=repairable)
    except lenient_json.LenientJSONError as err:
        hint = "" if repairable else f" (bodies over {settings.lenient_json_kb:g} KB must be strict JSON)"
        raise bad_request(f"the body is not valid JSON: {err}{hint}", code="invalid_json") from None
    find_bad_text(data)
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", code="invalid_json")
    return data


def find_bad_text(value: Any, param: str | None = None) -> None:
    """Refuse a lone surrogate anywhere in parsed JSON (``"\\ud800"``: valid JSON, not text), naming the top-level
    field. Iterative, so any depth the parser accepted is fine."""
    stack: list[tuple[Any, str | None]] = [(value, param)]
    while stack:
        item, name = stack.pop()
        if isinstance(item, str):
            _check_text(item, name)
        elif isinstance(item, dict):
            for key, sub in item.items():
                _check_text(key, name or key)
                stack.append((sub, name or key))
        elif isinstance(item, list):
            stack.extend((sub, name) for sub in item)


def _check_text(text: str, param: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        where = f"'{param}'" if param else "the body"
        raise bad_request(f"{where} contains a lone surrogate (not valid Unicode text)", param=param) from None


def _put(fields: dict[str, Any], name: str, value: Any) -> None:
    m = _BRACKETS.match(name)
    if not m or not m.group(2):
        if name in fields:
            prev = fields[name]
            fields[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            fields[name] = value
        return
    base, rest = m.group(1), m.group(2)
    keys = re.findall(r"\[([^\[\]]*)\]", rest)
    target: dict[str, Any] = fields
    path = [base, *keys]
    for i, key in enumerate(path[:-1]):
        nxt = path[i + 1]
        if nxt == "":
            target.setdefault(key, [])
            if isinstance(target[key], list):
                target[key].append(value)
            return
        node = target.get(key)
        if not isinstance(node, dict):
            node = {}
            target[key] = node
        target = node
    _put(target, path[-1], value)


async def read_form(request: web.Request) -> Form:
    _check_multipart(request)
    try:
        return await _read_form(request)
    except (RequestPayloadError, HttpProcessingError) as exc:
        raise _unreadable(request, exc) from None
    except (ValueError, AssertionError, LookupError) as exc:  # aiohttp's multipart reader on a malformed body
        raise bad_request(
            f"the multipart body is malformed: {str(exc)[:120]}", param="Content-Type", code="invalid_multipart"
        ) from None


async def _read_form(request: web.Request) -> Form:
    settings = request.app[SETTINGS]
    total = 0
    fields: dict[str, Any] = {}
    files: dict[str, list[UploadedFile]] = {}
    count = 0
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise bad_request("nested multipart bodies are not supported", code="invalid_multipart")
        name = part.name or ""
        if part.filename is not None:
            count += 1
            if count > settings.max_files:
                raise bad_request(f"too many files: at most {settings.max_files}", param=name, code="too_many_files")
            buf = bytearray()
            while chunk := await part.read_chunk(1 << 16):
                buf += chunk
                total += len(chunk)
                if len(buf) > settings.max_file_bytes:
                    raise ApiError(
                        413,
                        f"the file '{name}' is larger than {settings.max_file_mb:g} MB",
                        param=name,
                        code="file_too_large",
                    )
                if total > settings.max_body_bytes:
                    raise ApiError(413, "the request body is too large", code="request_too_large")
            key = name[:-2] if name.endswith("[]") else name
            files.setdefault(key, []).append(
                UploadedFile(key, bytes(buf), part.filename, part.headers.get("Content-Type"))
            )
        else:
            raw = await part.read(decode=True)
            total += len(raw)
            if total > settings.max_body_bytes:
                raise ApiError(413, "the request body is too large", code="request_too_large")
            charset = part.get_charset(default="utf-8")
            try:
                value = raw.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise bad_request(f"the field '{name}' is not valid text", param=name) from None
            _check_text(value, name)
            _put(fields, name, value)
    return Form(fields, files)


async def read_input(request: web.Request) -> Form:
    """JSON or multipart into one shape (JSON bodies have no files)."""
    if is_multipart(request):
        return await read_form(request)
    return Form(await read_json(request), {})
