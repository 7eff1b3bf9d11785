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

"""Precision and success plots of a :class:`~rgbx_tracker_ros.eval.scoring.ReportResult`: every
run's curve averaged over the sequences, on one figure (matplotlib's Agg canvas: no display,
no global backend change)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rgbx_tracker_ros.eval import metrics
from rgbx_tracker_ros.eval.scoring import ReportResult

_RUN_MPL = ('tab:red', 'tab:blue', 'tab:orange', 'tab:purple', 'tab:cyan', 'tab:pink',
            'tab:brown', 'tab:gray')


def plot_curves(result: ReportResult, path: Path, kind: str, title: str) -> Path:
    """Write the 'precision' (centre error, pixels) or 'success' (IoU) plot of every run of
    ``result`` to ``path`` (PNG); the legend gives PR@20px / SR in percent."""
    fig = Figure(figsize=(6.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, (run_name, avg) in enumerate(result.overall.items()):
        colour = _RUN_MPL[i % len(_RUN_MPL)]
        if kind == 'precision':
            ax.plot(metrics.PR_THRESHOLDS_PX, avg.pr_curve, color=colour, linewidth=2,
                    label=f'{run_name} [{100 * avg.pr:.1f}]')
        else:
            ax.plot(metrics.SR_THRESHOLDS, avg.sr_curve, color=colour, linewidth=2,
                    label=f'{run_name} [{100 * avg.sr:.1f}]')
    if kind == 'precision':
        ax.set_xlabel('location error threshold (pixels)')
        ax.set_ylabel('precision')
        ax.axvline(20, color='0.6', linestyle=':', linewidth=1)
        ax.set_xlim(0, 50)
    else:
        ax.set_xlabel('overlap threshold (IoU)')
        ax.set_ylabel('success rate')
        ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(loc='lower right' if kind == 'precision' else 'lower left', fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path))
    return path
