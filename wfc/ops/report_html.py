"""The HTML of ``wfc report``: one self-contained page rendered from a :class:`~wfc.ops.report.Report`.

Everything is inline: the CSS, the two SVG pictures (the DAG, one box per node with its steps'
counts by status, laid out in layers here; the timeline, one lane per sample), and a few lines of
vanilla JavaScript that sort the tables. A Content-Security-Policy forbids every fetch, so the page
opens from a file and never touches the network. Every recorded string is escaped: node names,
params and stderr tails are input, not markup. Markup per step is kept small so that a run of
1,000 steps stays well under 2 MB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from wfc.output import plural, size_text

if TYPE_CHECKING:
    from wfc.ops.report import Node, Report, Step

COLOURS = {
    "completed": "#2e7d32",
    "cached": "#1565c0",
    "failed": "#c62828",
    "cancelled": "#757575",
    "running": "#ef8f00",
}
SEVERITY = ["failed", "cancelled", "running", "completed", "cached"]  # a node shows its worst
NONE = "\N{EN DASH}"  # an empty cell
MAX_NODES = 300  # boxes drawn in the DAG
MAX_OUTPUT_ROWS = 5000
MAX_TAILS = 50  # failed steps whose stderr tail is shown in full
TAIL_CHARS = 4000
PARAM_SETS = 5  # distinct params shown per node
BOX_W, BOX_H, GAP_X, GAP_Y = 210, 58, 50, 14
LABEL_W, PLOT_W = 170, 860

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121}h1{font-size:22px}
h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}table{border-collapse:collapse}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{cursor:pointer;background:#f5f5f5;position:sticky;top:0}td.n{text-align:right;white-space:nowrap}td.t{white-space:nowrap}
.b{color:#fff;border-radius:3px;padding:0 5px}code,pre{font:12px ui-monospace,monospace}
pre{background:#fafafa;border:1px solid #eee;padding:8px;white-space:pre-wrap;max-height:320px;
overflow:auto}.e{color:#c62828}.w{max-width:360px}dl{display:grid;grid-template-columns:max-content auto;
gap:2px 16px}dd{margin:0}.note{color:#666}svg text{font:11px system-ui,sans-serif}"""
CSS += "".join(f".s-{k}{{background:{v}}}" for k, v in COLOURS.items())
SORT_JS = """for(const th of document.querySelectorAll('table.sort th'))th.onclick=()=>{
const t=th.closest('table'),b=t.tBodies[0],i=th.cellIndex,d=th.dataset.d=th.dataset.d==='1'?'-1':'1';
const k=r=>{const c=r.cells[i];return c.dataset.v??c.textContent};
[...b.rows].sort((x,y)=>{const p=k(x),q=k(y),n=parseFloat(p)-parseFloat(q);
return(isNaN(n)?p.localeCompare(q):n)*d}).forEach(r=>b.appendChild(r))}"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render(report: Report) -> str:
    """The whole page."""
    title = f"wfc report: {report.pipeline} {report.pipeline_run}"
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        _summary(report),
        "<h2>Pipeline</h2>",
        _dag(report),
        "<h2>Timeline</h2>",
        _timeline(report.steps),
        "<h2>Steps</h2>",
        _steps(report.steps),
        _failures(report.steps),
        "<h2>Params</h2>",
        _params(report),
        "<h2>Outputs</h2>",
        _outputs(report.steps),
        "<h2>Environments</h2>",
        _environments(report.steps),
        f"<script>{SORT_JS}</script></body></html>\n",
    ]
    return "".join(parts)


def _summary(r: Report) -> str:
    counts: dict[str, int] = {}
    for step in r.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    tally = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
    earlier = r.attempts - len(r.steps)
    if earlier:
        tally += f" ({earlier} earlier attempts of these steps not shown)"
    facts = [
        ("Pipeline run", f"<code>{escape(r.pipeline_run)}</code>"),
        ("Status", _badge(r.status)),
        ("Started (UTC)", _time(r.started_at)),
        ("Ended (UTC)", _time(r.ended_at) if r.ended_at else NONE),
        ("Took", _secs(_elapsed(r.started_at, r.ended_at))),
        ("Git commit", f"<code>{escape(r.git_commit)}</code>" if r.git_commit else f"{NONE} (none recorded)"),
        ("Steps", f"{len(r.steps)}: {escape(tally)}"),
        ("Host", escape(r.host)),
        ("wfc", escape(r.wfc_version)),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f"<h1>{escape(r.pipeline)}</h1><dl>{rows}</dl>"


def _layers(nodes: tuple[Node, ...], edges: tuple[tuple[str, str], ...]) -> list[list[str]]:
    """Nodes in columns: each node one column right of its furthest predecessor (cycles, which a
    valid pipeline never has, are cut), ordered in a column by their predecessors' rows."""
    ids = [n.id for n in nodes]
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        if a in preds and b in preds:
            preds[b].append(a)
    depth: dict[str, int] = {}
    for _ in range(len(ids) + 1):
        changed = False
        for i in ids:
            d = max((depth.get(p, 0) + 1 for p in preds[i]), default=0)
            if d != depth.get(i) and d <= len(ids):
                depth[i], changed = d, True
        if not changed:
            break
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=0) + 1)]
    row: dict[str, float] = {}
    for i in sorted(ids, key=lambda i: depth[i]):
        column = columns[depth[i]]
        above = [row[p] for p in preds[i] if p in row]
        column.append(i)
        row[i] = sum(above) / len(above) if above else len(column)
    for column in columns:
        column.sort(key=lambda i: row[i])
        for n, i in enumerate(column):
            row[i] = n
    return [c for c in columns if c]


