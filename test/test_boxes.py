# Copyright 2026 The rgbx_tracker_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""core/boxes.py: clipping published boxes and validating init boxes (hand-computed cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rgbx_tracker_ros.core.boxes import clip_box_xywh, validate_box_xywh, validate_init_box


def _inside(box, width, height) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height


# ------------------------------------------------------------------------------- clip_box_xywh

@pytest.mark.parametrize('box, width, height, want', [
    ((10, 20, 30, 40), 100, 100, (10, 20, 30, 40)),          # inside: unchanged
    ((0, 0, 100, 50), 100, 50, (0, 0, 100, 50)),             # exactly the image
    ((-5, -5, 30, 30), 100, 100, (0, 0, 25, 25)),            # top-left corner cut
    ((90, 95, 30, 30), 100, 100, (90, 95, 10, 5)),           # bottom-right corner cut
    ((-10, 40, 200, 10), 100, 100, (0, 40, 100, 10)),        # wider than the image
    ((2.5, 3.25, 4.5, 1.5), 6, 4, (2.5, 3.25, 3.5, 0.75)),   # sub-pixel: h 0.75 < 1 -> below
    # field report: images under 10 px gave [-9, -9, 19, 19]
    ((-9, -9, 19, 19), 8, 6, (0, 0, 8, 6)),
    ((-9, -9, 19, 19), 1, 1, (0, 0, 1, 1)),
    ((-9, -9, 19, 19), 9, 9, (0, 0, 9, 9)),
])
def test_clip_box_hand_computed(box, width, height, want):
    got = clip_box_xywh(box, width, height, min_size=0.5)
    assert got is not None and got.dtype == np.float64 and got.shape == (4,)
    np.testing.assert_allclose(got, want)
    assert _inside(got, width, height)


@pytest.mark.parametrize('box', [
    (100, 10, 5, 5),          # starts at the right edge
    (10, 100, 5, 5),          # starts at the bottom edge
    (-5, 10, 5, 5),           # ends at the left edge (x + w = 0)
    (10, -50, 5, 5),          # above the image
    (200, 200, 10, 10),
    (-1000, -1000, 10, 10),
    (10, 10, 0, 5),           # no width
    (10, 10, 5, -3),          # negative height
    (math.nan, 10, 5, 5),
    (10, 10, math.inf, 5),
])
def test_clip_box_outside_or_degenerate_is_none(box):
    assert clip_box_xywh(box, 100, 100) is None


def test_clip_box_min_size():
    # 99.5 -> 100 leaves 0.5 px: below the default 1 px
    assert clip_box_xywh((99.5, 10, 20, 20), 100, 100) is None
    np.testing.assert_allclose(clip_box_xywh((99, 10, 20, 20), 100, 100), (99, 10, 1, 20))
    assert clip_box_xywh((96, 10, 20, 20), 100, 100, min_size=5) is None
    np.testing.assert_allclose(clip_box_xywh((95, 10, 20, 20), 100, 100, min_size=5),
                               (95, 10, 5, 20))
    # an image smaller than min_size can hold no box
    assert clip_box_xywh((-9, -9, 19, 19), 1, 1, min_size=2) is None


def test_clip_box_accepts_arrays_and_never_aliases():
    box = np.array([[-3.0, 4.0, 10.0, 10.0]])
    got = clip_box_xywh(box, 5, 10)
    np.testing.assert_allclose(got, (0, 4, 5, 6))
    assert not np.shares_memory(got, box)
    np.testing.assert_array_equal(box, [[-3.0, 4.0, 10.0, 10.0]])


@pytest.mark.parametrize('args, fragment', [
    (((1, 2, 3), 10, 10), '4 numbers'),
    (((1, 2, 3, 4), 0, 10), 'image size must be positive'),
    (((1, 2, 3, 4), 10, -1), 'image size must be positive'),
    (((1, 2, 3, 4), 10, math.nan), 'image size must be positive'),
])
def test_clip_box_bad_arguments_raise(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        clip_box_xywh(*args)
    with pytest.raises(ValueError, match='min_size'):
        clip_box_xywh((1, 2, 3, 4), 10, 10, min_size=0)


def test_clipped_random_boxes_always_inside():
    rng = np.random.default_rng(7)
    for _ in range(2000):
        width, height = rng.integers(1, 40, size=2)
        box = rng.uniform(-60, 60, size=4)
        got = clip_box_xywh(box, width, height)
        if got is not None:
            assert _inside(got, width, height) and got[2] >= 1 and got[3] >= 1


# --------------------------------------------------------------------------- validate_init_box

def test_init_box_field_example_is_clipped_to_the_image():
    # field report: (-100, -100, 5000, 5000) was accepted and echoed unchanged
    np.testing.assert_allclose(validate_init_box((-100, -100, 5000, 5000), 640, 480),
                               (0, 0, 640, 480))
    np.testing.assert_allclose(validate_init_box((-100, -100, 5000, 5000), 8, 6, 1.0),
                               (0, 0, 8, 6))


@pytest.mark.parametrize('box, want', [
    ((100, 50, 40, 80), (100, 50, 40, 80)),
    ((-20, 10, 60, 30), (0, 10, 40, 30)),
    ((620, 460, 40, 40), (620, 460, 20, 20)),
    ((636, 476, 10, 10), (636, 476, 4, 4)),      # exactly the 4 px minimum left
    (np.array([1.5, 2.5, 4.5, 5.5]), (1.5, 2.5, 4.5, 5.5)),
])
def test_init_box_accepted(box, want):
    got = validate_init_box(box, 640, 480)
    np.testing.assert_allclose(got, want)
    assert got.dtype == np.float64 and _inside(got, 640, 480)


@pytest.mark.parametrize('box, fragment', [
    ((1, 2, math.nan, 4), '4 finite numbers'),
    ((math.inf, 2, 3, 4), '4 finite numbers'),
    ((1, 2, 3), '4 finite numbers'),
    ('abc', '4 finite numbers'),
    ((10, 10, 0, 20), 'w > 0 and h > 0'),
    ((10, 10, 20, -5), 'w > 0 and h > 0'),
    ((640, 10, 20, 20), 'lies outside'),
    ((-30, 10, 30, 20), 'lies outside'),
    ((1000, 1000, 5, 5), 'lies outside'),
    ((637, 10, 20, 20), 'covers 3x20 pixels inside the image, less than the minimum 4x4'),
    ((10, 10, 3.5, 3.5), 'covers 3.5x3.5 pixels'),
])
def test_init_box_rejected_with_reason_box_and_image_size(box, fragment):
    with pytest.raises(ValueError) as err:
        validate_init_box(box, 640, 480)
    msg = str(err.value)
    assert fragment in msg and '640x480 image' in msg
    if fragment != '4 finite numbers':
        assert str([float(v) for v in box]) in msg       # the box as given


def test_init_box_min_size_parameter():
    with pytest.raises(ValueError, match='less than the minimum 10x10'):
        validate_init_box((0, 0, 8, 40), 640, 480, min_size_px=10)
    np.testing.assert_allclose(validate_init_box((0, 0, 8, 40), 640, 480, min_size_px=8),
                               (0, 0, 8, 40))
    with pytest.raises(ValueError, match='image size must be positive'):
        validate_init_box((0, 0, 8, 8), 0, 480)


def test_validate_box_xywh_unchanged():
    np.testing.assert_array_equal(validate_box_xywh([1, 2, 3, 4], (10, 10)), [1, 2, 3, 4])
    with pytest.raises(ValueError, match='outside the 10x10 image'):
        validate_box_xywh([10, 2, 3, 4], (10, 10, 3))
