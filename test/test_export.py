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

"""Inference backends: every family exported as two graphs runs in onnxruntime / OpenVINO with
the torch model's maps (with X and on the masked missing-X path), the export check catches a
wrong engine, ``load_tracker(backend=...)`` exports once into its cache and tracks a real
sequence like torch, and missing backends are clear errors naming the package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rgbx_tracker_ros.core.types import BackendUnavailable
from rgbx_tracker_ros.export.check import compare_on_sequence
from rgbx_tracker_ros.export.engines import EngineError, open_engine, read_manifest
from rgbx_tracker_ros.export.graphs import example_inputs, export
from rgbx_tracker_ros.models.registry import create_model

REPO = Path(__file__).resolve().parents[1]
TNO = REPO.parent / 'shared' / 'data' / 'real' / 'tno_nato_camp'
T224 = REPO / 'checkpoints' / 't224_demo.pt'
FAMILY_TEST_VARIANTS = ('test_tiny', 'test_s14', 'test_xtrack', 'test_seatrack', 'test_patrack',
                        'test_vipt', 'test_mmmp')


def _random_model(variant: str, seed: int = 0):
    """A test variant with every parameter moved off its initialisation (zero-initialised
    experts and adapters would otherwise make the families' own paths no-ops)."""
    torch.manual_seed(seed)
    model = create_model(variant).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _max_diff(model, engine, use_x: bool, batch: int = 1) -> float:
    (z_rgb, z_x, _), (s_rgb, s_x, _, _) = example_inputs(model)
    s_rgb, s_x = s_rgb.repeat(batch, 1, 1, 1), (s_x * 0.5).repeat(batch, 1, 1, 1)
    with torch.no_grad():
        tokens = model.encode_template(z_rgb, z_x if use_x else None)
        ref = model(None, s_rgb, None, s_x if use_x else None,
                    template_tokens=tokens.expand(batch, -1, -1))
    e_tokens = engine.encode_template(z_rgb, z_x if use_x else None)
    out = engine(None, s_rgb, None, s_x if use_x else None,
                 template_tokens=e_tokens.expand(batch, -1, -1))
    pairs = [(tokens, e_tokens), (ref.score_map, out.score_map), (ref.size_map, out.size_map),
             (ref.offset_map, out.offset_map)]
    assert all(a.shape == b.shape for a, b in pairs)
    return max(float((a - b).abs().max()) for a, b in pairs)


@pytest.mark.parametrize('variant', FAMILY_TEST_VARIANTS)
def test_every_family_exports_and_onnxruntime_matches_torch(variant, tmp_path) -> None:
    model = _random_model(variant)
    graphs = export(model, 'onnx', tmp_path, variant)
    info = read_manifest(graphs.manifest)
    assert info['variant'] == variant and info['format'] == 'onnx'
    assert graphs.template.is_file() and graphs.search.is_file()
    assert not model.training             # the exporter must not leave the model in train mode
    engine = open_engine(graphs.manifest, 'onnxruntime', threads=1)
    # with X, and on the missing-X path (zeros + mask 0 in the graph, X None in torch)
    assert _max_diff(model, engine, use_x=True) < 1e-4
    assert _max_diff(model, engine, use_x=False) < 1e-4


def test_engine_runs_batches_tile_by_tile(tmp_path) -> None:
    model = _random_model('test_tiny', seed=1)
    engine = open_engine(export(model, 'onnx', tmp_path, 'm').manifest, 'onnxruntime')
    assert _max_diff(model, engine, use_x=True, batch=3) < 1e-4


def test_openvino_ir_and_onnx_match_torch(tmp_path) -> None:
    model = _random_model('test_xtrack', seed=2)
    graphs = export(model, 'openvino', tmp_path, 'x')
    assert graphs.template.suffix == '.xml' and graphs.template.with_suffix('.bin').is_file()
    ir = open_engine(graphs.manifest, 'openvino', threads=1)
    assert _max_diff(model, ir, use_x=True) < 1e-4
    assert _max_diff(model, ir, use_x=False) < 1e-4
    # OpenVINO also reads the ONNX export directly
    from_onnx = open_engine(tmp_path / 'x.json', 'openvino', threads=1)
    assert _max_diff(model, from_onnx, use_x=True) < 1e-4


def test_wrong_format_and_missing_files_are_clear_errors(tmp_path) -> None:
    graphs = export(_random_model('test_tiny'), 'onnx', tmp_path, 'm')
    with pytest.raises(EngineError, match='--format tensorrt'):
        open_engine(graphs.manifest, 'tensorrt')
    graphs.search.unlink()
    with pytest.raises(EngineError, match='m.search.onnx'):
        open_engine(graphs.manifest, 'onnxruntime')
    with pytest.raises(EngineError, match='rgbx-export'):
        open_engine(tmp_path / 'nothing.json', 'onnxruntime')
    with pytest.raises(ValueError, match='unknown backend'):
        open_engine(graphs.manifest, 'tflite')


def test_missing_backend_package_names_it(tmp_path, monkeypatch) -> None:
    graphs = export(_random_model('test_tiny'), 'onnx', tmp_path, 'm')
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)     # import raises ImportError
    with pytest.raises(BackendUnavailable, match="package 'onnxruntime"):
        open_engine(graphs.manifest, 'onnxruntime')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-GPU error')
