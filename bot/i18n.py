"""Languages: the command-tree Translator (names, descriptions, choices) and the runtime message catalogue.

Two languages: en-US (the source strings) and zh-CN. A member's language comes from ``interaction.locale``; members
using any other Discord language get the configured default.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

EN, ZH = "en-US", "zh-CN"

# ----------------------------------------------------------------------------------------------- command tree
# English source string (as written in the cogs with locale_str) -> Chinese. Names must stay lowercase, no spaces.
COMMAND_ZH: dict[str, str] = {
    # /imagine
    "imagine": "画图",
    "Generate images from a prompt with Jimeng": "用即梦根据提示词生成图片",
    "prompt": "提示词",
    "What to draw": "想画什么",
    "model": "模型",
    "Jimeng model (default: the server's default)": "即梦模型（默认：服务器默认模型）",
    "ratio": "比例",
    "Aspect ratio": "画面比例",
    "resolution": "分辨率",
    "Output resolution": "输出分辨率",
    "count": "数量",
    "How many images": "生成几张",
    "negative": "反向提示词",
    "What to avoid": "不想出现的内容",
    "strength": "强度",
    "How closely to follow the prompt or references (0–1)": "遵循提示词或参考图的程度（0–1）",
    "auto": "自动",
    # /compose
    "compose": "合成",
    "Compose a new image from your images and a prompt": "用你的图片和提示词合成新图",
    "What to make from the images": "想用这些图做什么",
    "image1": "图片1",
    "image2": "图片2",
    "image3": "图片3",
    "image4": "图片4",
    "A reference image": "一张参考图",
    "Compose with Jimeng": "用即梦合成",
    # /video
    "video": "视频",
    "Generate a video from a prompt (and optional first/last frames)": "根据提示词（可选首尾帧）生成视频",
    "What should happen in the video": "视频里发生什么",
    "duration": "时长",
    "Length in seconds": "时长（秒）",
    "first_frame": "首帧",
    "Image to start from": "作为开头的图片",
    "last_frame": "尾帧",
    "Image to end on": "作为结尾的图片",
    # /credits, /jobs
    "credits": "积分",
    "Show the Jimeng accounts' credits (server admins)": "查看即梦账号积分（服务器管理员）",
    "jobs": "任务",
    "Your recent and running Jimeng jobs": "你最近的和进行中的即梦任务",
    "help": "帮助",
    "How to use the Jimeng bot: commands, prompt flags, this server's defaults": "即梦机器人用法：命令、提示词参数、本服务器的默认设置",
}


class Translator(app_commands.Translator):
    """Serves :data:`COMMAND_ZH` to Discord as ``*_localizations`` when the tree is synced."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContext
    ) -> str | None:
        if locale is discord.Locale.chinese:
            return COMMAND_ZH.get(string.message)
        return None


