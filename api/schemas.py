"""Request models. Strict on our own parameters (a typo is a 400 naming it), tolerant of the fields the official
OpenAI SDK and common OpenAI clients send that Jimeng has no use for (accepted and ignored, listed per endpoint)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import ImageParams

ResponseFormat = Literal["url", "b64_json"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _OpenAIImageExtras(_Strict):
    """Fields of OpenAI's image endpoints that mean nothing for Jimeng: accepted, ignored."""

    background: Any = None
    moderation: Any = None
    output_compression: Any = None
    output_format: Any = None
    partial_images: Any = None
    quality: Any = None
    style: Any = None
    user: Any = None
    safety_identifier: Any = None
    input_fidelity: Any = None
    complexity: Any = None
    frame_count: Any = None
    frame_duration_ms: Any = None
    svg: Any = None
    stream: bool | None = None

    @field_validator("stream")
    @classmethod
    def _no_stream(cls, v: bool | None) -> bool | None:
        if v:
            raise ValueError("streaming is not supported on the image endpoints")
        return v


class ImageRequest(_OpenAIImageExtras):
    """``POST /v1/images/generations`` (also the base of compositions and edits)."""

    prompt: str
    model: str | None = None
    negative_prompt: str = ""
    ratio: str | None = None
    resolution: str | None = None
    size: str | None = None
    width: int | None = None
    height: int | None = None
    sample_strength: float | None = None
    n: int | None = Field(default=None, description="number of images")
    intelligent_ratio: bool = False
    seed: int | None = None
    response_format: ResponseFormat | None = None

    def to_params(self) -> ImageParams:
        size = None if (self.size or "").strip().lower() in ("", "auto") else self.size
        extra: dict[str, Any] = {}
        if self.sample_strength is not None:
            extra["sample_strength"] = self.sample_strength
        return ImageParams(
            prompt=self.prompt,
            model=self.model or None,
            negative_prompt=self.negative_prompt or "",
            ratio=self.ratio or None,
            resolution=self.resolution or None,
            size=size,
            width=self.width,
            height=self.height,
            count=self.n,
            intelligent_ratio=self.intelligent_ratio,
            seed=self.seed,
            **extra,
        )

    @property
    def format(self) -> ResponseFormat:
        return self.response_format or "url"


class ImageRef(_Strict):
    url: str


class CompositionRequest(ImageRequest):
    """``POST /v1/images/compositions``: ``images`` as strings or ``{"url": ...}`` (http(s) or data URLs)."""

    images: list[str | ImageRef] = Field(default_factory=list)

    def image_values(self) -> list[str]:
        return [i if isinstance(i, str) else i.url for i in self.images]


class EditRequest(ImageRequest):
    """``POST /v1/images/edits`` (multipart, the official SDK's shape). Images arrive as files or URL fields."""

    image: list[str] | str | None = None
    mask: Any = None
    markup: Any = None


class VideoGenerationRequest(_Strict):
    """``POST /v1/videos/generations`` (the seed gateway's synchronous shape)."""

    prompt: str = ""
    model: str | None = None
    ratio: str | None = None
    resolution: str | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    file_paths: list[str] | None = None
    filePaths: list[str] | None = None
    response_format: Literal["url"] | None = None

    def frames(self) -> list[str]:
        return [p for p in (self.file_paths or []) + (self.filePaths or []) if p]


class InputReference(_Strict):
    image_url: str | None = None
    file_id: str | None = None


class VideoCreateRequest(_Strict):
    """``POST /v1/videos`` (OpenAI's video API shape): ``seconds`` → duration, ``size`` → ratio and resolution."""

    prompt: str = ""
    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    ratio: str | None = None
    resolution: str | None = None
    seed: int | None = None
    input_reference: str | InputReference | list[str | InputReference] | None = None  # a list: omni (issue #14)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str
    detail: str | None = None


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: ImageURL | str


class OtherPart(BaseModel):
    """Parts Jimeng cannot use (audio, files, refusals): accepted in history, ignored."""

    model_config = ConfigDict(extra="allow")
    type: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal, audio ... of past turns
    role: str
    content: str | list[TextPart | ImagePart | OtherPart] | None = None


# Parameters of OpenAI's chat completions that Jimeng has no use for: accepted and ignored.
_CHAT_IGNORED = [
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "safety_identifier",
    "service_tier",
    "stop",
    "store",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
    "seed",
    "response_format",
]


class ChatRequest(_Strict):
    """``POST /v1/chat/completions``. Our extras: ratio, resolution, size, duration, negative_prompt."""

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = False
    n: int | None = None
    ratio: str | None = None
    resolution: str | None = None
    size: str | None = None
    duration: int | None = None
    negative_prompt: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in _CHAT_IGNORED}
        return data

    def last_user(self) -> tuple[str, list[str]]:
        """(prompt text, image URLs) of the last user message."""
        for msg in reversed(self.messages):
            if msg.role != "user":
                continue
            content = msg.content
            if content is None:
                return "", []
            if isinstance(content, str):
                return content, []
            texts = [p.text for p in content if isinstance(p, TextPart)]
            urls = [
                p.image_url if isinstance(p.image_url, str) else p.image_url.url
                for p in content
                if isinstance(p, ImagePart)
            ]
            return "\n".join(texts), urls
        return "", []


class TokenCheckRequest(_Strict):
    token: str
