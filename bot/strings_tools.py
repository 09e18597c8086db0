"""Strings of the image tools (Upscale, Zoom out, Detail) and of /video's references (issue #14), en-US + zh-CN.

Registered with ``bot.i18n.extend`` when this module is imported (``bot.tools_ui`` imports it)."""

from __future__ import annotations

from bot.i18n import EN, ZH, extend

COMMANDS_ZH: dict[str, str] = {
    "Generate a video from a prompt (optional first/last frames, or references for omni models)": (
        "根据提示词生成视频（可选首尾帧，或给全能参考模型的参考素材）"
    ),
    "reference1": "参考1",
    "reference2": "参考2",
    "reference3": "参考3",
    "reference4": "参考4",
    "An image, video or audio file the video refers to (omni models)": "视频参考的图片、视频或音频（全能参考模型）",
}

MESSAGES: dict[str, dict[str, str]] = {
    # buttons and their follow-ups
    "upscale": {EN: "Upscale #{n}", ZH: "放大 #{n}"},
    "zoom": {EN: "Zoom out #{n}", ZH: "扩图 #{n}"},
    "detail": {EN: "Detail #{n}", ZH: "细节修复 #{n}"},
    "upscale_hd": {EN: "HD (2×)", ZH: "高清（2×）"},
    "upscale_pro": {EN: "Pro (smart 2K)", ZH: "智能超清（2K）"},
    "upscale_choose": {
        EN: "Image {n}: which upscale? (only you see this)",
        ZH: "图片 {n}：选择放大方式（仅你可见）",
    },
    "zoom_by": {EN: "{x}×", ZH: "{x}×"},
    "zoom_ratio": {EN: "…or out to an aspect ratio", ZH: "……或扩展到某个画面比例"},
    "zoom_ratio_option": {EN: "To {ratio}", ZH: "扩展到 {ratio}"},
    "zoom_choose": {
        EN: "Image {n}: zoom out by how much, or to which ratio? (only you see this)",
        ZH: "图片 {n}：扩图多少倍，或扩展到哪个比例？（仅你可见）",
    },
    # what the status and the result say
    "tool_upscale": {EN: "Upscale, {mode}: image #{n} of job {job}", ZH: "放大，{mode}：任务 {job} 的图片 #{n}"},
    "tool_outpaint": {EN: "Zoom out {how}: image #{n} of job {job}", ZH: "扩图 {how}：任务 {job} 的图片 #{n}"},
    "tool_detail": {EN: "Detail repair: image #{n} of job {job}", ZH: "细节修复：任务 {job} 的图片 #{n}"},
    "zoom_to": {EN: "to {ratio}", ZH: "到 {ratio}"},
    "upscale_title": {EN: "Jimeng upscale", ZH: "即梦放大"},
    "outpaint_title": {EN: "Jimeng zoom out", ZH: "即梦扩图"},
    "detail_title": {EN: "Jimeng detail repair", ZH: "即梦细节修复"},
    "tool_title": {EN: "Jimeng image tool", ZH: "即梦图片工具"},
    # the bot's own checks
    "e_not_image_result": {
        EN: "Image #{n} of job `{job}` is not an image result I can use.",
        ZH: "任务 `{job}` 的图片 #{n} 不是可用的图片结果。",
    },
    "e_ref_kind": {
        EN: "Reference {n} ({name}) is not an image, video or audio file.",
        ZH: "第 {n} 个参考（{name}）不是图片、视频或音频文件。",
    },
    "e_ref_too_big": {
        EN: "Reference {n} ({name}) is too large: {mb} MB; a {kind} may be at most {max} MB.",
        ZH: "第 {n} 个参考（{name}）太大：{mb} MB；{kind}最大 {max} MB。",
    },
    "e_omni_refs_gone": {
        EN: "The references of video job `{job}` are no longer kept (the bot restarted): run /video with them again.",
        ZH: "视频任务 `{job}` 的参考素材已不再保留（机器人重启过）：请带上它们重新使用 /video。",
    },
    "e_refs_and_frames": {
        EN: "Give either first/last frames or references, not both.",
        ZH: "首尾帧和参考素材只能二选一。",
    },
    "kind_image": {EN: "image", ZH: "图片"},
    "kind_video": {EN: "video", ZH: "视频"},
    "kind_audio": {EN: "audio file", ZH: "音频"},
    # core's validation problems (InvalidRequestError.code) as a reason in the member's language
    "v_tool_unavailable": {
        EN: "this tool ({capability}) is not offered in the region of this bot's Jimeng accounts",
        ZH: "本机器人的即梦账号所在区域不提供此工具（{capability}）",
    },
    "v_image_too_small": {
        EN: "the image is {width}×{height}; the tools need at least {min_edge} px on its shorter side",
        ZH: "图片为 {width}×{height}；工具要求短边至少 {min_edge} 像素",
    },
    "v_image_too_large": {
        EN: "the image is {width}×{height}, over the {max_edge} px this tool takes",
        ZH: "图片为 {width}×{height}，超过此工具可处理的 {max_edge} 像素",
    },
    "v_detail_needs_result": {
        EN: "detail repair works only on a result of this bot, not on an uploaded image",
        ZH: "细节修复只能用于本机器人生成的结果，不能用于上传的图片",
    },
    "v_source_account_gone": {
        EN: "the Jimeng account that made this image is no longer configured, so detail repair cannot run on it",
        ZH: "生成这张图片的即梦账号已不再配置，无法对它做细节修复",
    },
    "v_image_not_found": {EN: "I can't find that image any more", ZH: "找不到那张图片了"},
    "v_image_not_referable": {
        EN: "that result is too old for the tools (it lacks Jimeng's item ids)",
        ZH: "该结果太旧，无法使用工具（缺少即梦的作品 ID）",
    },
    "v_ratio_unchanged": {EN: "the image already has that aspect ratio", ZH: "图片已经是这个比例了"},
    "v_capability_unavailable": {
        EN: "this ({capability}) is not offered in the region of this bot's Jimeng accounts",
        ZH: "本机器人的即梦账号所在区域不提供此功能（{capability}）",
    },
    "v_omni_unsupported": {
        EN: "“{model}” takes no references; use an omni model (Seedance 2.0)",
        ZH: "“{model}”不接受参考素材；请使用全能参考模型（Seedance 2.0）",
    },
    "v_too_many_references": {
        EN: "too many references ({kind}): {count}; at most {max}",
        ZH: "参考素材太多（{kind}）：{count} 个；最多 {max} 个",
    },
    "v_reference_unreadable": {
        EN: "reference {n} is not an image, video or audio file Jimeng can read",
        ZH: "第 {n} 个参考不是即梦可读取的图片、视频或音频",
    },
    "v_reference_video_format": {
        EN: "reference {n} is a {format} video; Jimeng takes MP4 or MOV",
        ZH: "第 {n} 个参考是 {format} 视频；即梦只接受 MP4 或 MOV",
    },
    "v_reference_audio_format": {
        EN: "reference {n} is {format} audio; Jimeng takes MP3 or WAV",
        ZH: "第 {n} 个参考是 {format} 音频；即梦只接受 MP3 或 WAV",
    },
    "v_reference_too_large": {
        EN: "reference {n} ({kind}) is {size_mb} MB; at most {max_mb} MB",
        ZH: "第 {n} 个参考（{kind}）为 {size_mb} MB；最大 {max_mb} MB",
    },
    "v_reference_too_long": {
        EN: "reference {n} ({kind}) lasts {seconds} s; at most {max} s",
        ZH: "第 {n} 个参考（{kind}）长 {seconds} 秒；最长 {max} 秒",
    },
    "v_reference_videos_too_long": {
        EN: "the reference videos last {seconds} s together; at most {max} s",
        ZH: "参考视频总长 {seconds} 秒；最多 {max} 秒",
    },
    "animate_model_desc": {
        EN: "Omni models take the image as a reference: {models}",
        ZH: "全能参考模型会把图片作为参考：{models}",
    },
}

extend(COMMANDS_ZH, MESSAGES)
