"""Reading request bodies: lenient JSON or multipart, within the configured limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from api import lenient_json
from api.errors import ApiError, bad_request
from api.keys import SETTINGS

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


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # client_max_size → 413
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    try:
        data = lenient_json.loads(raw)
    except lenient_json.LenientJSONError as err:
        raise bad_request(f"the body is not valid JSON: {err}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", code="invalid_json")
    return data


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
            _put(fields, name, value)
    return Form(fields, files)


async def read_input(request: web.Request) -> Form:
    """JSON or multipart into one shape (JSON bodies have no files)."""
    if is_multipart(request):
        return await read_form(request)
    return Form(await read_json(request), {})