# ----------------------------------------------------------------------------------------------- runtime messages
MESSAGES: dict[str, dict[str, str]] = {
    # status
    "waiting": {
        EN: "⏳ Waiting in line: position {pos} of {total}.",
        ZH: "⏳ 排队中：第 {pos} 位，共 {total} 位。",
    },
    "queued": {EN: "⏳ Waiting for a free Jimeng account{where}{eta}.", ZH: "⏳ 等待空闲的即梦账号{where}{eta}。"},
    "where": {EN: ": position {pos} of {total}", ZH: "：第 {pos} 位，共 {total} 位"},
    "starting": {EN: "⏳ Starting…", ZH: "⏳ 正在开始…"},
    "elapsed": {EN: " · {s} s", ZH: " · {s} 秒"},
    "uploading": {EN: "📤 Uploading the reference images…", ZH: "📤 正在上传参考图…"},
    "submitting": {EN: "📨 Sending to Jimeng…", ZH: "📨 正在提交给即梦…"},
    "pending": {EN: "⏳ In Jimeng's queue{where}{eta}.", ZH: "⏳ 在即梦的队列中{where}{eta}。"},
    "generating": {EN: "🎨 Generating {done}/{total}{eta}…", ZH: "🎨 生成中 {done}/{total}{eta}…"},
    "generating_video": {EN: "🎬 Generating the video{eta}…", ZH: "🎬 视频生成中{eta}…"},
    "delivering": {EN: "📦 Delivering…", ZH: "📦 正在发送结果…"},
    "eta": {EN: " (about {s} s left)", ZH: "（约 {s} 秒）"},
    "no_post": {
        EN: "⚠️ I can't post in this channel (missing: {perms}). If this takes longer than 15 minutes, "
        "I won't be able to deliver it here.",
        ZH: "⚠️ 我无法在此频道发消息（缺少权限：{perms}）。如果任务超过 15 分钟，结果将无法送达这里。",
    },
    # results
    "image_title": {EN: "Jimeng image", ZH: "即梦图片"},
    "compose_title": {EN: "Jimeng composition", ZH: "即梦合成"},
    "video_title": {EN: "Jimeng video", ZH: "即梦视频"},
    "f_model": {EN: "Model", ZH: "模型"},
    "f_size": {EN: "Size", ZH: "尺寸"},
    "f_time": {EN: "Time", ZH: "用时"},
    "f_seed": {EN: "Seed", ZH: "种子"},
    "f_links": {EN: "Too large to upload here", ZH: "文件太大，无法在此上传"},
    "f_notes": {EN: "Notes", ZH: "备注"},
    "seconds": {EN: "{s} s", ZH: "{s} 秒"},
    "time_split": {EN: "{total} s (generation {gen} s)", ZH: "{total} 秒（生成 {gen} 秒）"},
    "partial": {EN: "Jimeng delivered only part of the images.", ZH: "即梦只返回了部分图片。"},
    "footer": {EN: "job {job}", ZH: "任务 {job}"},
    "link": {EN: "[{name}]({url})", ZH: "[{name}]({url})"},
    "link_expires": {EN: " (link expires {when})", ZH: "（链接 {when} 失效）"},
    "moved_to_channel": {
        EN: "⏳ Still working; Discord no longer lets me update this reply, so the result will be posted in this channel.",
        ZH: "⏳ 仍在生成；Discord 不再允许我更新这条回复，结果将发在本频道。",
    },
    "late": {
        EN: "{mention} your result is ready (it took longer than Discord lets me edit the original reply).",
        ZH: "{mention} 你的结果好了（用时超过了 Discord 允许我编辑原回复的时间）。",
    },
    "reply_done": {EN: "{mention} here you go.", ZH: "{mention} 好了。"},
    "done_ping": {EN: "{mention} your result is ready ↑", ZH: "{mention} 你的结果好了 ↑"},
    "failed_ping": {EN: "{mention} your job did not work out ↑", ZH: "{mention} 你的任务没有成功 ↑"},
    # buttons, selects, modals
    "reroll": {EN: "Reroll", ZH: "重新生成"},
    "delete": {EN: "Delete", ZH: "删除"},
    "animate_title": {EN: "Animate image #{n}", ZH: "做成视频：图片 #{n}"},
    "modal_duration": {EN: "Duration (seconds)", ZH: "时长（秒）"},
    "modal_ratio": {EN: "Ratio (empty: the image's)", ZH: "比例（留空：按图片）"},
    "modal_model": {EN: "Video model", ZH: "视频模型"},
    "reencoded": {
        EN: "Re-encoded as WebP to fit Discord's upload limit: {files}",
        ZH: "为符合 Discord 上传限制已重新编码为 WebP：{files}",
    },
    "e_delete_not_yours": {
        EN: "Only the member who asked for this result (or a moderator) can delete it.",
        ZH: "只有发起这个任务的成员（或管理员）可以删除它。",
    },
    "vary": {EN: "Vary #{n}", ZH: "变体 #{n}"},
    "animate": {EN: "Animate #{n}", ZH: "做成视频 #{n}"},
    "pick": {EN: "Choose the image for Vary / Animate", ZH: "选择用于变体 / 视频的图片"},
    "pick_option": {EN: "Image {n}", ZH: "图片 {n}"},
    "picked": {EN: "Image {n}: what next? (only you see this)", ZH: "图片 {n}：接下来做什么？（仅你可见）"},
    "modal_title": {EN: "Compose with Jimeng", ZH: "用即梦合成"},
    "vary_title": {EN: "Vary image #{n}", ZH: "变体：图片 #{n}"},
    "modal_prompt": {EN: "Prompt", ZH: "提示词"},
    "modal_images": {EN: "More images (optional)", ZH: "更多图片（可选）"},
    "modal_images_desc": {EN: "Added after the message's images", ZH: "追加在消息里的图片之后"},
    # account
    "credits_title": {EN: "Jimeng accounts", ZH: "即梦账号"},
    "credits_none": {EN: "No Jimeng account is configured.", ZH: "没有配置即梦账号。"},
    "account_line": {
        EN: "**{masked}** · {region} · {state}\n"
        "Credits: {total} (gift {gift}, purchased {purchase}, VIP {vip})\n"
        "Last daily claim: {claim} · Jobs in flight: {in_flight}/{limit}",
        ZH: "**{masked}** · {region} · {state}\n"
        "积分：{total}（赠送 {gift}，购买 {purchase}，会员 {vip}）\n"
        "上次每日领取：{claim} · 进行中任务：{in_flight}/{limit}",
    },
    "unknown": {EN: "unknown", ZH: "未知"},
    "never": {EN: "never", ZH: "从未"},
    "state_ok": {EN: "✅ ok", ZH: "✅ 正常"},
    "state_invalid": {EN: "❌ session expired", ZH: "❌ 会话已失效"},
    "state_no_credits": {EN: "🪫 out of credits", ZH: "🪫 积分不足"},
    "state_cooldown": {EN: "⏸️ cooling down", ZH: "⏸️ 冷却中"},
    "claim_button": {EN: "Claim daily credits", ZH: "领取每日积分"},
    "refresh_button": {EN: "Refresh", ZH: "刷新"},
    "claim_line": {EN: "{masked}: {outcome}", ZH: "{masked}：{outcome}"},
    "claim_ok": {EN: "+{granted} credits", ZH: "+{granted} 积分"},
    "claim_already": {EN: "already claimed today", ZH: "今天已领取"},
    "claim_failed": {EN: "failed ({message})", ZH: "失败（{message}）"},
    "jobs_title": {EN: "Your Jimeng jobs", ZH: "你的即梦任务"},
    "jobs_none": {EN: "You have no recent jobs.", ZH: "你最近没有任务。"},
    "jobs_waiting": {
        EN: "⏳ {n} waiting in line (next at position {pos})",
        ZH: "⏳ {n} 个在排队（最靠前的第 {pos} 位）",
    },
    "job_line": {EN: "`{id}` {kind} · {state} · {when}\n{prompt}", ZH: "`{id}` {kind} · {state} · {when}\n{prompt}"},
    "kind_image": {EN: "image", ZH: "图片"},
    "kind_compose": {EN: "composition", ZH: "合成"},
    "kind_video": {EN: "video", ZH: "视频"},
    "js_queued": {EN: "queued", ZH: "排队中"},
    "js_uploading": {EN: "uploading", ZH: "上传中"},
    "js_submitting": {EN: "submitting", ZH: "提交中"},
    "js_pending": {EN: "waiting", ZH: "等待中"},
    "js_generating": {EN: "generating", ZH: "生成中"},
    "js_succeeded": {EN: "done", ZH: "已完成"},
    "js_failed": {EN: "failed", ZH: "失败"},
    # errors (STYLE §4)
    "e_auth": {
        EN: "The Jimeng account needs a new session; an admin has been told.",
        ZH: "即梦账号需要新的会话，已通知管理员。",
    },
    "e_quota": {
        EN: "Out of credits for today. Free credits come back {when}; a server admin can check /credits.",
        ZH: "今天的积分用完了。免费积分将于 {when} 恢复；服务器管理员可以用 /credits 查看。",
    },
    "e_rate": {EN: "Busy, try again in {s} s.", ZH: "正忙，请 {s} 秒后再试。"},
    "e_risk": {
        EN: "Jimeng's risk control refused this for now; please try again {when}.",
        ZH: "即梦风控暂时拒绝了请求，请于 {when} 再试。",
    },
    "e_content": {
        EN: "Jimeng refused this prompt; rephrase it and try again.",
        ZH: "即梦拒绝了这个提示词，请换个说法再试。",
    },
    "e_content_image": {
        EN: "Jimeng refused this prompt or image; rephrase it or use another image.",
        ZH: "即梦拒绝了这个提示词或图片，请换个说法或换一张图片。",
    },
    "job_reason": {EN: "↳ {reason}", ZH: "↳ {reason}"},
    "e_flag_unknown": {
        EN: "I don't know the flag `{flag}`. Flags I understand: {known} (see /help).",
        ZH: "我不认识参数 `{flag}`。支持的参数：{known}（见 /help）。",
    },
    "e_flag_value": {
        EN: "`{flag}` can't be `{value}`; use {allowed}.",
        ZH: "`{flag}` 不能是 `{value}`；可用：{allowed}。",
    },
    "e_flag_twice": {EN: "`{flag}` is given twice.", ZH: "`{flag}` 出现了两次。"},
    "e_flag_conflict": {
        EN: "`{flag}` in the prompt contradicts the `{option}` option; keep one of them.",
        ZH: "提示词里的 `{flag}` 和选项 `{option}` 矛盾，请只保留一个。",
    },
    "help_title": {EN: "Jimeng: how to use me", ZH: "即梦：使用方法"},
    "help_commands_h": {EN: "Commands", ZH: "命令"},
    "help_commands": {
        EN: "`/imagine` text to image · `/compose` from your images · `/video` text or image to video · "
        "right-click a message → Apps → **Compose with Jimeng** · reply to images mentioning me · "
        "`/jobs` your jobs · `/credits` accounts (admins)",
        ZH: "`/画图` 文生图 · `/合成` 用你的图片生成 · `/视频` 文生视频或图生视频 · 右键消息 → 应用 → **用即梦合成** · "
        "回复图片并@我 · `/任务` 你的任务 · `/积分` 账号（管理员）",
    },
    "help_flags_h": {EN: "Flags in the prompt", ZH: "提示词参数"},
    "help_flags": {
        EN: "`--ar 16:9` ratio · `--no text, watermark` what to avoid · `--seed 42` · `--count 2` (1–8) · "
        "`--model jimeng-4.0`. Example: `a red fox in snow --ar 16:9 --no people`. "
        "A flag that contradicts an option is refused.",
        ZH: "`--ar 16:9` 比例 · `--no 文字, 水印` 不要出现的内容 · `--seed 42` · `--count 2`（1–8）· "
        "`--model jimeng-4.0`。例如：`雪中的红狐狸 --ar 16:9 --no 人物`。参数与选项矛盾时会被拒绝。",
    },
    "help_defaults_h": {EN: "This server", ZH: "本服务器"},
    "help_defaults": {
        EN: "Image model `{image}` · video model `{video}` · {jobs} job(s) at once per member, {queue} more waiting.",
        ZH: "图片模型 `{image}` · 视频模型 `{video}` · 每人同时 {jobs} 个任务，另可排队 {queue} 个。",
    },
    "e_flag_no_prompt": {
        EN: "Put the prompt before the flags, e.g. `a red fox --ar 16:9`.",
        ZH: "请把提示词写在参数前面，例如 `一只红狐狸 --ar 16:9`。",
    },
    "e_transport": {EN: "Jimeng is not answering; try later.", ZH: "即梦没有响应，请稍后再试。"},
    "e_timeout": {
        EN: "Jimeng did not finish in time (job `{job}`); it may still appear in /jobs later.",
        ZH: "即梦没有按时完成（任务 `{job}`），稍后可在 /jobs 查看。",
    },
    "e_failed": {EN: "Jimeng could not generate this ({reason}).", ZH: "即梦生成失败（{reason}）。"},
    "e_upload": {
        EN: "Image {n} could not be used: it is not an image Jimeng accepts ({reason}).",
        ZH: "第 {n} 张图片无法使用：不是即梦可接受的图片（{reason}）。",
    },
    "e_too_many": {  # core's too_many_references, with its details
        EN: "Too many images: {count}. This model takes at most {max}.",
        ZH: "图片太多：{count} 张。该模型最多接受 {max} 张。",
    },
    "e_invalid": {EN: "That request isn't valid: {reason}", ZH: "请求无效：{reason}"},
    # core's validation problems (InvalidRequestError.code), with its details as fields
    "v_unknown_model": {
        EN: "unknown model “{model}”; available: {available}",
        ZH: "没有“{model}”这个模型；可用：{available}",
    },
    "v_model_not_offered": {
        EN: "model “{model}” is not offered on this bot's Jimeng sites ({have}); it exists on {offered}",
        ZH: "本机器人的即梦站点（{have}）不提供模型“{model}”；它在 {offered} 上",
    },
    "v_model_gone": {EN: "model “{model}” is no longer available", ZH: "模型“{model}”已不再可用"},
    "v_prompt_empty": {EN: "the prompt is empty", ZH: "提示词是空的"},
    "v_prompt_too_long": {EN: "the prompt is longer than {max} characters", ZH: "提示词超过了 {max} 个字符"},
    "v_strength_range": {EN: "strength must be between 0 and 1", ZH: "精细度必须在 0 到 1 之间"},
    "v_no_references": {EN: "model “{model}” cannot compose from images", ZH: "模型“{model}”不支持图片合成"},
    "v_no_images": {EN: "a composition needs at least one image", ZH: "合成至少需要一张图片"},
    "v_unknown_resolution": {
        EN: "unknown resolution “{value}”; use {allowed}",
        ZH: "未知分辨率“{value}”；可用：{allowed}",
    },
    "v_unknown_ratio": {EN: "unknown ratio “{value}”; use {allowed}", ZH: "未知比例“{value}”；可用：{allowed}"},
    "v_bad_size": {
        EN: "size must look like 2048x2048, not “{value}”",
        ZH: "尺寸应写成 2048x2048 这样，而不是“{value}”",
    },
    "v_width_height_pair": {EN: "give both width and height, or neither", ZH: "宽和高要么都给，要么都不给"},
    "v_width_height_positive": {EN: "width and height must be positive", ZH: "宽和高必须是正数"},
    "v_auto_ratio_unsupported": {EN: "model “{model}” has no automatic ratio", ZH: "模型“{model}”不支持智能比例"},
    "v_resolution_unsupported": {
        EN: "model “{model}” does not do {resolution}; it does {allowed}",
        ZH: "模型“{model}”不支持 {resolution}；支持：{allowed}",
    },
    "v_count_single": {EN: "model “{model}” makes one image per job", ZH: "模型“{model}”每次只生成一张图"},
    "v_count_range": {
        EN: "count must be {allowed} for “{model}”, not {count}",
        ZH: "“{model}”的张数必须是 {allowed}，不能是 {count}",
    },
    "v_duration_unsupported": {
        EN: "“{model}” makes videos of {allowed} seconds, not {duration}",
        ZH: "“{model}”只能生成 {allowed} 秒的视频，不能是 {duration} 秒",
    },
    "v_frames_unsupported": {EN: "“{model}” does not take frame images", ZH: "“{model}”不支持首尾帧图片"},
    "v_last_frame_needs_first": {EN: "a last frame needs a first frame too", ZH: "有尾帧时必须同时给出首帧"},
    "e_region": {
        EN: "Jimeng refused the request from this server's network region.",
        ZH: "即梦拒绝了来自本服务器网络区域的请求。",
    },
    "e_no_account": {EN: "No Jimeng account can take this right now.", ZH: "目前没有可用的即梦账号。"},
    "e_generic": {
        EN: "Sorry, something went wrong on my side. It has been logged.",
        ZH: "抱歉，我这边出了问题，已记录下来。",
    },
    "e_member_busy": {
        EN: "You already have {n} jobs running or waiting; wait for one to finish.",
        ZH: "你已有 {n} 个任务在进行或排队，请等其中一个完成。",
    },
    "e_channel": {EN: "I only work in: {channels}.", ZH: "我只在这些频道工作：{channels}。"},
    "e_admin": {EN: "Only members with Manage Server can do that.", ZH: "只有拥有“管理服务器”权限的成员可以这样做。"},
    "e_guild_only": {EN: "This only works in a server.", ZH: "只能在服务器中使用。"},
    "e_cooldown": {EN: "Slow down: try again in {s} s.", ZH: "慢一点：{s} 秒后再试。"},
    "e_job_gone": {EN: "I no longer know job `{job}`.", ZH: "找不到任务 `{job}` 了。"},
    "e_refs_gone": {
        EN: "The reference images of job `{job}` are no longer available; use Vary or start a new composition.",
        ZH: "任务 `{job}` 的参考图已不可用；请用“变体”或重新合成。",
    },
    "e_no_images": {EN: "That message has no images I can use.", ZH: "那条消息里没有我能用的图片。"},
    "e_no_prompt": {
        EN: "Tell me what to make: mention me followed by a prompt.",
        ZH: "请告诉我要做什么：@我 然后写提示词。",
    },
    "e_intent": {
        EN: "I can't see the images on {author}'s message: reading other members' messages needs the Message "
        "Content intent, which is off for this bot. Attach the images to your reply, or use the "
        "“Compose with Jimeng” app command on that message.",
        ZH: "我看不到 {author} 那条消息里的图片：读取其他成员的消息需要 Message Content 权限（本机器人未开启）。"
        "请把图片附在你的回复里，或在那条消息上使用“用即梦合成”应用命令。",
    },
    "e_last_frame": {EN: "A last frame needs a first frame too.", ZH: "有尾帧时也需要首帧。"},
    "e_file_too_big": {EN: "Image {n} is too large ({mb} MB).", ZH: "第 {n} 张图片太大（{mb} MB）。"},
    "e_not_image": {EN: "Attachment {n} ({name}) is not an image.", ZH: "第 {n} 个附件（{name}）不是图片。"},
}


def language(locale: Any, default: str = EN) -> str:
    """en-US or zh-CN for a Discord locale (``interaction.locale``), else ``default``."""
    value = str(getattr(locale, "value", locale) or "")
    if value.startswith("zh"):
        return ZH
    if value.startswith("en"):
        return EN
    return default if default in (EN, ZH) else EN


def t(lang: str, key: str, **kw: Any) -> str:
    """The message ``key`` in ``lang`` (falling back to English), formatted with ``kw``."""
    entry = MESSAGES[key]
    text = entry.get(lang) or entry[EN]
    return text.format(**kw) if kw else text


def extend(commands: dict[str, str], messages: dict[str, dict[str, str]]) -> None:
    """Add a feature's own catalogue (a module of its own keeps this one small); a key defined twice differently is a bug.

    Call it at import time of the feature's strings module, e.g. ``bot/strings_tools.py``.
    """
    for src, zh in commands.items():
        if COMMAND_ZH.setdefault(src, zh) != zh:
            raise ValueError(f"command string {src!r} already translated differently")
    for key, entry in messages.items():
        if MESSAGES.setdefault(key, entry) != entry:
            raise ValueError(f"message {key!r} already defined")
