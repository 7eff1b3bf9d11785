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

"""core.depth: median depth inside a box, pinhole back-projection, intrinsics scaling."""

from __future__ import annotations

import numpy as np
import pytest

from rgbx_tracker_ros.core.depth import (
    back_project, check_intrinsics, DepthError, depth_to_metres, median_depth_in_box,
    scale_intrinsics, target_position)

K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])


def _project(p: np.ndarray, k: np.ndarray) -> tuple[float, float]:
    return k[0, 0] * p[0] / p[2] + k[0, 2], k[1, 1] * p[1] / p[2] + k[1, 2]


def test_depth_to_metres_marks_invalid_pixels() -> None:
    mm = np.array([[0, 1500], [65535, 2]], np.uint16)
    m = depth_to_metres(mm, '16UC1')
    assert np.isnan(m[0, 0]) and m[0, 1] == pytest.approx(1.5) and m[1, 1] == pytest.approx(0.002)
    f = depth_to_metres(np.array([[np.nan, np.inf], [-1.0, 2.5]], np.float32), '32FC1')
    assert np.isnan(f[:, 0]).all() and np.isnan(f[1, 0]) and f[1, 1] == pytest.approx(2.5)
    assert np.isnan(f[0, 1])
    with pytest.raises(DepthError, match='rgb8'):
        depth_to_metres(mm, 'rgb8')


def test_median_ignores_zero_and_nan_and_clips_the_box() -> None:
    d = np.full((10, 10), np.nan, np.float32)
    d[2:6, 2:6] = 3.0
    d[2, 2:6] = 1.0                     # a quarter of the box is nearer
    d[5, 2:6] = np.nan                  # holes
    z, frac, valid = median_depth_in_box(d, (2, 2, 4, 4))
    assert z == pytest.approx(3.0) and frac == pytest.approx(12 / 16) and valid.size == 12
    z, frac, _ = median_depth_in_box(d, (-5, -5, 8, 8))       # clipped to [0, 3) x [0, 3)
    assert frac == pytest.approx(1 / 9) and z == pytest.approx(1.0)   # only pixel (2, 2)
    assert np.isnan(median_depth_in_box(d, (20, 20, 4, 4))[0])


def test_back_projection_inverts_the_pinhole_projection() -> None:
    p = np.array([-0.4, 0.25, 3.2])
    u, v = _project(p, K)
    np.testing.assert_allclose(back_project(u, v, p[2], K), p, atol=1e-12)


def test_target_position_recovers_a_known_point_with_resized_images() -> None:
    p = np.array([0.5, -0.3, 2.5])
    depth = np.full((480, 640), 6.0, np.float32)
    u, v = _project(p, K)
    half = 0.25 * K[0, 0] / p[2]        # a 0.5 m wide target
    x0, y0 = u + 0.5 - half, v + 0.5 - half
    depth[int(np.ceil(y0)):int(y0 + 2 * half), int(np.ceil(x0)):int(x0 + 2 * half)] = p[2]
    box_rgb = np.array([x0, y0, 2 * half, 2 * half]) * 1.5    # RGB is 960x720
    pos = target_position(depth, box_rgb, K.reshape(-1), box_image_wh=(960, 720))
    np.testing.assert_allclose(pos.xyz, p, atol=2e-3)
    assert pos.depth_m == pytest.approx(p[2])
    np.testing.assert_allclose(pos.size_xyz[:2], [0.5, 0.5], atol=0.01)
    assert pos.size_xyz[2] == pytest.approx(0.05)             # flat target: minimum extent
    # intrinsics calibrated at 1280x960 for the 640x480 depth image: rescaled
    k2 = scale_intrinsics(K, (640, 480), (1280, 960))
    pos2 = target_position(depth, box_rgb, k2, box_image_wh=(960, 720), k_image_wh=(1280, 960))
    np.testing.assert_allclose(pos2.xyz, p, atol=2e-3)
    # no valid depth in the box
    assert target_position(np.full((480, 640), np.nan, np.float32), box_rgb, K,
                           box_image_wh=(960, 720)) is None


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(DepthError, match='not calibrated'):
        check_intrinsics(np.zeros(9))
    with pytest.raises(DepthError, match='9 finite'):
        check_intrinsics([1.0, 2.0])
    with pytest.raises(DepthError, match='metres'):
        target_position(np.zeros((4, 4), np.uint16), (0, 0, 2, 2), K)
    with pytest.raises(DepthError, match='w, h > 0'):
        target_position(np.zeros((4, 4), np.float32), (0, 0, 0, 2), K)
