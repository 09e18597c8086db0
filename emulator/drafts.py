"""Reading a submitted draft (PROTOCOL.md §5): the image, blend (composition) and video components, checked the way the
protocol notes say upstream checks them, priced (1 credit per image, 2 at 4k, 10 per video)."""

from __future__ import annotations

import logging
from typing import Any

from .postedit import POSTEDIT, PosteditMixin
from .records import FakeAccount, Reject, is_int
from .tables import IMAGE_MODELS, US_VIDEO, VIDEO_ASPECTS, VIDEO_MODELS, VIDEO_RESOLUTIONS, video_size

log = logging.getLogger("emulator")


class DraftsMixin(PosteditMixin):
    uploaded_images: dict[str, dict]
    uploaded_vids: dict[str, dict]

    def _check_uri(self, uri: Any) -> str:
        if not isinstance(uri, str) or uri not in self.uploaded_images:
            raise Reject("1000")
        return uri

    def _parse_component(self, acct: FakeAccount, comp: dict, extend: dict) -> dict:
        root_model = extend["root_model"]
        abilities = comp.get("abilities")
        if not isinstance(abilities, dict):
            raise Reject("1001")
        ctype = comp.get("type")
        if ctype == "image_base_component":
            return self._parse_image(acct, comp, abilities, root_model)
        if ctype == "video_base_component":
            return self._parse_video(acct, abilities, extend, root_model)
        raise Reject("1001")

    def _parse_image(self, acct: FakeAccount, comp: dict, abilities: dict, root_model: str) -> dict:
        gtype = comp.get("generate_type")
        refs: list[str] = []
        if gtype in POSTEDIT:  # upscale, outpaint, detail repair (PROTOCOL.md §11.1; emulator/postedit.py)
            return self._parse_postedit(acct, comp, abilities, root_model)
        if gtype == "generate" and isinstance(abilities.get("generate"), dict):
            kind, ability = "image", abilities["generate"]
        elif gtype == "blend" and isinstance(abilities.get("blend"), dict):
            kind, ability = "blend", abilities["blend"]
            ab_list = ability.get("ability_list")
            if not isinstance(ab_list, list) or not ab_list:
                raise Reject("1000")
            for ab in ab_list:
                if not isinstance(ab, dict):
                    raise Reject("1000")
                uris = list(ab.get("image_uri_list") or [])
                for img in ab.get("image_list") or []:
                    if not isinstance(img, dict):
                        raise Reject("1000")
                    uris.append(img.get("image_uri") or img.get("uri"))
                if not uris:
                    raise Reject("1000")
                for u in uris:
                    if self._check_uri(u) not in refs:
                        refs.append(u)
        else:
            raise Reject("1001")  # unknown abilities
        core = ability.get("core_param")
        if not isinstance(core, dict):
            raise Reject("1001")
        model_key = core.get("model")
        if model_key != root_model:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): core_param.model ≠ root_model
        model = IMAGE_MODELS.get(model_key)
        if model is None or acct.region not in model.regions:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): model not on this site
        lii = core.get("large_image_info")
        if not isinstance(lii, dict):
            raise Reject("1000")
        w, h, rt = lii.get("width"), lii.get("height"), lii.get("resolution_type")
        if not (is_int(w) and is_int(h) and w > 0 and h > 0) or rt not in ("1k", "1.5k", "2k", "4k"):
            raise Reject("1000")
        ratio = core.get("image_ratio")
        if ratio is not None and not (is_int(ratio) and 1 <= ratio <= 8):
            log.warning("image_ratio %r outside 1..8 (tolerated, as upstream does)", ratio)
        if kind == "blend" and model.input_limit is not None and len(refs) > model.input_limit:
            raise Reject("1000")
        gen_option = abilities.get("gen_option")
        if not isinstance(gen_option, dict):
            gen_option = ability.get("gen_option") if isinstance(ability.get("gen_option"), dict) else {}
        gen_count = gen_option.get("gen_count")
        if model.count_options is None:
            count = 1
        elif model.forced_count is not None:
            count = model.forced_count
        elif gen_count is None:
            count = model.default_count
        elif is_int(gen_count) and gen_count in model.count_options:
            count = gen_count
        else:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): gen_count not in the options
        per_image = 2 if rt == "4k" else 1
        return {
            "kind": kind,
            "model_key": model_key,
            "width": w,
            "height": h,
            "count": count,
            "price": per_image * count,
            "prompt": str(core.get("prompt", "")),
            "resolution": rt,
            "image_ratio": ratio if is_int(ratio) else None,
            "references": refs,
            "benefit_type": None,
            "video_ms": 0,
        }

    def _parse_video(self, acct: FakeAccount, abilities: dict, extend: dict, root_model: str) -> dict:
        gv = abilities.get("gen_video")
        if not isinstance(gv, dict):
            raise Reject("1001")
        t2v = gv.get("text_to_video_params")
        if not isinstance(t2v, dict):
            raise Reject("1001")
        inputs = t2v.get("video_gen_inputs")
        if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
            raise Reject("1001")
        inp = inputs[0]
        if "model_req_key" in t2v and t2v["model_req_key"] != root_model:
            raise Reject("1000")
        model = VIDEO_MODELS.get(root_model)
        if model is None or acct.region not in model.regions or (acct.region == "us" and root_model not in US_VIDEO):
            raise Reject("1000")
        resolution = inp.get("resolution") or "720p"
        if resolution not in VIDEO_RESOLUTIONS:
            raise Reject("1000")
        dur = inp.get("duration_ms")
        if not (is_int(dur) and 1000 <= dur <= 60000):
            raise Reject("1000")
        aspect_s = t2v.get("video_aspect_ratio") or "16:9"
        if aspect_s not in VIDEO_ASPECTS:
            raise Reject("1000")
        aspect = VIDEO_ASPECTS[aspect_s]
        refs: list[str] = []
        for key in ("first_frame_image", "end_frame_image"):
            frame = inp.get(key)
            if frame is None:
                continue
            if not isinstance(frame, dict):
                raise Reject("1000")
            refs.append(self._check_uri(frame.get("image_uri") or frame.get("uri")))
        uei = inp.get("unified_edit_input")
        if isinstance(uei, dict):
            for mat in uei.get("material_list") or []:
                if not isinstance(mat, dict):
                    raise Reject("1000")
                if isinstance(mat.get("image_info"), dict):
                    refs.append(self._check_uri(mat["image_info"].get("image_uri") or mat["image_info"].get("uri")))
                for k in ("video_info", "audio_info"):
                    if isinstance(mat.get(k), dict) and mat[k].get("vid") not in self.uploaded_vids:
                        raise Reject("1000")
        if (
            refs and refs[0] in self.uploaded_images
        ):  # PROTOCOL.md §5.6: with a frame the output follows the image aspect
            ref = self.uploaded_images[refs[0]]
            if ref["width"] and ref["height"]:
                target = ref["width"] / ref["height"]
                aspect = min(VIDEO_ASPECTS.values(), key=lambda a: abs(a[0] / a[1] - target))
        mvci = extend.get("m_video_commerce_info")
        benefit = mvci.get("benefit_type") if isinstance(mvci, dict) else None
        allowed = model.benefit.get(resolution, model.benefit["*"])
        if benefit not in allowed:
            raise Reject("5001")
        for extra in extend.get("m_video_commerce_info_list") or []:
            if not isinstance(extra, dict) or extra.get("benefit_type") not in allowed:
                raise Reject("5001")
        w, h = video_size(resolution, aspect)
        return {
            "kind": "video",
            "model_key": root_model,
            "width": w,
            "height": h,
            "count": 1,
            "price": 10,
            "prompt": str(inp.get("prompt", "")),
            "resolution": resolution,
            "image_ratio": None,
            "references": refs,
            "benefit_type": benefit,
            "video_ms": dur,
        }
