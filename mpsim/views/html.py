"""One self-contained HTML file per result (``--html``): inline CSS, JS and SVG, figures as data:
URIs, the result itself as embedded JSON; nothing is fetched when it opens.

Every figure shown is formatted by ``mpsim.fmt`` from the same dict that ``--json`` writes, and
carries its raw value (``data-key``, ``data-value``) so a test can compare the two."""

from __future__ import annotations

import json
from html import escape
from typing import Any, Sequence

from mpsim.fmt import count, joules, nbytes, number, percent, rate, seconds, watts
from mpsim.views import svg
from mpsim.views.doc import stamp
from mpsim.views.run_tables import (class_records, latency_table, operations_table, traffic_table, units_table,
                                    verdict_text)
from mpsim.views.table import Cell, TableView

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:0 18px 40px;color:#222}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 10px}.kpis{display:flex;flex-wrap:wrap;gap:10px}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.kpi .label{font-size:12px;color:#666}.kpi .value{font-size:18px;font-weight:600}
.kpi .more{font-size:12px;color:#444}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6;cursor:pointer;user-select:none;white-space:nowrap}td.num{text-align:right;white-space:nowrap}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
.bar{position:relative;background:#f0f0f0;height:14px;min-width:180px;border-radius:3px}
.bar span{position:absolute;left:0;top:0;bottom:0;background:#4a7fb5;border-radius:3px}
tr.bottleneck td{font-weight:600}tr.bottleneck .bar span{background:#c8553d}
.stack{display:flex;height:24px;border-radius:4px;overflow:hidden;max-width:760px;margin:6px 0}
.stack div{color:#fff;font-size:12px;padding:3px 6px;white-space:nowrap;overflow:hidden}
.chips{display:flex;flex-wrap:wrap;gap:14px}figure.chip{margin:0}figure.chip figcaption{font-size:12px;color:#444}
.legend ul{columns:3;list-style:none;padding:0;font-size:12px;margin:4px 0}.legend li{margin:1px 0}
.sw{display:inline-block;width:12px;height:12px;margin:0 4px -2px 0;border:1px solid #999}
img.fig{max-width:100%;height:auto;border:1px solid #eee}.warn{color:#a0522d;font-weight:600}
details{margin:6px 0}summary{cursor:pointer;color:#234}
"""

# Sortable tables (click a header; numbers sort by their raw value), then mark the page drawn and
# record how many resources it fetched (a test asserts none).
JS = """
(function(){
  function key(td){
    var v=td.getAttribute('data-value');
    if(v!==null&&v!==''&&!isNaN(+v))return +v;
    return td.textContent.trim().toLowerCase();
  }
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,i){
      th.addEventListener('click',function(){
        var asc=!th.classList.contains('sorted-asc');
        t.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc');});
        th.classList.add(asc?'sorted-asc':'sorted-desc');
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a.cells[i]),y=key(b.cells[i]);
          if(typeof x!==typeof y){x=String(x);y=String(y);}
          return (x<y?-1:x>y?1:0)*(asc?1:-1);
        });
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var data=JSON.parse(document.getElementById('mpsim-data').textContent);
  document.documentElement.setAttribute('data-rendered', data.schema || 'yes');
  window.addEventListener('load',function(){  // what the page fetched: nothing (data: URIs are not fetches)
    document.documentElement.setAttribute('data-fetches', String(performance.getEntriesByType('resource').length));
  });
})();
"""

PHASE_COLOURS = {"overhead": "#8d6e63", "compute": "#3b7dd8", "sync": "#d9822b", "exchange": "#2e9d6a"}


def _json_script(doc: Any) -> str:
    text = json.dumps(doc, allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="mpsim-data">{text}</script>'


def page(title: str, subtitle: str, body: str, doc: Any) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class=\"sub\">{escape(subtitle)}</p>{body}"
            f"{_json_script(doc)}<script>{JS}</script></body></html>\n")


def kpi(key: str, label: str, raw: Any, text: str, more: str = "") -> str:
    value = "" if raw is None else escape(str(raw), quote=True)
    extra = f'<div class="more">{escape(more)}</div>' if more else ""
    return (f'<div class="kpi"><div class="label">{escape(label)}</div><div class="value" data-key="{key}" '
            f'data-value="{value}">{escape(text)}</div>{extra}</div>')


def table_html(t: TableView, highlight: str | None = None) -> str:
    """A TableView as a sortable HTML table; numeric cells carry their raw value."""
    head = "".join(f"<th>{escape(c.header)}</th>" for c in t.shown)
    rows = []
    for r in t.rows:
        cells = []
        for c in t.shown:
            v = r.get(c.key)
            raw = v.raw if isinstance(v, Cell) else v
            attr = f' data-value="{raw!r}"' if isinstance(raw, (int, float)) and not isinstance(raw, bool) else ""
            cells.append(f'<td class="{"num" if c.right else ""}"{attr}>{escape(t.text(r, c))}</td>')
        cls = ' class="bottleneck"' if highlight is not None and r.get("name") == highlight else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return (f'<table class="sortable" data-table="{t.name}">{caption}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _bars(rows: Sequence[dict[str, Any]], bottleneck: str | None) -> str:
    out = []
    for r in rows:
        u = r["utilisation"]
        cls = ' class="bottleneck"' if r["name"] == bottleneck else ""
        out.append(f'<tr{cls}><td>{escape(r["name"])}</td><td>{escape(r["class"])}</td>'
                   f'<td class="num" data-value="{u!r}">{percent(u)}</td><td><div class="bar">'
                   f'<span style="width:{100 * min(1.0, max(0.0, u)):.2f}%"></span></div></td></tr>')
    return ('<table class="sortable" data-table="utilisation"><thead><tr><th>resource</th><th>class</th>'
            f'<th>busy</th><th>share of time</th></tr></thead><tbody>{"".join(out)}</tbody></table>')


def _bsp(bsp: dict[str, Any] | None) -> str:
    if not bsp:
        return "<p>Not a bulk-synchronous run: no supersteps (dataflow or rollout mode).</p>"
    parts = [k for k in ("overhead", "compute", "sync", "exchange") if k in bsp]
    segs = "".join(f'<div style="width:{100 * bsp[k]:.3f}%;background:{PHASE_COLOURS[k]}" data-key="bsp.{k}" '
                   f'data-value="{bsp[k]!r}" title="{k} {percent(bsp[k])}">{k} {percent(bsp[k])}</div>'
                   for k in parts if bsp[k] > 0)
    rows = "".join(f'<tr><td>{k}</td><td class="num" data-value="{bsp[k]!r}">{percent(bsp[k])}</td>'
                   f'<td class="num">{seconds(bsp[k] * bsp["step_s"])}</td></tr>' for k in parts)
    steps = bsp["steps_per_frame"]
    step = kpi("bsp.step_s", "superstep (operation) time", bsp["step_s"], seconds(bsp["step_s"]))
    return (f'<div class="kpis">{step}'
            f'{kpi("bsp.steps_per_frame", "supersteps per frame", steps, number(steps))}</div>'
            f'<div class="stack">{segs}</div><table><thead><tr><th>phase</th><th>share</th><th>per step</th></tr>'
            f'</thead><tbody>{rows}</tbody></table>')


def _figure(fig, alt: str) -> str:
    from mpsim.views.figures import data_uri

    return f'<img class="fig" alt="{escape(alt, quote=True)}" src="{data_uri(fig)}">'


def run_body(rep: dict[str, Any]) -> str:
    """The sections of one run report."""
    mem = rep["memory"]
    word = mem["unit_word"]
    st = rep.get("steady_state")
    b = rep.get("bottleneck")
    sec = []
    k = [kpi("fits", "verdict", rep["fits"], verdict_text(rep)),
         kpi("placement", "placement / mode", rep["strategy"], f"{rep['strategy']}, {rep['mode']}",
             f"asked {rep['placement']}; {rep['engine'] or '-'} engine; {rep['precision']}, batch {rep['batch']}"),
         kpi("replicas", "replicas", rep["replicas"], f"{rep['replicas']} x {rep['chips_per_replica']} chip(s)"),
         kpi("memory.required_bytes", "memory needed", mem["required_bytes"], nbytes(mem["required_bytes"]),
             f"of {nbytes(mem['capacity_bytes'])}; {count(mem['used'])} of {count(mem['available'])} {word} used")]
    if st:
        ci = st["throughput_ci_fps"]
        k.insert(0, kpi("throughput_fps", "throughput", rep["throughput_fps"], rate(rep["throughput_fps"]),
                        "" if ci is None else f"95 % CI {rate(ci[0])} - {rate(ci[1])}"))
        if b:
            k.insert(1, kpi("bottleneck", "bottleneck", b["name"], b["name"],
                            f"{b['class']}, {percent(b['utilisation'])} busy"))
        lat = rep["latency_s"]
        k.insert(2, kpi("latency_s.mean.last", "mean latency of the last output", lat["mean"][-1],
                        seconds(lat["mean"][-1]), f"first frame {seconds(lat['first'][-1])}"))
        e = rep.get("energy_j_per_frame")
        if e:
            k.append(kpi("power_w", "power", rep["power_w"], watts(rep["power_w"]),
                         f"{joules(e['total'])} per frame; {rate(rep['frames_per_joule'], 'frames/J')}"))
    sec.append(f'<div class="kpis">{"".join(k)}</div>')
    if rep.get("note") and not rep["fits"]:
        sec.append(f'<p class="warn">{escape(rep["note"])}</p>')
    if st:
        conv = "converged" if st["converged"] else "NOT converged"
        rel = st.get("rel_halfwidth") or {}
        lci = st.get("latency_ci_s")
        rows = [("converged", conv, st["converged"]), ("tolerance (95 % half-width / mean)", percent(st["tolerance"]),
                                                       st["tolerance"]),
                ("throughput 95 % interval", "-" if st["throughput_ci_fps"] is None else
                 f"{rate(st['throughput_ci_fps'][0])} - {rate(st['throughput_ci_fps'][1])}", None),
                ("throughput half-width / mean", percent(rel.get("throughput")), rel.get("throughput")),
                ("last output latency 95 % interval", "-" if lci is None else f"{seconds(lci[0])} - {seconds(lci[1])}",
                 None),
                ("latency half-width / mean", percent(rel.get("latency")), rel.get("latency")),
                ("frames simulated / warm-up / batches",
                 f"{count(st['frames'])} / {count(st['warmup_frames'])} / {count(st['batches'])}", st["frames"]),
                ("overloaded (offered above capacity)", "yes" if st["overloaded"] else "no", st["overloaded"])]
        body = "".join(f'<tr><td>{escape(a)}</td><td data-key="steady.{i}" data-value="{"" if r is None else r!r}">'
                       f'{escape(t)}</td></tr>' for i, (a, t, r) in enumerate(rows))
        warn = "" if st["converged"] else "<p class=warn>Not converged: these are not steady-state figures.</p>"
        sec.append(f'<h2>Convergence interval</h2>{warn}'
                   f'<table><tbody>{body}</tbody></table>')
    tiles = svg.tile_map(rep)
    if tiles:
        others = "" if rep["replicas"] <= 1 else f" (the other {rep['replicas'] - 1} replicas run the same)"
        cell = "SM" if word == "SMs" else word[:-1]
        sec.append(f"<h2>{cell.capitalize()} map</h2><p>Each chip of the simulated replica{others}: a cell per "
                   f"{cell}, coloured by unit; the colour deepens with the unit's memory occupancy. Hover for the "
                   f"unit.</p><div class=\"chips\">{tiles}</div>{svg.legend(rep)}")
    if rep.get("units"):
        sec.append(f"<h2>Per unit</h2>{table_html(units_table(rep), b['name'] if b else None)}")
    if not st:
        return "".join(sec)
    from mpsim.views.figures import latency_figure

    sec.append(f"<h2>Latency per anytime output</h2>{table_html(latency_table(rep))}"
               f"{_figure(latency_figure(rep), 'latency per output')}")
    classes = class_records(rep)
    ctab = "".join(f'<tr><td>{escape(c["class"])}</td><td class="num">{c["resources"]}</td><td>{escape(c["busiest"])}'
                   f'</td><td class="num" data-value="{c["max"]!r}">{percent(c["max"])}</td>'
                   f'<td class="num" data-value="{c["mean"]!r}">{percent(c["mean"])}</td></tr>' for c in classes)
    util = rep.get("utilisation") or []
    sec.append("<h2>Bottleneck and utilisation of every resource</h2>"
               f"<p>The bottleneck is the most utilised resource of all: <b data-key=\"bottleneck.name\">"
               f"{escape(b['name']) if b else '-'}</b> ({escape(b['class']) if b else '-'}, "
               f"<span data-key=\"bottleneck.utilisation\" data-value=\"{b['utilisation'] if b else ''}\">"
               f"{percent(b['utilisation']) if b else '-'}</span>).</p>"
               '<table class="sortable" data-table="classes"><thead><tr><th>resource class</th><th>resources</th>'
               f'<th>busiest</th><th>max</th><th>mean</th></tr></thead><tbody>{ctab}</tbody></table>'
               f"{_bars(util[:40], b['name'] if b else None)}"
               + (f"<details><summary>all {len(util)} resources</summary>{_bars(util, b['name'] if b else None)}"
                  "</details>" if len(util) > 40 else ""))
    sec.append(f"<h2>BSP step breakdown</h2>{_bsp(rep.get('bsp'))}")
    e = rep.get("energy_j_per_frame")
    if e:
        rows = "".join(f'<tr><td>{k}</td><td class="num" data-value="{e[k]!r}">{joules(e[k])}</td></tr>'
                       for k in ("static", "compute", "movement", "conversion", "total") if e.get(k) is not None)
        sec.append(f"<h2>Energy per frame and power</h2><table><tbody>{rows}</tbody></table>"
                   f"<p>{watts(rep['power_w'])} on average; {rate(rep['frames_per_joule'], 'frames/J')}.</p>")
    sec.append(f"<h2>Memory traffic by link class</h2>{table_html(traffic_table(rep))}")
    if rep.get("operations"):
        sec.append(f"<h2>Per operation</h2><details><summary>{len(rep['operations'])} operations (fused groups), "
                   f"their busy time and energy</summary>{table_html(operations_table(rep))}</details>")
    return "".join(sec)


def run_page(rep: dict[str, Any]) -> str:
    """The HTML page of one run report (``mpsim run --html``)."""
    sub = (f"{rep['placement']} placement on {rep['profile']}; schema {rep.get('schema')}, "
           f"mpsim {rep.get('mpsim_version')}")
    return page(f"{rep['model']} on {rep['profile']}", sub, run_body(rep), rep)


def anytime_page(res: dict[str, Any]) -> str:
    """The HTML page of an anytime sweep: the policy's points, the accuracy-latency-energy curves,
    then the full graph's run report (every frame to the last output)."""
    from mpsim.anytime.plots import sweep_figure
    from mpsim.views.anytime_tables import anytime_tables

    points, outputs = anytime_tables(res)
    trained = "" if res.get("trained", True) else "<p class=\"warn\">Untrained weights: accuracies and exits are " \
                                                  "those of random weights.</p>"
    body = (f"{trained}<h2>Accuracy, latency and energy</h2>{_figure(sweep_figure(res), 'accuracy curves')}"
            f"<h2>Policy points</h2>{table_html(points)}<h2>Every frame exits at m_n</h2>{table_html(outputs)}")
    rep = res.get("report")
    if rep:
        body += f"<h2 id=\"full\">The full graph, every frame to m_N</h2>{run_body(rep)}"
    sub = f"{res['policy']} policy, {res['mode']} mode, {res['accuracy_measure']}; mpsim {res.get('mpsim_version', '')}"
    return page(f"{res['model']} on {res['profile']}: anytime prediction", sub, body, res)


def sweep_page(rows: Sequence[dict[str, Any]], tables: Sequence[TableView],
               reports: Sequence[dict[str, Any] | None] = ()) -> str:
    """The HTML page of a sweep: its rows, the throughput-latency-energy bars (infeasible points
    marked), accuracy curves when a policy was swept, and each point's run report."""
    from mpsim.views.figures import policy_figure, sweep_figure

    body = f"<h2>Points</h2>{''.join(table_html(t) for t in tables)}"
    if any(not r.get("policy") for r in rows):
        body += f"<h2>Throughput, latency and energy</h2>{_figure(sweep_figure(rows), 'sweep bars')}"
    if any(r.get("policy") for r in rows):
        body += f"<h2>Accuracy, latency and energy</h2>{_figure(policy_figure(rows), 'accuracy curves')}"
    for k, rep in enumerate(reports):
        if rep:
            body += (f"<details><summary>point {k + 1}: {escape(rep['model'])} on {escape(rep['profile'])}, "
                     f"{escape(rep['mode'])}</summary>{run_body(rep)}</details>")
    doc = stamp("mpsim.sweep/1", {"rows": list(rows)})
    return page("sweep", f"{len(rows)} points", body, doc)
