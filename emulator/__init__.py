"""An emulator of the Jimeng (即梦) / Dreamina upstream: a real aiohttp server on loopback.

Written from ``docs/PROTOCOL.md`` (and its fixtures) only; it imports nothing from ``core/`` — it is an
independent reading of the protocol, so the engine's tests check the engine against the notes, not against itself.
One app serves every upstream host the client talks to (the client rewrites scheme+host to ``FakeJimeng.url`` and
keeps path and query):

* ``POST /mweb/...``, ``/commerce/...``, ``/passport/...`` — the web API (PROTOCOL.md §2–§3, §5, §8)
* ``GET|POST /?Action=ApplyImageUpload|CommitImageUpload|ApplyUploadInner|CommitUploadInner`` — ImageX / VOD (PROTOCOL.md §4.2,
  PROTOCOL.md §4.3), SigV4-verified
* ``POST /upload/v1/<StoreUri>`` — upload nodes (CRC32-checked)
* ``GET /img/<token>.webp`` and ``GET /vid/<token>[-hq].mp4`` — the result CDN (real WebP images, real MP4s)

In tests::

    fake = FakeJimeng(image_seconds=0.3)
    await fake.start()                       # http://127.0.0.1:<port>
    fake.add_account(sid, region="us", credits=50)
    ...                                      # point the engine's upstream_url at fake.url
    fake.calls("/mweb/v1/aigc_draft/generate"), fake.jobs, fake.requests
    await fake.close()

Standalone: ``python -m emulator --help`` (a demo account is created and its session id printed when no
``--account`` is given); ``python -m emulator.demo`` (``make demo``) runs it with the OpenAI-compatible API in front.

Modules: ``server`` (the app, routes, request log, public helpers), ``submit`` (generate: gate, idempotency,
charge), ``drafts`` (reading image/blend/video drafts), ``jobs`` (status over time, history endpoints),
``accounts`` (credits, daily claim, ledger, user info, catalogue), ``uploads`` (STS token, ImageX/VOD, upload
nodes), ``cdn`` (signed result URLs), ``signing`` + ``sigv4`` (Sign header, SigV4), ``media`` (WebP/MP4 bytes),
``tables`` (the protocol's data), ``switches`` (the INVENTED behaviours), ``cli``, ``demo``.

INVENTED behaviour. Where PROTOCOL.md says a reply is unknown, the emulator guesses, and each guess is a switch
(a keyword argument of ``FakeJimeng``, a field of ``Switches``, a ``--flag`` of ``python -m emulator``):

* ``duplicate_submit`` (``dedupe`` | ``new_job`` | ``reject``): a generate re-using an accepted submit_id answers
  the existing job without a second charge / creates and charges a second job / is refused with ``invalid_ret``.
* ``continuation_count`` (on): a continuation (action 2) makes ``metrics_extra.generateCount`` images.
* ``invalid_ret`` (``1000``): the ret of malformed requests whose real code is unknown (no root_model, no aid,
  model mismatch or not on the site, gen_count out of range, get_history_by_ids without ids, no upload scene).
* ``reclaim_ret`` (``0``): the daily claim when already claimed today (``0``: success with receive_quota 0).
* ``size_15k_scale`` (``0.75``): the 1.5k size table, as a scale of the 2k one.
* ``catalogue_size_keys`` (``width,height``): key names in get_common_config's ``image_ratio_sizes``.
* ``history_list_key`` (``history_list``): the list key of get_history.
* ``queue_status_codes`` (``1,2``): ``queue_info.queue_status`` while queued / once generating.
* ``invented_payloads`` (on): guessed payloads of get_user_info, get_history_queue_info, algo_proxy and
  /passport/account/info/v2 (off: empty data for the first two, 404 for the others).
* ``invented_texts`` (on): guessed errmsg and starling texts and the daily-claim ledger title (off: empty).
* ``omni_limits``: omni drafts over the web app's reference limits, or with an ``amount`` other than output + input-video
  seconds, are refused (on), or accepted (off).
* ``upload_errors`` (``detailed`` | ``bare``): guessed CodeN numbers and JSON bodies of upload errors, or none.
* ``items_during_45`` (on): result items appear one by one during status 45 (off: only with the final 50).
* ``status_45`` (on): a job passes through 45 before 50 (off: 42 straight to 50).
* ``queue`` (``short`` | ``positions``): status 20 for the first 15 % of a job, or a line before it (another 10–40 % of its time) with
  ``queue_idx`` counting down and an inexact ``forecast_queue_cost``.
* ``postedit_strict`` (on): post-edit drafts from an international account, for another account's item, or without
  the component's metadata are refused with ``invalid_ret`` (off: accepted).
* ``postedit_record_type`` (on): a post-edit job's record has ``generate_type`` = the tool's code (off: 1).
* ``outpaint_max_edge`` (``4000``): outpaint canvases longer than this come back shrunk to it (0: full size).

Not switches but per-job outcomes (``FakeAccount.next_outcomes``): ``("instant",)`` — a job done before the first
poll can arrive; and ``jitter`` (a ``FakeJimeng`` argument): durations vary by ± that fraction.
"""

from __future__ import annotations

from .records import FakeAccount, FakeJob, Recorded
from .server import FakeJimeng
from .switches import Switches

__all__ = ["FakeAccount", "FakeJimeng", "FakeJob", "Recorded", "Switches"]
