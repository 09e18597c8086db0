"""Core owns geometry and replay: a video ``size`` becomes ratio and resolution, and a stored spec becomes the params
that ask for the same thing again (Reroll, Vary, Animate)."""

from __future__ import annotations

import pytest

from core import ImageParams, InvalidRequestError, VideoParams
from core.geometry import nearest_video_ratio, video_geometry, video_resolution
from core.params import spec_from_dict, validate_image, validate_video
from core.registry import Registry
from core.wire import Region

CN = frozenset({Region.CN})


# ----------------------------------------------------------------------------------------------- video geometry
@pytest.mark.parametrize(
    ("size", "ratio", "resolution"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920×1080", "16:9", "1080p"),
        ("1024*1024", "1:1", "1080p"),
        ("480x480", "1:1", "480p"),
        ("640x480", "4:3", "480p"),
        ("2520x1080", "21:9", "1080p"),
        ("4096x2160", "16:9", "1080p"),  # past the largest: the largest
    ],
)
def test_video_size_maps_to_the_nearest_ratio_and_the_resolution_by_its_short_edge(
    size: str, ratio: str, resolution: str
) -> None:
    assert video_geometry(size) == (ratio, resolution)


def test_video_geometry_pieces() -> None:
    assert nearest_video_ratio(1000, 1000) == "1:1" and nearest_video_ratio(3000, 1000) == "21:9"
    assert video_resolution(481, 2000) == "720p" and video_resolution(720, 720) == "720p"


@pytest.mark.parametrize("size", ["big", "1280:720", "0x720", "1280x0", "1x1"])
def test_a_malformed_video_size_names_size(size: str) -> None:
    with pytest.raises(InvalidRequestError) as exc:
        video_geometry(size)
    assert exc.value.param == "size" and exc.value.code == "bad_size" and "1280x720" in exc.value.message


def test_video_params_size_fills_in_what_is_not_given() -> None:
    reg = Registry()
    spec = validate_video(VideoParams(prompt="p", model="jimeng-video-3.0", size="720x1280"), reg, CN)
    assert (spec.ratio, spec.resolution) == ("9:16", "720p")
    spec = validate_video(VideoParams(prompt="p", model="jimeng-video-3.0", size="1920x1080"), reg, CN)
    assert (spec.ratio, spec.resolution) == ("16:9", "1080p")
    # ratio and resolution given win over the size
    spec = validate_video(
        VideoParams(prompt="p", model="jimeng-video-3.0", size="1920x1080", ratio="1:1", resolution="720p"), reg, CN
    )
    assert (spec.ratio, spec.resolution) == ("1:1", "720p")


def test_a_resolution_the_model_lacks_is_reported_where_it_came_from() -> None:
    reg = Registry()
    with pytest.raises(InvalidRequestError) as exc:
        validate_video(VideoParams(prompt="p", model="jimeng-video-3.5-pro", size="1080x1920"), reg, CN)
    assert exc.value.param == "size" and exc.value.code == "resolution_unsupported"
    with pytest.raises(InvalidRequestError) as exc:
        validate_video(VideoParams(prompt="p", model="jimeng-video-3.5-pro", resolution="1080p"), reg, CN)
    assert exc.value.param == "resolution"
    with pytest.raises(InvalidRequestError) as exc:  # a bad size is refused before anything else
        validate_video(VideoParams(prompt="", model="no-such-model", size="huge"), reg, CN)
    assert exc.value.param == "size"


def test_a_ratio_from_the_size_is_noted_as_ignored_with_a_frame() -> None:
    spec = validate_video(VideoParams(prompt="", size="1280x720", frames=1), Registry(), CN)
    assert spec.notes and "ratio is ignored" in spec.notes[0]


# ----------------------------------------------------------------------------------------------- replay
def test_image_params_from_a_spec_and_from_its_stored_dict_ask_for_the_same_thing() -> None:
    reg = Registry()
    params = ImageParams(
        prompt="  a fox ", model="jimeng-4.0", negative_prompt="blur", size="1024x576", count=2, sample_strength=0.7
    )
    spec = validate_image(params, reg, CN, references=2)
    for source in (spec, spec.to_dict()):
        again = ImageParams.from_spec(source)
        assert again.seed is None  # a new seed by default
        respec = validate_image(again, reg, CN, references=2)
        for key in ("model", "prompt", "negative_prompt", "ratio", "width", "height", "resolution", "count"):
            assert getattr(respec, key) == getattr(spec, key), key
        assert respec.sample_strength == 0.7 and respec.references == 2
    kept = ImageParams.from_spec(spec.to_dict(), prompt="another", new_seed=False)
    assert kept.prompt == "another" and kept.seed == spec.seed


def test_image_params_from_an_automatic_ratio_ask_for_auto_again() -> None:
    spec = validate_image(ImageParams(prompt="p", ratio="auto"), Registry(), CN)
    again = ImageParams.from_spec(spec_from_dict("image", spec.to_dict(), Registry()))
    assert again.ratio == "auto"
    assert validate_image(again, Registry(), CN).intelligent_ratio


def test_video_params_from_a_spec_and_from_its_stored_dict() -> None:
    reg = Registry()
    spec = validate_video(
        VideoParams(prompt="waves", model="jimeng-video-3.0", duration=10, resolution="1080p", ratio="9:16", frames=1),
        reg,
        CN,
    )
    for source in (spec, spec.to_dict()):
        again = VideoParams.from_spec(source)
        assert (again.model, again.duration, again.ratio, again.resolution, again.frames) == (
            "jimeng-video-3.0",
            10,
            "9:16",
            "1080p",
            1,
        )
        assert again.prompt == "waves" and again.seed is None
    assert VideoParams.from_spec(spec, new_seed=False).seed == spec.seed
    assert VideoParams.from_spec({}, prompt="x") == VideoParams(prompt="x")
