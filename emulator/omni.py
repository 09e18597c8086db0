"""Seedance extras on generate (PROTOCOL.md §11.2–11.4, §11.6): omni-reference drafts (``unified_edit_input`` with
image, video and audio materials), frame interpolation (``scene: insert_frame``) and the Seedance 2.5 draft mode.

Checked the way the notes describe the real drafts: the draft's ``min_features``, every material uploaded by this
account (ImageX URI or VOD vid), ``meta_list`` pointing at existing materials of the same kind, the benefit type for
the mix of inputs and the model, and for interpolation a source that exists on this account. Where upstream's own
refusal is not known the emulator answers ``invalid_ret`` (each such guess is marked below).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import EmulatorBase
from .records import FakeAccount, FakeJob, Reject, is_int
from .tables import VIDEO_ASPECTS, video_size

OMNI_FEATURE = "AIGC_Video_UnifiedEdit"
SEEDANCE25_FEATURE = "AIGC_Video_Seedance25ResultAction"
INTERPOLATE_BENEFIT = "video_frame_interpolation"
INTERPOLATE_MODEL = "dreamina_seedance_40_mini"
# Benefit types per omni model: (without a reference video, with one). 2.0 / 2.0 Fast: WWZ/FRAN ``_with_video`` and
# IPTAG's names; the 4.x mini/vision keys keep their text-to-video type (AICF capture). PROTOCOL.md §11.6.
OMNI_BENEFITS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "dreamina_seedance_40_pro": (
        frozenset({"dreamina_video_seedance_20_pro", "dreamina_video_seedance_20_video_add"}),
        frozenset({"dreamina_video_seedance_20_pro_with_video", "dreamina_video_seedance_20_video_add"}),
    ),
    "dreamina_seedance_40": (
        frozenset({"dreamina_seedance_20_fast", "dreamina_seedance_20_fast_with_video"}),
        frozenset({"dreamina_seedance_20_fast_with_video"}),
    ),
    "dreamina_seedance_40_mini": (frozenset({"seedance_20_mini_720p_output_5s"}),) * 2,
    "dreamina_seedance_40_vision": (frozenset({"dreamina_seedance_20_fast_5s", "seedance_20_fast_720p_output"}),) * 2,
    "dreamina_seedance_40_pro_vision": (frozenset({"seedance_20_pro_720p_output", "seedance_20_pro_1080p_output"}),)
    * 2,
}
LIMITS = {"image": 9, "video": 3, "audio": 3, "total": 12, "video_ms_total": 15_000}


def item_vid(token: str) -> str:
    """The ``video.video_id`` the history shows for a video item (emulator/jobs.py ``_item``)."""
    return "v0" + hashlib.sha256(token.encode()).hexdigest()[:28]


class OmniMixin(EmulatorBase):
    uploaded_images: dict[str, dict]
    uploaded_vids: dict[str, dict]
    _jobs_by_history: dict[str, FakeJob]

    def _video_extra(self, acct: FakeAccount, comp: dict, extend: dict, draft: dict) -> dict[str, Any] | None:
        """A parsed spec for an interpolation or omni draft; None for the other drafts (after the 2.5 checks)."""
        abilities = comp.get("abilities")
        if comp.get("type") != "video_base_component" or not isinstance(abilities, dict):
            return None
        gv = abilities.get("gen_video")
        if not isinstance(gv, dict):
            return None
        t2v = gv.get("text_to_video_params")
        inputs = t2v.get("video_gen_inputs") if isinstance(t2v, dict) else None
        inp = inputs[0] if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) else None
        if inp is None:
            return None
        features = draft.get("min_features") if isinstance(draft.get("min_features"), list) else []
        if gv.get("scene") == "insert_frame":
            return self._interpolation(acct, comp, gv, inp, extend, draft)
        if extend.get("root_model") == "dreamina_seedance_45_pro_draft" and (
            SEEDANCE25_FEATURE not in features
            or inp.get("is_draft_mode") is not True
            or inp.get("resolution") != "480p"
        ):
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): a 2.5 draft without its marks
        if "unified_edit_input" in inp:
            if OMNI_FEATURE not in features:
                raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): omni without the feature
            return self._omni(acct, inp, t2v, extend)
        return None

    # ------------------------------------------------------------------ omni

    def _material_ms(self, acct: FakeAccount, mat: Any) -> tuple[str, int, str | None]:
        """(kind, length in ms, image uri) of one material, or Reject when it is malformed or not this account's."""
        if not isinstance(mat, dict) or mat.get("material_type") not in ("image", "video", "audio"):
            raise Reject("1000")
        kind = mat["material_type"]
        info = mat.get(f"{kind}_info")
        if not isinstance(info, dict):
            raise Reject("1000")
        if kind == "image":
            uri = info.get("image_uri") or info.get("uri")
            up = self.uploaded_images.get(uri) if isinstance(uri, str) else None
            if up is None or up["sessionid"] != acct.sessionid:
                raise Reject("1000")
            return kind, 0, uri
        vid = self.uploaded_vids.get(info.get("vid")) if isinstance(info.get("vid"), str) else None
        if vid is None or vid["sessionid"] != acct.sessionid or not is_int(info.get("duration")):
            raise Reject("1000")
        return kind, int(info["duration"]), None

    def _omni(self, acct: FakeAccount, inp: dict, t2v: Any, extend: dict) -> dict[str, Any]:
        root = extend["root_model"]
        if root not in OMNI_BENEFITS or not isinstance(t2v, dict) or t2v.get("model_req_key") != root:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): omni on a model without it
        uei = inp["unified_edit_input"]
        mats = uei.get("material_list") if isinstance(uei, dict) else None
        metas = uei.get("meta_list") if isinstance(uei, dict) else None
        if not isinstance(mats, list) or not mats or not isinstance(metas, list):
            raise Reject("1000")
        parsed = [self._material_ms(acct, m) for m in mats]
        kinds = [k for k, _, _ in parsed]
        over = len(kinds) > LIMITS["total"] or any(kinds.count(k) > LIMITS[k] for k in ("image", "video", "audio"))
        video_ms = sum(ms for k, ms, _ in parsed if k == "video")
        if self.switches.omni_limits and (over or video_ms > LIMITS["video_ms_total"]):
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: omni_limits): the web app's limits, enforced
        for meta in metas:
            if not isinstance(meta, dict) or meta.get("meta_type") not in ("text", *kinds):
                raise Reject("1000")
            if meta["meta_type"] != "text":
                ref = meta.get("material_ref")
                idx = ref.get("material_idx") if isinstance(ref, dict) else None
                if not is_int(idx) or not 0 <= idx < len(kinds) or kinds[idx] != meta["meta_type"]:
                    raise Reject("1000")
        dur = inp.get("duration_ms")
        if not is_int(dur) or not 1000 <= dur <= 60000:
            raise Reject("1000")
        mvci = extend.get("m_video_commerce_info")
        benefit = mvci.get("benefit_type") if isinstance(mvci, dict) else None
        allowed = OMNI_BENEFITS[root][1 if video_ms else 0]
        listed = extend.get("m_video_commerce_info_list") or []
        if benefit not in allowed or any(not isinstance(x, dict) or x.get("benefit_type") != benefit for x in listed):
            raise Reject("5001")
        amount = mvci.get("amount") if isinstance(mvci, dict) else None
        wrong = amount is not None and abs(float(amount) - (dur + video_ms) / 1000) > 0.05
        if self.switches.omni_limits and wrong:
            raise Reject("5001")  # INVENTED (switch: omni_limits): amount ≠ output + input-video seconds is refused
        resolution = inp.get("resolution") or "720p"
        aspect = VIDEO_ASPECTS.get(str(t2v.get("video_aspect_ratio") or "16:9"), (16, 9))
        first = next((self.uploaded_images[u] for _, _, u in parsed if u), None)
        if first and first["width"] and first["height"]:  # like a first frame: the output follows the image
            aspect = min(VIDEO_ASPECTS.values(), key=lambda a: abs(a[0] / a[1] - first["width"] / first["height"]))
        w, h = video_size(resolution, aspect)
        return {
            "kind": "video",
            "model_key": root,
            "width": w,
            "height": h,
            "count": 1,
            "price": 10,
            "prompt": " ".join(str(m.get("text", "")) for m in metas if m.get("meta_type") == "text"),
            "resolution": resolution,
            "image_ratio": None,
            "references": [u for _, _, u in parsed if u],
            "benefit_type": benefit,
            "video_ms": dur,
        }

    # ------------------------------------------------------------------ frame interpolation

    def _interpolation(
        self, acct: FakeAccount, comp: dict, gv: dict, inp: dict, extend: dict, draft: dict
    ) -> dict[str, Any]:
        mvci = extend.get("m_video_commerce_info")
        if not isinstance(mvci, dict) or mvci.get("benefit_type") != INTERPOLATE_BENEFIT:
            raise Reject("5001")
        if extend.get("root_model") != INTERPOLATE_MODEL or comp.get("process_type") != 3:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): not the captured shape
        v2v = inp.get("v2v_opt")
        frame = v2v.get("insert_frame") if isinstance(v2v, dict) else None
        if not isinstance(frame, dict) or frame.get("enable") is not True or not is_int(frame.get("target_fps")):
            raise Reject("1000")
        ref = gv.get("video_ref_params")
        if isinstance(ref, dict):
            source = self._jobs_by_history.get(str(ref.get("origin_history_id")))
            comps = draft.get("component_list") or []
            parent_ok = any(
                isinstance(c, dict) and c.get("id") == comp.get("parent_id") for c in comps if c is not comp
            )
            if (
                source is None
                or source.sessionid != acct.sessionid
                or str(ref.get("item_id")) not in source.item_ids
                or not parent_ok
                or str(inp.get("origin_history_id")) != source.history_id
            ):
                raise Reject("1000")
            index = source.item_ids.index(str(ref.get("item_id")))
            if inp.get("vid") and inp["vid"] != item_vid(source.tokens[index]):  # the item's own video_id, if sent
                raise Reject("1000")
            w, h, ms = source.width, source.height, source.video_ms
        else:
            vid = self.uploaded_vids.get(inp.get("vid")) if isinstance(inp.get("vid"), str) else None
            if vid is None or vid["sessionid"] != acct.sessionid:
                raise Reject("1000")
            w, h, ms = vid.get("width") or 1280, vid.get("height") or 720, round(float(vid.get("duration") or 5) * 1000)
        return {
            "kind": "video",
            "model_key": INTERPOLATE_MODEL,
            "width": w,
            "height": h,
            "count": 1,
            "price": 0,  # free tier (PROTOCOL.md §11.3)
            "prompt": str(inp.get("prompt", "")),
            "resolution": str(inp.get("resolution") or "720p"),
            "image_ratio": None,
            "references": [],
            "benefit_type": INTERPOLATE_BENEFIT,
            "video_ms": ms,
        }
