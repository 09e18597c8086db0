"""Reading history records (PROTOCOL.md §8.2–8.3, §9): status, progress, queue, and result items (images and videos)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.wire import TaskStatus


@dataclass(frozen=True, slots=True)
class Asset:
    """One result file. ``url`` is upstream's signed URL (it expires); ``path`` is a local copy when the store keeps one."""

    kind: Literal["image", "video"]
    url: str
    width: int = 0
    height: int = 0
    format: str = ""
    duration_s: float | None = None
    cover_url: str | None = None
    item_id: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Asset:
        known: dict[str, Any] = {k: d[k] for k in cls.__slots__ if k in d}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class RecordView:
    status: int
    history_id: str | None = None
    finished: int = 0
    total: int = 0
    assets: tuple[Asset, ...] = ()
    queue_position: int | None = None
    queue_length: int | None = None
    queue_eta_s: float | None = None
    fail_code: str | None = None
    fail_message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _fix_url(url: str) -> str:
    return url.replace("\\u0026", "&")


def _image_asset(item: dict[str, Any]) -> Asset | None:
    common = _dict(item.get("common_attr"))
    image = _dict(item.get("image"))
    large = _list(image.get("large_images"))
    if large and isinstance(large[0], dict) and large[0].get("image_url"):
        big = large[0]
        return Asset(
            kind="image",
            url=_fix_url(str(big["image_url"])),
            width=_int(big.get("width")),
            height=_int(big.get("height")),
            format=str(big.get("format") or image.get("format") or ""),
            item_id=str(common.get("id")) if common.get("id") else None,
        )
    urls = common.get("item_urls")
    fallback = urls[0] if isinstance(urls, list) and urls else common.get("cover_url")
    if fallback:
        return Asset(
            kind="image", url=_fix_url(str(fallback)), item_id=str(common.get("id")) if common.get("id") else None
        )
    return None


def video_url(item: dict[str, Any]) -> tuple[str | None, int, int]:
    """Pick the best video URL of an item (AICF → IPTAG priority, PROTOCOL.md §9.2). Returns (url, width, height)."""
    common = _dict(item.get("common_attr"))
    video = _dict(item.get("video"))
    renditions = _dict(video.get("transcoded_video"))
    best: tuple[str | None, int, int] = (None, 0, 0)
    for rend in renditions.values():
        if isinstance(rend, dict) and rend.get("video_url") and _int(rend.get("width")) > best[1]:
            best = (str(rend["video_url"]), _int(rend.get("width")), _int(rend.get("height")))
    if best[0]:
        return _fix_url(best[0]), best[1], best[2]
    candidates: list[Any] = [
        _dict(_dict(common.get("transcoded_video")).get("origin")).get("video_url"),
        _dict(renditions.get("origin")).get("video_url"),
        video.get("play_url"),
        video.get("download_url"),
        video.get("url"),
    ]
    for c in candidates:
        if isinstance(c, str) and c:
            return _fix_url(c), 0, 0
    return None, 0, 0


def _video_asset(item: dict[str, Any]) -> Asset | None:
    url, width, height = video_url(item)
    if not url:
        return None
    common = _dict(item.get("common_attr"))
    video = _dict(item.get("video"))
    duration_ms = _int(video.get("duration_ms"), 0)
    return Asset(
        kind="video",
        url=url,
        width=width,
        height=height,
        format="mp4",
        duration_s=duration_ms / 1000 if duration_ms else None,
        cover_url=_fix_url(str(common["cover_url"])) if common.get("cover_url") else None,
        item_id=str(common.get("id")) if common.get("id") else None,
    )


def item_id(item: dict[str, Any]) -> str | None:
    common = _dict(item.get("common_attr"))
    for v in (item.get("item_id"), item.get("id"), item.get("local_item_id"), common.get("id")):
        if v:
            return str(v)
    return None


def parse_record(record: Any, kind: Literal["image", "video"]) -> RecordView:
    if not isinstance(record, dict):
        return RecordView(status=TaskStatus.INIT)
    task = _dict(record.get("task"))
    status = _int(task.get("status"), _int(record.get("status"), TaskStatus.INIT))
    items = _list(record.get("item_list"))
    assets: list[Asset] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        asset = _video_asset(item) if kind == "video" else _image_asset(item)
        if asset is not None:
            assets.append(asset)
    total = _int(record.get("total_image_count"))
    finished = _int(record.get("finished_image_count"))
    queue = _dict(record.get("queue_info"))
    fail_code = str(record.get("fail_code") or task.get("fail_code") or "") or None
    fail_message = record.get("fail_starling_message") or record.get("fail_msg") or None
    queue_cost = record.get("forecast_queue_cost")
    history_id = record.get("history_record_id") or task.get("history_id")
    return RecordView(
        status=status,
        history_id=str(history_id) if history_id else None,
        finished=max(finished, len(assets)),
        total=total if kind == "image" else 1,
        assets=tuple(assets),
        queue_position=_int(queue.get("queue_idx"), 0) if queue else None,
        queue_length=_int(queue.get("queue_length"), 0) if queue else None,
        queue_eta_s=float(queue_cost) if isinstance(queue_cost, int | float) and queue_cost > 0 else None,
        fail_code=fail_code,
        fail_message=str(fail_message) if fail_message else None,
    )


def download_renditions(data: Any) -> dict[str, str]:
    """``get_local_item_list`` reply → {item id: URL of the rendition the web app's own download uses} (PROTOCOL.md §9.2).

    Priority (IPTAG): the download rendition first (``common_attr`` / ``video`` → ``transcoded_video.origin``), then the
    history item's own ``download_url`` / ``play_url`` / ``url``. Items without an http(s) URL are left out."""
    reply = _dict(data)
    found: dict[str, str] = {}
    for item in _list(reply.get("item_list") or reply.get("local_item_list")):
        if not isinstance(item, dict) or not (iid := item_id(item)):
            continue
        video = _dict(item.get("video"))
        candidates = (
            _origin_url(item.get("common_attr")),
            _origin_url(video),
            video.get("download_url"),
            video.get("play_url"),
            video.get("url"),
        )
        url = next((u for u in candidates if isinstance(u, str) and u.startswith(("http://", "https://"))), None)
        if url:
            found[iid] = _fix_url(url)
    return found


def _origin_url(node: Any) -> Any:
    return _dict(_dict(_dict(node).get("transcoded_video")).get("origin")).get("video_url")