def test_gpu_only_backends_say_so_on_a_cpu_machine(tmp_path) -> None:
    from rgbx_tracker_ros.export.graphs import to_tensorrt
    graphs = export(_random_model('test_tiny'), 'onnx', tmp_path, 'm')
    with pytest.raises(BackendUnavailable, match='tensorrt|CUDA'):
        to_tensorrt(graphs)
    with pytest.raises(BackendUnavailable, match='onnxruntime-gpu'):
        open_engine(graphs.manifest, 'onnxruntime', device='cuda')


@pytest.fixture(scope='module')
def tno():
    from rgbx_tracker_ros.data.sequences import load_sequence
    return load_sequence(TNO)


def test_export_check_on_real_crops_passes_and_catches_a_wrong_engine(tmp_path, tno) -> None:
    from rgbx_tracker_ros.models.checkpoint import load_checkpoint
    model, _ = load_checkpoint(T224)
    model.eval()
    engine = open_engine(export(model, 'onnx', tmp_path / 'good', 't224').manifest,
                         'onnxruntime')
    good = compare_on_sequence(model, engine, tno, max_frames=12, x_every=4)
    assert good.passed, good.line()
    assert good.frames == 12 and good.frames_without_x == 3
    assert good.max_score_diff < 1e-4 and good.max_box_px < 0.05
    # an engine of other weights (the same variant, its head perturbed) must fail the check
    other, _ = load_checkpoint(T224)
    with torch.no_grad():
        for name, p in other.named_parameters():
            if 'box_head' in name:
                p.add_(torch.randn_like(p) * 0.05)
    bad_engine = open_engine(export(other, 'onnx', tmp_path / 'bad', 't224').manifest,
                             'onnxruntime')
    bad = compare_on_sequence(model, bad_engine, tno, max_frames=6)
    assert not bad.passed and bad.max_score_diff > 1e-2


def test_load_tracker_exports_once_into_its_cache_and_tracks_like_torch(tmp_path, tno) -> None:
    from rgbx_tracker_ros.core.modality import encode_rgb, encode_x
    from rgbx_tracker_ros.models.factory import load_tracker
    cache = tmp_path / 'engines'
    onnx = load_tracker(T224, device='cpu', backend='onnxruntime', engine_cache=cache)
    assert onnx.backend.startswith('onnxruntime (CPU')
    manifests = list(cache.glob('*/t224.json'))
    assert len(manifests) == 1
    stamp = manifests[0].stat().st_mtime_ns
    again = load_tracker(T224, device='cpu', backend='onnxruntime', engine_cache=cache)
    assert manifests[0].stat().st_mtime_ns == stamp and len(list(cache.iterdir())) == 1
    ref = load_tracker(T224, device='cpu', precision='fp32')
    frames = range(tno.first_valid_frame(), tno.first_valid_frame() + 8)
    for k, i in enumerate(frames):
        rgb = encode_rgb(tno.read_rgb(i), tno.rgb_encoding)
        x = None if k % 3 == 2 else encode_x(tno.read_x(i), tno.x_encoding, tno.modality)
        if k == 0:
            for t in (ref, onnx, again):
                t.initialize(rgb, x, tno.gt_xywh[i])
            continue
        boxes = [t.track(rgb, x)[0] for t in (ref, onnx, again)]
        assert np.abs(boxes[1] - boxes[0]).max() < 0.5
        assert np.array_equal(boxes[1], boxes[2])
    with pytest.raises(ValueError, match='unknown backend'):
        load_tracker(T224, device='cpu', backend='tflite')


def test_rgbx_export_cli(tmp_path, capsys) -> None:
    from rgbx_tracker_ros.cli.export import main
    assert main(['--checkpoint', 'none', '--variant', 'test_tiny', '--format', 'onnx',
                 '--out', str(tmp_path), '--no-check']) == 0
    assert (tmp_path / 'test_tiny.search.onnx').is_file()
    assert main(['--checkpoint', 'none', '--variant', 'test_tiny', '--format', 'onnx',
                 '--out', str(tmp_path), '--check-sequence', str(TNO),
                 '--check-frames', '5']) == 0
    assert 'ok: 5 frames of tno_nato_camp' in capsys.readouterr().out
    assert main(['--checkpoint', str(tmp_path / 'missing.pt'), '--format', 'onnx',
                 '--out', str(tmp_path)]) == 2
    assert 'missing.pt' in capsys.readouterr().err