def _dag(r: Report) -> str:
    nodes = r.nodes[:MAX_NODES]
    note = (
        f'<p class="note">Showing {MAX_NODES} of {len(r.nodes)} nodes.</p>'
        if len(r.nodes) > MAX_NODES
        else ""
    )
    if not nodes:
        return '<p class="note">No nodes recorded.</p>'
    by_id = {n.id: n for n in nodes}
    at: dict[str, tuple[int, int]] = {}
    columns = _layers(nodes, r.edges)
    for c, column in enumerate(columns):
        for n, i in enumerate(column):
            at[i] = (c * (BOX_W + GAP_X) + 4, n * (BOX_H + GAP_Y) + 4)
    width = len(columns) * (BOX_W + GAP_X)
    height = max(len(c) for c in columns) * (BOX_H + GAP_Y) + 8
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0L8,4L0,8z" fill="#999"/></marker></defs>'
    ]
    for a, b in r.edges:
        if a in at and b in at:
            (x1, y1), (x2, y2) = at[a], at[b]
            x1, y1, y2 = x1 + BOX_W, y1 + BOX_H // 2, y2 + BOX_H // 2
            mid = (x1 + x2) // 2
            out.append(
                f'<path d="M{x1},{y1}C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#999" '
                'marker-end="url(#arrow)"/>'
            )
    for i, (x, y) in at.items():
        out.append(_box(by_id[i], x, y))
    out.append("</svg>")
    return note + "".join(out)


def _box(node: Node, x: int, y: int) -> str:
    """A node: filled with its worst status, named, with its steps' counts in words and as a bar."""
    worst = next((s for s in SEVERITY if node.counts.get(s)), "")
    fill = COLOURS.get(worst, "#eceff1")
    ink = "#fff" if worst else "#212121"
    total = sum(node.counts.values())
    detail = " · ".join(f"{node.counts[s]} {s}" for s in SEVERITY if node.counts.get(s))
    detail = detail or ("" if node.kind == "input" else "no steps")
    parts = [
        f'<g data-node-id="{escape(node.id)}" data-status="{worst or node.kind}">'
        f"<title>{escape(f'{node.id} ({node.label}): {detail or node.kind}')}</title>"
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}"/>'
        f'<text x="{x + 8}" y="{y + 16}" fill="{ink}" font-weight="bold">{escape(_cut(node.id, 28))}</text>'
        f'<text x="{x + 8}" y="{y + 30}" fill="{ink}">{escape(_cut(node.label, 32))}</text>'
        f'<text x="{x + 8}" y="{y + 44}" fill="{ink}">{escape(_cut(detail, 32))}</text>'
    ]
    if total:  # the counts as a bar: one segment per status, on a white strip
        parts.append(f'<rect x="{x + 7}" y="{y + BOX_H - 9}" width="{BOX_W - 14}" height="6" fill="#fff"/>')
    left = float(x + 8)
    for status in SEVERITY if total else ():
        w = (BOX_W - 16) * node.counts.get(status, 0) / total
        if w:
            bar = f'x="{left:.1f}" y="{y + BOX_H - 8}" width="{w:.1f}" height="4"'
            parts.append(f'<rect {bar} fill="{COLOURS[status]}"/>')
            left += w
    return "".join(parts) + "</g>"


