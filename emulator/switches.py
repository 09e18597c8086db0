"""The behaviours the emulator had to INVENT, each behind a switch.

PROTOCOL.md leaves some replies unknown (never captured). The emulator still has to answer something; every such
guess is a field of :class:`Switches`, so a test (or ``python -m emulator``) can flip it and see whether a client
depends on the guess. Defaults are the emulator's best guess. In the code, each guess carries a comment
``INVENTED (switch: <name>)``; ``tests/emulator`` checks that every such name is a field here and that ``--help``
lists it.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

DUPLICATE_SUBMIT = ("dedupe", "new_job", "reject")
QUEUE_MODES = ("short", "positions")
UPLOAD_ERRORS = ("detailed", "bare")


def _switch(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class Switches:
    duplicate_submit: str = _switch(
        "dedupe",
        "a generate whose submit_id was already accepted: 'dedupe' answers the existing job and charges nothing; "
        "'new_job' creates and charges a second job under the same submit_id; 'reject' answers invalid_ret "
        "(PROTOCOL.md §10.4, §13: unknown)",
        DUPLICATE_SUBMIT,
    )
    continuation_count: bool = _switch(
        True,
        "a continuation (action 2) makes metrics_extra.generateCount images; off: the draft's own count (PROTOCOL.md §5.7)",
    )
    invalid_ret: str = _switch(
        "1000",
        "ret code for malformed requests whose real code is unknown: missing extend.root_model or "
        "http_common_info.aid, core_param.model != root_model, a model the site lacks, a gen_count outside the "
        "model's options, a duplicate submit_id from another account, get_history_by_ids with neither id list, "
        "get_upload_token without scene",
    )
    reclaim_ret: str = _switch(
        "0",
        "ret code of credit_receive when today's credits were already claimed; '0' answers success with "
        "receive_quota 0 (PROTOCOL.md §3.2: unknown)",
    )
    size_15k_scale: float = _switch(
        0.75, "1.5k sizes in get_common_config = this scale x the 2k table (PROTOCOL.md §6.3: never published)"
    )
    catalogue_size_keys: str = _switch(
        "width,height", "names of the width and height keys in get_common_config's image_ratio_sizes (PROTOCOL.md §7.4)"
    )
    history_list_key: str = _switch("history_list", "key of the record list in get_history's data (PROTOCOL.md §8.5)")
    queue_status_codes: str = _switch(
        "1,2", "queue_info.queue_status while queued, then once generating (the meaning is unknown)"
    )
    invented_payloads: bool = _switch(
        True,
        "answer the endpoints whose reply was never captured with a guessed payload: get_user_info (user id, "
        "nickname, avatar), get_history_queue_info (queue_info per history id), algo_proxy, "
        "/passport/account/info/v2; off: the first two answer ret 0 with empty data, the last two 404",
    )
    invented_texts: bool = _switch(
        True,
        "send guessed texts: errmsg of 1001/1010/1018/2008, the 2038/2039 starling keys, the 2039 message, the "
        "generic failure toast, the daily-claim ledger title; off: those fields are empty strings",
    )
    omni_limits: bool = _switch(
        True,
        "omni-reference drafts over the web app's limits (9 images, 3 videos, 3 audio, 12 materials, 15 s of "
        "reference video) answer invalid_ret, and an m_video_commerce_info.amount other than output + input-video "
        "seconds answers 5001; off: both accepted (PROTOCOL.md §11.6: whether upstream enforces them is unknown)",
    )
    upload_errors: str = _switch(
        "detailed",
        "ImageX/VOD and upload-node error bodies: 'detailed' sends the guessed CodeN numbers (100010 signature "
        "mismatch, 100004 invalid parameter) and JSON node errors (4001-4004); 'bare' sends the same HTTP status "
        "with no CodeN and a plain-text node error",
        UPLOAD_ERRORS,
    )

    items_during_45: bool = _switch(
        True,
        "a job's items appear one by one while its status is 45 (every item present from ~88 %% of the job); off: "
        "the item list stays empty until the final status 50 (PROTOCOL.md §10.2 says only that it MAY fill during 45)",
    )
    status_45: bool = _switch(
        True,
        "a job passes through status 45 (from 40 %% of its time) before 50; off: 42 until the final 50 (PROTOCOL.md §10.3)",
    )
    queue: str = _switch(
        "short",
        "upstream's line before generation: 'short' keeps a job at status 20 for the first 15 %% of its time "
        "(queue_idx 1, an exact forecast_queue_cost); 'positions' first puts it in a line for another 10-40 %% of "
        "its time, queue_idx counting down from up to 6, forecast_queue_cost off by up to ±30 %% (PROTOCOL.md §10.2: meanings "
        "unknown)",
        QUEUE_MODES,
    )
    postedit_strict: bool = _switch(
        True,
        "post-edit drafts (PROTOCOL.md §11.1) answer invalid_ret from an international account, for another "
        "account's item, or without the component's metadata; off: accepted (what upstream does is unknown)",
    )
    postedit_record_type: bool = _switch(
        True,
        "a post-edit job's history record has generate_type = the tool's code (13/35/8/2); off: 1 (not captured)",
    )
    outpaint_max_edge: float = _switch(
        4000.0,
        "an outpaint canvas longer than this edge comes back shrunk to it (the web app's 2.8x canvas of 2048² came "
        "back 4000²); 0: the full canvas (PROTOCOL.md §11.1)",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {', '.join(choices)}")
        if not self.size_15k_scale > 0:
            raise ValueError("size_15k_scale must be > 0")
        if len(self.catalogue_size_keys.split(",")) != 2:
            raise ValueError("catalogue_size_keys must be two names separated by a comma")
        if len(self.queue_status_codes.split(",")) != 2:
            raise ValueError("queue_status_codes must be two integers separated by a comma")
        for code in self.queue_status_codes.split(","):
            int(code)

    # ---------------------------------------------------------------- derived values used by the handlers

    @property
    def size_keys(self) -> tuple[str, str]:
        w, h = self.catalogue_size_keys.split(",")
        return w.strip(), h.strip()

    @property
    def queue_status(self) -> tuple[int, int]:
        queued, running = self.queue_status_codes.split(",")
        return int(queued), int(running)

    def text(self, value: str) -> str:
        """An INVENTED text, or "" when ``invented_texts`` is off."""
        return value if self.invented_texts else ""


def names() -> list[str]:
    return [f.name for f in dataclasses.fields(Switches)]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per switch, its help taken from the field (defaults shown)."""
    group = parser.add_argument_group(
        "INVENTED behaviour (replies PROTOCOL.md leaves unknown; the default is the emulator's guess)"
    )
    for f in dataclasses.fields(Switches):
        help_text = f"{f.metadata['help']} (default: %(default)s)"
        if f.type in (bool, "bool"):
            group.add_argument(
                flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=help_text
            )
        else:
            kind = float if f.type in (float, "float") else str
            group.add_argument(
                flag(f.name),
                dest=f.name,
                type=kind,
                default=f.default,
                choices=f.metadata.get("choices"),
                metavar=None if f.metadata.get("choices") else f.name.split("_")[-1].upper(),
                help=help_text,
            )


def from_namespace(ns: argparse.Namespace) -> Switches:
    return Switches(**{name: getattr(ns, name) for name in names()})
