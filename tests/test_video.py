import cv2
import numpy as np
import pytest
from media import decoded_indices, patch_avi_frame_count, truncate, write_index_clip

from har import video
from har.demo import write_video
from har.errors import ClipTooShortError, VideoError
from har.video import count_decodable_frames, extract_frames, iter_frames, sample_frame_indices, video_info


def every_frame_index(path):
    """Reference: the index each frame shows, reading every frame with plain ``read()`` (truth of what decodes).

    A frame cut in half by truncation still decodes, as a concealed copy of the one before it.
    """
    return decoded_indices(np.array(list(iter_frames(path))))


def test_sample_indices_are_evenly_spaced_and_span_the_clip():
    idx = sample_frame_indices(199, 20)
    assert len(idx) == 20 and idx[0] == 0 and idx[-1] == 198
    gaps = np.diff(idx)
    assert gaps.min() >= 10 and gaps.max() <= 11  # 198 / 19 = 10.4


def test_sample_indices_repeat_when_clip_is_shorter_than_sequence():
    idx = sample_frame_indices(5, 20)
    assert sorted(set(idx.tolist())) == [0, 1, 2, 3, 4]
    assert np.all(np.diff(idx) >= 0)
    with pytest.raises(ValueError):
        sample_frame_indices(0, 20)


def test_extract_frames_returns_evenly_spaced_rgb_uint8(tmp_path):
    clip = write_index_clip(tmp_path / "v_Index_g01_c01.avi", 77)
    frames = extract_frames(clip, 20, (32, 40))
    assert frames.shape == (20, 32, 40, 3) and frames.dtype == np.uint8
    assert decoded_indices(frames).tolist() == sample_frame_indices(77, 20).tolist()


def test_extract_frames_converts_bgr_to_rgb(tmp_path):
    blue_bgr = np.zeros((48, 64, 3), np.uint8)
    blue_bgr[..., 0] = 255
    clip = write_video(tmp_path / "blue.avi", [blue_bgr] * 25)
    frames = extract_frames(clip, 5, (16, 16))
    assert frames[..., 2].mean() > 200 and frames[..., 0].mean() < 40


def test_frame_count_that_lies_high_samples_frames_that_really_decode(tmp_path):
    full = write_index_clip(tmp_path / "full.avi", 110)
    cut = truncate(full, tmp_path / "cut.avi", 0.6)
    reported, really = video_info(cut).frame_count, count_decodable_frames(cut)
    assert reported == 110 and 20 <= really < 110  # the container lies
    frames = extract_frames(cut, 20, (16, 16))
    truth = every_frame_index(cut)
    assert len(truth) == really
    assert decoded_indices(frames).tolist() == truth[sample_frame_indices(really, 20)].tolist()


def test_frame_count_that_lies_low_still_spans_the_whole_clip(tmp_path):
    full = write_index_clip(tmp_path / "full.avi", 100)
    low = patch_avi_frame_count(full, tmp_path / "low.avi", 60)
    assert video_info(low).frame_count == 60 and count_decodable_frames(low) == 100
    frames = extract_frames(low, 20, (16, 16))
    assert decoded_indices(frames).tolist() == sample_frame_indices(100, 20).tolist()


def test_honest_clip_is_decoded_once_and_lying_clip_twice(tmp_path, monkeypatch):
    full = write_index_clip(tmp_path / "full.avi", 90)  # writing checks the clip: count after
    passes = []
    real = video._decode_pass
    monkeypatch.setattr(video, "_decode_pass", lambda *a, **k: passes.append(1) or real(*a, **k))
    extract_frames(full, 20, (16, 16))
    assert len(passes) == 1
    extract_frames(truncate(full, tmp_path / "cut.avi", 0.8), 20, (16, 16))
    assert len(passes) == 3


def test_extraction_does_not_seek(tmp_path, monkeypatch):
    clip = write_index_clip(tmp_path / "clip.avi", 60)
    seeks = []
    real_capture = cv2.VideoCapture

    class RecordingCapture:  # a wrapper, not a subclass: subclassing OpenCV's C++ class crashes
        def __init__(self, *args):
            self._capture = real_capture(*args)

        def set(self, prop, value):
            seeks.append(prop)
            return self._capture.set(prop, value)

        def __getattr__(self, name):
            return getattr(self._capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    extract_frames(clip, 20, (16, 16))
    assert seeks == []


def test_short_clip_raises_or_repeats_frames(tmp_path):
    clip = write_index_clip(tmp_path / "short.avi", 7)
    with pytest.raises(ClipTooShortError, match="only 7 frames decode, fewer than the sequence length 20"):
        extract_frames(clip, 20, (16, 16))
    frames = extract_frames(clip, 20, (16, 16), allow_short=True)
    assert decoded_indices(frames).tolist() == sample_frame_indices(7, 20).tolist()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such video file"),
        (b"", "the file is empty"),
        (b"this is not a video\n" * 50, "cannot be opened as a video"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.avi"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        extract_frames(path)


def test_clip_cut_inside_its_header_is_refused(tmp_path):
    full = write_index_clip(tmp_path / "full.avi", 40)
    cut = truncate(full, tmp_path / "cut.avi", 0.02)
    with pytest.raises(VideoError):
        extract_frames(cut)