def _timeline(steps: tuple[Step, ...]) -> str:
    if not steps:
        return '<p class="note">No steps recorded.</p>'
    t0 = min(s.started_at for s in steps)
    span = max(max(_elapsed(t0, s.ended_at or s.started_at) or 0 for s in steps), 0.001)
    lanes = sorted({s.sample or "" for s in steps})
    lane_h = 18 if len(lanes) <= 60 else max(4, 1200 // len(lanes))
    height = len(lanes) * lane_h + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + PLOT_W + 20}" height="{height}" '
        'role="img">'
    ]
    for k in range(5):
        tick = LABEL_W + PLOT_W * k // 4
        out.append(f'<line x1="{tick}" y1="0" x2="{tick}" y2="{height - 16}" stroke="#eee"/>')
        out.append(f'<text x="{tick}" y="{height - 4}" text-anchor="middle">{_secs(span * k / 4)}</text>')
    row = {lane: n for n, lane in enumerate(lanes)}
    for n, lane in enumerate(lanes):
        if lane_h >= 12:
            label = escape(_cut(lane or "(no sample)", 26))
            out.append(f'<text x="0" y="{n * lane_h + lane_h - 5}">{label}</text>')
    for s in steps:
        start = _elapsed(t0, s.started_at) or 0.0
        took = _elapsed(s.started_at, s.ended_at) or 0.0
        x = LABEL_W + start / span * PLOT_W
        w = max(3.0, took / span * PLOT_W)
        y = row[s.sample or ""] * lane_h + 2
        fill = COLOURS.get(s.status, "#bbb")
        look = f'fill="#fff" stroke="{fill}"' if s.status == "cached" else f'fill="{fill}"'
        tip = escape(f"{s.name}: {s.status}, {_secs(took)}")
        out.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{max(lane_h - 4, 2)}" {look}>'
            f"<title>{tip}</title></rect>"
        )
    out.append("</svg>")
    legend = " ".join(_badge(s) for s in SEVERITY)
    return f'<p class="note">Executed steps are filled, cached steps outlined: {legend}</p>{"".join(out)}'


def _steps(steps: tuple[Step, ...]) -> str:
    head = "Step Status Why Started&nbsp;(UTC) Took CPU Peak&nbsp;memory Cached&nbsp;from Env Outputs"
    rows = []
    for s in steps:
        why = escape(s.reason or ("cache hit" if s.status == "cached" else ""))
        if s.error:
            why += f'<div class="e">{escape(s.error)}</div>'
        took = s.wall_s if s.wall_s is not None else _elapsed(s.started_at, s.ended_at)
        size = sum(o.size for o in s.outputs)
        rows.append(
            f'<tr data-status="{escape(s.status)}"><td>{escape(s.name)}</td><td>{_badge(s.status)}</td>'
            f'<td class="w">{why}</td><td class="t">{_time(s.started_at)}</td>{_num(took, _secs)}'
            f"{_num(s.cpu_s, _secs)}{_num(s.peak_memory_bytes, size_text)}"
            f"<td>{_code(s.cache_source)}</td>"
            f'<td title="{escape(s.env_digest)}">{escape(s.env_name)}</td>'
            f'<td class="n" data-v="{size}">{len(s.outputs)} · {size_text(size)}</td></tr>'
        )
    header = "".join(f"<th>{h}</th>" for h in head.split())
    return f'<table class="sort"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _failures(steps: tuple[Step, ...]) -> str:
    failed = [s for s in steps if s.status == "failed"]
    if not failed:
        return ""
    out = ["<h2>Failed steps</h2>"]
    for s in failed[:MAX_TAILS]:
        tail = (s.error_tail or "(no stderr recorded)")[-TAIL_CHARS:]
        out.append(
            f"<h3>{escape(s.name)} <code>{escape(s.run_id)}</code></h3>"
            f'<p class="e">{escape(s.error or "")}</p><pre>{escape(tail)}</pre>'
        )
    if len(failed) > MAX_TAILS:
        rest = ", ".join(escape(s.name) for s in failed[MAX_TAILS:])
        out.append(f'<p class="note">{len(failed) - MAX_TAILS} more failed (see the table): {rest}</p>')
    return "".join(out)


