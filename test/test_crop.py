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

"""Crop geometry, back-mapping, clipping and the Hanning window (OSTrack conventions)."""

import math

import numpy as np
import pytest

from rgbx_tracker_ros.core.crop import clip_box, crop_square, hann2d, map_box_back


def test_crop_side_and_resize_factor_follow_ostrack():
    img = np.zeros((100, 200, 3), np.uint8)
    # box 20x5 -> sqrt(100) = 10 -> side ceil(10 * 4) = 40; resize factor 128 / 40
    crops, factor = crop_square([img], (50, 40, 20, 5), 4.0, 128)
    assert crops[0].shape == (128, 128, 3)
    assert factor == pytest.approx(128 / 40)


def test_crop_content_is_centred_on_the_box_and_padded_black():
    img = np.full((60, 80, 3), 200, np.uint8)
    img[20:30, 30:40] = 10                     # a dark 10x10 target at (30, 20)
    crops, factor = crop_square([img], (30, 20, 10, 10), 2.0, 20)   # side 20, factor 1
    assert factor == 1.0
    crop = crops[0]
    assert (crop[5:15, 5:15] == 10).all()       # target in the middle
    assert (crop[:5, :5] == 200).all()          # inside the image: background

    crops, _ = crop_square([img], (0, 0, 10, 10), 4.0, 40)   # side 40 starting at (-15, -15)
    assert (crops[0][:15, :15] == 0).all()      # outside the image: black padding
    assert (crops[0][20:25, 20:25] == 200).all()


def test_same_geometry_for_rgb_and_x():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    crops, _ = crop_square([rgb, rgb.copy()], (40.3, 30.7, 17, 23), 4.0, 64)
    np.testing.assert_array_equal(crops[0], crops[1])


def test_crop_errors_are_clear():
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match='too small'):
        crop_square([img], (1, 1, 0, 0), 4.0, 32)
    with pytest.raises(ValueError, match='same height and width'):
        crop_square([img, np.zeros((11, 10, 3), np.uint8)], (1, 1, 4, 4), 4.0, 32)


def test_map_box_back_inverts_the_crop():
    prev = np.array([100.0, 50.0, 20.0, 10.0])
    side = math.ceil(math.sqrt(200) * 4)            # 57
    factor = 224 / side
    # A box at the crop centre with the previous size maps back onto the previous box.
    norm = np.array([0.5, 0.5, 20 * factor / 224, 10 * factor / 224])
    np.testing.assert_allclose(map_box_back(norm, prev, 224, factor), prev, atol=1e-9)
    # A shift of 0.25 of the crop is 0.25 * side pixels in the image.
    shifted = map_box_back(norm + [0.25, 0, 0, 0], prev, 224, factor)
    assert shifted[0] == pytest.approx(100 + 0.25 * side)


def test_clip_box_keeps_margin():
    np.testing.assert_allclose(clip_box((-5, -5, 30, 30), 100, 100), [0, 0, 25, 25])
    np.testing.assert_allclose(clip_box((98, 50, 30, 4), 100, 100), [90, 50, 10, 10])


def test_hann_window_matches_definition():
    w = hann2d(16)
    k = np.arange(1, 17)
    one_d = 0.5 * (1 - np.cos(2 * np.pi * k / 17))
    np.testing.assert_allclose(w, np.outer(one_d, one_d))
    assert w.shape == (16, 16) and w.min() > 0
    assert np.unravel_index(w.argmax(), w.shape) in {(7, 7), (7, 8), (8, 7), (8, 8)}


def test_normalize_crops_is_imagenet_normalisation_in_planar_layout():
    from rgbx_tracker_ros.core.tracker import IMAGENET_MEAN, IMAGENET_STD, normalize_crops
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    crops, _ = crop_square([img, img[:, ::-1].copy()], (40.3, 30.7, 17, 23), 4.0, 64)
    crops.append(img[10:74:, 20:84])                       # a strided (non-contiguous) view
    out = normalize_crops(crops, 'cpu')
    ref = (np.stack(crops).astype(np.float64) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    assert out.shape == (3, 3, 64, 64) and out.dtype.is_floating_point
    assert out.is_contiguous()
    np.testing.assert_allclose(out.numpy(), ref.transpose(0, 3, 1, 2), atol=2e-6)
    # extremes of the uint8 range land on (0 - mean) / std and (1 - mean) / std per channel
    flat = normalize_crops([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)],
                           'cpu').numpy()
    np.testing.assert_allclose(flat[0, :, 0, 0], -IMAGENET_MEAN / IMAGENET_STD, atol=1e-6)
    np.testing.assert_allclose(flat[1, :, 0, 0], (1 - IMAGENET_MEAN) / IMAGENET_STD, atol=1e-6)


def test_normalize_crops_refuses_what_is_not_one_size_of_rgb():
    from rgbx_tracker_ros.core.tracker import normalize_crops
    with pytest.raises(ValueError, match=r'\(H, W, 3\) crops of one size'):
        normalize_crops([np.zeros((8, 8), np.uint8)], 'cpu')
    with pytest.raises(ValueError, match='one size'):
        normalize_crops([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], 'cpu')
    with pytest.raises(ValueError, match='at least one'):
        normalize_crops([], 'cpu')
