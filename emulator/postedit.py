"""Post-edit tools on images (PROTOCOL.md §11.1): upscale ``normal_hd``, smart upscale ``pro_hd``, outpaint ``painting``
and detail repair ``super_resolution`` — generate calls whose image component names the tool.

Checked as the notes describe the real drafts: the component's ``generate_type`` names an ability present under
``abilities``; that ability carries a ``postedit_param`` whose ``generate_type`` is the tool's code (13/35/8/2); the
component's ``gen_type`` (when sent) agrees; the source is an item of this account (``item_id`` +
``origin_history_id``, numbers) or an uploaded ``origin_image``; detail repair carries ``core_param``; outpaint carries
``up_scale`` extents. What upstream answers to a malformed post-edit draft is not known: those refusals answer the
``invalid_ret`` switch's code; the ones upstream may not make at all are behind ``postedit_strict``.
"""

from __future__ import annotations

import logging
from typing import Any

from .base import EmulatorBase
from .records import FakeAccount, FakeJob, Reject, is_int

log = logging.getLogger("emulator")

# component generate_type → (component gen_type, postedit_param.generate_type) — PROTOCOL.md §11.1
POSTEDIT: dict[str, tuple[int | None, int]] = {
    "normal_hd": (13, 13),
    "pro_hd": (35, 35),
    "painting": (8, 8),
    "super_resolution": (None, 2),
}
# AICF's ledger; painting was not measured: 1 per image like the emulator's other images (PROTOCOL.md §12.2)
PRICES = {"normal_hd": 0, "pro_hd": 1, "painting": 1, "super_resolution": 0}
PAINTING_DEFAULT_COUNT = 4  # gen_count absent → 4 (PROTOCOL.md §11.1)
PRO_HD_EDGE = 2160  # 2048² → 2160² (AICF); other shapes: the long edge becomes this (read from that one capture)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class PosteditMixin(EmulatorBase):
    uploaded_images: dict[str, dict]
    _jobs_by_history: dict[str, FakeJob]

    def _bad_postedit(self, why: str) -> Reject:
        log.info("post-edit draft refused: %s", why)
        return Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): real codes unknown

    def _postedit_source(self, acct: FakeAccount, param: dict) -> tuple[int, int, str | None, str | None]:
        """(width, height, upload uri, origin history id) of the source image."""
        item, hist, image = param.get("item_id"), param.get("origin_history_id"), param.get("origin_image")
        if item is not None or hist is not None:
            if not (is_int(item) and is_int(hist)):
                raise self._bad_postedit("item_id / origin_history_id must be numbers")
            origin = self._jobs_by_history.get(str(hist))
            if origin is None or str(item) not in origin.item_ids:
                raise self._bad_postedit("no such item")
            if origin.sessionid != acct.sessionid and self.switches.postedit_strict:
                # INVENTED (switch: postedit_strict): another account's item is refused
                raise self._bad_postedit("the item is not one of this account's results")
            return origin.width, origin.height, None, origin.history_id
        if not isinstance(image, dict):
            raise self._bad_postedit("no source: neither item_id + origin_history_id nor origin_image")
        uri = image.get("image_uri") or image.get("uri")
        if not isinstance(uri, str) or uri not in self.uploaded_images:
            raise Reject("1000")
        up = self.uploaded_images[uri]
        if up.get("sessionid") not in (None, acct.sessionid):
            raise Reject("1000")
        return int(up["width"] or 0), int(up["height"] or 0), uri, None

    def _parse_postedit(self, acct: FakeAccount, comp: dict, abilities: dict, root_model: str) -> dict:
        gtype = str(comp.get("generate_type"))
        gen_type, code = POSTEDIT[gtype]
        if not acct.is_cn and self.switches.postedit_strict:
            # INVENTED (switch: postedit_strict): every capture is CN; the international sites are refused
            raise self._bad_postedit("post-edit tools are only known on the Chinese site")
        ability = abilities.get(gtype)
        if not isinstance(ability, dict):
            raise Reject("1001")
        if "gen_type" in comp and comp["gen_type"] != gen_type and gen_type is not None:
            raise self._bad_postedit(f"component gen_type {comp['gen_type']!r} for {gtype}")
        param = ability.get("postedit_param")
        if not isinstance(param, dict) or param.get("generate_type") != code:
            raise self._bad_postedit(f"postedit_param.generate_type must be {code} for {gtype}")
        if not isinstance(comp.get("metadata"), dict) and self.switches.postedit_strict:
            # INVENTED (switch: postedit_strict): the captures carry metadata; whether upstream requires it is unknown
            raise self._bad_postedit("a post-edit component carries metadata")
        width, height, uri, origin = self._postedit_source(acct, param)
        count = 1
        if gtype == "super_resolution":
            core = ability.get("core_param")
            if not isinstance(core, dict) or core.get("generate_type") != 0:
                raise self._bad_postedit("detail repair needs core_param {generate_type: 0}")
        elif gtype == "pro_hd":
            scale = PRO_HD_EDGE / max(width, height, 1)
            width, height = round(width * scale), round(height * scale)
        elif gtype == "normal_hd":
            width, height = width * 2, height * 2
        else:
            width, height, count = self._painting(ability, abilities, width, height)
        return {
            "kind": "postedit",
            "model_key": root_model,
            "width": max(1, width),
            "height": max(1, height),
            "count": count,
            "price": PRICES[gtype] * count,
            "prompt": str((ability.get("core_param") or {}).get("prompt", "")),
            "resolution": "2k",
            "image_ratio": None,
            "references": [uri] if uri else [],
            "benefit_type": None,
            "video_ms": 0,
            # INVENTED (switch: postedit_record_type): the record's generate_type of a post-edit job was not captured
            "generate_type": code if self.switches.postedit_record_type else 1,
            "origin_history_id": origin,
            # PROTOCOL.md §11.1: detail repair of an upload was accepted, then failed with status 30 (twice).
            "outcome": ("fail", 30, "") if gtype == "super_resolution" and uri else None,
        }

    def _painting(self, ability: dict, abilities: dict, width: int, height: int) -> tuple[int, int, int]:
        up = ability.get("up_scale")
        if not isinstance(up, dict):
            raise self._bad_postedit("outpaint needs up_scale")
        sides = [up.get(k) for k in ("top", "bottom", "left", "right")]
        if not all(_num(v) and 0 <= v <= 4 for v in sides) or not any(sides):
            raise self._bad_postedit("up_scale top/bottom/left/right must be numbers ≥ 0, one of them > 0")
        if not is_int(up.get("max_size")) or not is_int(up.get("image_ratio")):
            raise self._bad_postedit("up_scale needs max_size and image_ratio")
        top, bottom, left, right = sides
        w, h = width * (1 + left + right), height * (1 + top + bottom)
        if max(w, h) > up["max_size"]:
            raise self._bad_postedit("the outpainted canvas is larger than max_size")
        edge = self.switches.outpaint_max_edge  # INVENTED (switch: outpaint_max_edge): 2.8× of 2048² came back 4000²
        shrink = min(1.0, edge / max(w, h, 1)) if edge > 0 else 1.0
        option = abilities.get("gen_option") if isinstance(abilities.get("gen_option"), dict) else {}
        count = option.get("gen_count", PAINTING_DEFAULT_COUNT)
        if not (is_int(count) and 1 <= count <= 8):
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): gen_count out of 1..8
        return round(w * shrink), round(h * shrink), count