def _params(r: Report) -> str:
    by_node: dict[str, dict[str, int]] = {}
    for s in r.steps:
        text = json.dumps(s.params, sort_keys=True, ensure_ascii=False)
        sets = by_node.setdefault(s.node, {})
        sets[text] = sets.get(text, 0) + 1
    rows = []
    for node, sets in by_node.items():
        shown = [
            f"<code>{escape(t)}</code> ({plural(n, 'step')})" for t, n in list(sets.items())[:PARAM_SETS]
        ]
        if len(sets) > PARAM_SETS:
            shown.append(f'<span class="note">… {len(sets) - PARAM_SETS} more sets</span>')
        rows.append(f"<tr><td>{escape(node)}</td><td>{'<br>'.join(shown)}</td></tr>")
    head = "<tr><th>Node</th><th>Params</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _outputs(steps: tuple[Step, ...]) -> str:
    rows = [
        f"<tr><td>{escape(s.name)}</td><td>{escape(o.slot)}</td><td>{escape(o.path)}</td>"
        f'<td class="n" data-v="{o.size}">{size_text(o.size)}</td><td>{_code(o.hash)}</td></tr>'
        for s in steps
        for o in s.outputs
    ]
    if not rows:
        return '<p class="note">No outputs recorded.</p>'
    note = ""
    if len(rows) > MAX_OUTPUT_ROWS:
        note = f'<p class="note">Showing {MAX_OUTPUT_ROWS} of {len(rows)} outputs.</p>'
    head = "".join(f"<th>{h}</th>" for h in ("Step", "Slot", "Path", "Size", "Hash"))
    body = "".join(rows[:MAX_OUTPUT_ROWS])
    return f'{note}<table class="sort"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _environments(steps: tuple[Step, ...]) -> str:
    used: dict[tuple[str, str], int] = {}
    for s in steps:
        used[(s.env_name, s.env_digest)] = used.get((s.env_name, s.env_digest), 0) + 1
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td><code>{escape(digest)}</code></td><td class='n'>{n}</td></tr>"
        for (name, digest), n in sorted(used.items())
    )
    head = "<tr><th>Environment</th><th>Image digest</th><th>Steps</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _badge(status: str) -> str:
    return f'<span class="b s-{escape(status)}">{escape(status)}</span>'


def _code(digest: str | None) -> str:
    """A hash or id shortened, whole in its title; an en dash for none."""
    if not digest:
        return NONE
    algo, sep, hexa = digest.rpartition(":")
    short = f"{algo}{sep}{hexa[:12]}…" if len(hexa) > 14 else digest
    return f'<code title="{escape(digest)}">{escape(short)}</code>'


def _num(value: float | None, show: Callable[[float], str]) -> str:
    if value is None:
        return f'<td class="n" data-v="-1">{NONE}</td>'
    return f'<td class="n" data-v="{value:g}">{show(value)}</td>'


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _elapsed(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end else None


def _secs(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 1:  # a short step's CPU time is milliseconds, not 0.0s
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
