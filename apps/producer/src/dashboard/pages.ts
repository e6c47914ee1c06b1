/**
 * The dashboard's two pages, as HTML with their script inline: the fleet (recent runs and live
 * workers) and one run. They hold no data; the script draws what the server-sent events bring
 * (/api/events, /api/runs/<id>/events) and redraws on each, so the page is live without reloading.
 * Every value is set as text (never as HTML): a failedReason or a worker id cannot inject markup.
 */

const STYLE = `
:root { color-scheme: dark; --bg:#0f1216; --panel:#171b21; --line:#262c35; --text:#e6e9ee; --dim:#8b95a5;
  --accent:#4f9cf9; --ok:#3fb950; --warn:#d29922; --bad:#f85149; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:18px; padding:12px 24px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { margin:0; font-size:18px; letter-spacing:.5px; }
header h1 a { color:var(--text); text-decoration:none; }
header nav a { color:var(--accent); text-decoration:none; margin-right:14px; }
header .meta { margin-left:auto; color:var(--dim); font-size:12px; text-align:right; }
.live { display:inline-block; width:8px; height:8px; border-radius:50%; background:var(--dim); margin-right:6px; }
.live.on { background:var(--ok); box-shadow:0 0 6px var(--ok); }
main { padding:20px 24px; max-width:1400px; }
h2 { font-size:15px; color:var(--dim); text-transform:uppercase; letter-spacing:1px; margin:18px 0 10px; }
.runs { display:grid; grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); gap:14px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:14px; display:flex; gap:14px; }
.card .body { flex:1; min-width:0; }
.card .title { display:flex; align-items:baseline; gap:8px; }
.card .title a { color:var(--text); font-weight:600; text-decoration:none; font-family:ui-monospace,monospace; overflow:hidden; text-overflow:ellipsis; }
.card .model { color:var(--dim); font-size:12px; font-family:ui-monospace,monospace; }
.sheet { width:112px; height:112px; border-radius:4px; background:#000; object-fit:contain; image-rendering:pixelated; flex:none; }
.sheet.big { width:320px; height:320px; }
.sheet.none { display:flex; align-items:center; justify-content:center; color:var(--dim); font-size:12px; }
.bar { height:10px; background:#0b0d10; border-radius:5px; overflow:hidden; margin:10px 0 6px; border:1px solid var(--line); }
.bar > div { height:100%; background:linear-gradient(90deg,#2f7de1,#4f9cf9); transition:width .6s ease; }
.bar.complete > div { background:var(--ok); }
.bar.failing > div { background:var(--bad); }
.stats { display:grid; grid-template-columns:repeat(4,auto); gap:2px 14px; font-size:12px; color:var(--dim); }
.stats b { display:block; color:var(--text); font-size:15px; font-weight:600; font-variant-numeric:tabular-nums; }
.phase { font-size:11px; padding:1px 7px; border-radius:10px; border:1px solid var(--line); color:var(--dim); margin-left:auto; white-space:nowrap; }
.phase.sampling { color:var(--accent); border-color:var(--accent); }
.phase.complete { color:var(--ok); border-color:var(--ok); }
.phase.failing, .phase.unreadable { color:var(--bad); border-color:var(--bad); }
.shards { font-size:12px; color:var(--dim); margin-top:6px; font-variant-numeric:tabular-nums; }
.error { color:var(--bad); font-size:12px; margin-top:6px; }
table { width:100%; border-collapse:collapse; background:var(--panel); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums; }
th { color:var(--dim); font-weight:500; font-size:12px; text-transform:uppercase; letter-spacing:.5px; }
td.mono { font-family:ui-monospace,monospace; font-size:12px; }
tr:last-child td { border-bottom:none; }
.empty { color:var(--dim); padding:14px; background:var(--panel); border:1px dashed var(--line); border-radius:8px; }
.share { height:6px; background:var(--accent); border-radius:3px; min-width:2px; }
.reason { color:var(--bad); font-family:ui-monospace,monospace; font-size:12px; white-space:pre-wrap; word-break:break-word; }
button { background:#2a1416; color:var(--bad); border:1px solid var(--bad); border-radius:6px; padding:6px 12px; cursor:pointer; }
.hero { display:flex; gap:20px; align-items:flex-start; }
.hero .body { flex:1; }
`;

/** The client side: DOM building from text only, and the live feed with reconnection. */
const CLIENT = `
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v; else if (k === 'style') el.style.cssText = v; else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function num(x, digits) { return x === null || x === undefined || !isFinite(x) ? '—' : Number(x).toFixed(digits); }
function duration(s) {
  if (s === null || s === undefined || !isFinite(s)) return '—';
  s = Math.round(s); const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return hh > 0 ? hh + 'h' + String(mm).padStart(2, '0') + 'm' : mm > 0 ? mm + 'm' + String(ss).padStart(2, '0') + 's' : ss + 's';
}
function ago(iso) { return iso ? duration((Date.now() - Date.parse(iso)) / 1000) + ' ago' : '—'; }
function sheet(card, big) {
  return card.contactSheet
    ? h('img', { class: 'sheet' + (big ? ' big' : ''), src: card.contactSheet, alt: 'contact sheet of ' + card.runId })
    : h('div', { class: 'sheet none' + (big ? ' big' : '') }, 'no samples yet');
}
function progress(card) {
  const fraction = card.samplesTotal > 0 ? card.samplesDone / card.samplesTotal : 0;
  return h('div', { class: 'bar ' + card.phase.split(' ')[0], role: 'progressbar', 'aria-valuenow': (100 * fraction).toFixed(1) },
    h('div', { style: 'width:' + (100 * fraction).toFixed(2) + '%' }));
}
function stats(card) {
  const pct = card.samplesTotal > 0 ? (100 * card.samplesDone / card.samplesTotal).toFixed(1) + '%' : '—';
  return h('div', { class: 'stats' },
    h('div', {}, h('b', { class: 'samples-done' }, card.samplesDone), 'of ' + card.samplesTotal + ' (' + pct + ')'),
    h('div', {}, h('b', {}, num(card.samplesPerSecond, 2)), 'samples/s'),
    h('div', {}, h('b', {}, card.etaSeconds === 0 ? 'done' : duration(card.etaSeconds)), 'ETA'),
    h('div', { title: card.fidSamples ? 'over the ' + card.fidSamples + ' samples stored so far' : 'runs launched with statistics show their FID here' },
      h('b', { class: 'fid' }, num(card.fid, 2)), 'FID (live)'));
}
function shardLine(s) {
  return h('div', { class: 'shards' }, 'shards: ' + s.done + ' done · ' + s.active + ' running · ' + (s.waiting + s.delayed) + ' waiting · ' +
    s.failed + ' failed' + (s.lost ? ' · ' + s.lost + ' not queued' : '') + ' — of ' + s.total);
}
function phase(card) { return h('span', { class: 'phase ' + card.phase.split(' ')[0] }, card.phase); }
function workersTable(workers) {
  if (workers.length === 0) return h('div', { class: 'empty' }, 'No live workers. Start one with diffq-worker --model <dir>; it appears here within seconds.');
  return h('table', { id: 'workers' },
    h('tr', {}, ['worker', 'model', 'engine', 'batch', 'samples/s', 'samples', 'shard', 'last seen'].map((t) => h('th', {}, t))),
    workers.map((w) => h('tr', { 'data-worker': w.id },
      h('td', { class: 'mono' }, w.id), h('td', { class: 'mono' }, w.model),
      h('td', {}, w.engine + ' ' + w.provider + ' ' + w.precision), h('td', {}, w.batchSize),
      h('td', {}, num(w.samplesPerSecond, 2)), h('td', {}, w.samplesDone),
      h('td', { class: 'mono' }, w.currentShard ? h('a', { href: '/runs/' + w.currentShard.runId }, w.currentShard.runId + ' #' + w.currentShard.shardIndex) : 'idle'),
      h('td', {}, duration(w.lastSeenSeconds) + ' ago'))));
}
function follow(url, draw) {
  const dot = document.getElementById('live'), when = document.getElementById('updated');
  const source = new EventSource(url);
  source.onmessage = (event) => {
    draw(JSON.parse(event.data));
    dot.classList.add('on');
    when.textContent = 'updated ' + new Date().toLocaleTimeString();
  };
  source.onerror = () => { dot.classList.remove('on'); when.textContent = 'reconnecting…'; };
}
`;

const OVERVIEW_SCRIPT = `
function runCard(card) {
  return h('div', { class: 'card', 'data-run': card.runId, 'data-samples-done': card.samplesDone, 'data-phase': card.phase },
    sheet(card, false),
    h('div', { class: 'body' },
      h('div', { class: 'title' }, h('a', { href: '/runs/' + card.runId }, card.runId), phase(card)),
      h('div', { class: 'model' }, card.modelId + ' · launched ' + ago(card.launchedAt)),
      progress(card), stats(card), shardLine(card.shards),
      card.error ? h('div', { class: 'error' }, card.error) : null));
}
follow('/api/events', (fleet) => {
  const runs = document.getElementById('runs');
  runs.replaceChildren(...(fleet.runs.length ? fleet.runs.map(runCard) : [h('div', { class: 'empty' }, 'No runs yet. Launch one with diffq launch --model <dir> --seeds 0-999.')]));
  document.getElementById('fleet').replaceChildren(workersTable(fleet.workers));
});
`;

const RUN_SCRIPT = `
const runId = document.body.dataset.run;
follow('/api/runs/' + encodeURIComponent(runId) + '/events', (d) => {
  const card = d.card;
  document.getElementById('hero').replaceChildren(sheet(card, true), h('div', { class: 'body', 'data-run': card.runId, 'data-samples-done': card.samplesDone, 'data-phase': card.phase },
    h('div', { class: 'title' }, h('span', { class: 'model' }, card.modelId + ' · queue ' + card.queue + ' · store ' + d.storeUrl), phase(card)),
    progress(card), stats(card), shardLine(card.shards),
    h('div', { class: 'shards' }, 'finalize: ' + d.finalize + (d.reportWritten ? ' · report.json written' : '') + (d.cancelled ? ' · cancelled' : '')),
    card.error ? h('div', { class: 'error' }, card.error) : null));
  const most = Math.max(1, ...d.workers.map((w) => w.samples));
  document.getElementById('shares').replaceChildren(d.workers.length === 0 ? h('div', { class: 'empty' }, 'No shard stored yet.') :
    h('table', { id: 'throughput' },
      h('tr', {}, ['worker', 'engine', 'shards', 'samples', 'samples/s while sampling', 'last shard', ''].map((t) => h('th', {}, t))),
      d.workers.map((w) => h('tr', { 'data-worker': w.worker },
        h('td', { class: 'mono' }, w.worker), h('td', {}, w.engine), h('td', {}, w.shards), h('td', {}, w.samples),
        h('td', {}, num(w.samplesPerSecond, 2)), h('td', {}, ago(w.lastShardAt)),
        h('td', { style: 'width:30%' }, h('div', { class: 'share', style: 'width:' + (100 * w.samples / most).toFixed(1) + '%' }))))));
  document.getElementById('sampling').replaceChildren(workersTable(d.sampling));
  document.getElementById('failed').replaceChildren(d.failed.length === 0 ? h('div', { class: 'empty' }, 'No failed shards.') :
    h('table', { id: 'failures' },
      h('tr', {}, ['shard', 'job', 'attempts', 'failed', 'reason'].map((t) => h('th', {}, t))),
      d.failed.map((f) => h('tr', { 'data-shard': f.shardIndex },
        h('td', {}, f.shardIndex), h('td', { class: 'mono' }, f.jobId), h('td', {}, f.attemptsMade), h('td', {}, ago(f.failedAt)),
        h('td', { class: 'reason' }, f.reason)))));
});
const cancel = document.getElementById('cancel');
if (cancel) cancel.onclick = async () => {
  if (!confirm('Cancel run ' + runId + '? Stored shards are kept; diffq resume continues it.')) return;
  const response = await fetch('/api/runs/' + encodeURIComponent(runId) + '/cancel', { method: 'POST' });
  alert(response.ok ? 'cancelled' : 'refused: ' + response.status + ' ' + (await response.text()));
};
`;

export interface PageContext {
  /** Redis URL without credentials, and the key prefix. */
  redis: string;
  prefix: string;
  /** Whether a token enables actions. */
  actions: boolean;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function layout(title: string, ctx: PageContext, main: string, script: string, bodyAttrs = ''): string {
  const mode = ctx.actions ? '<a href="/login">sign in for actions</a>' : 'read-only';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body${bodyAttrs}>
<header><h1><a href="/">diffq</a></h1>
<nav><a href="/">Fleet</a><a href="/queues">Queues</a><a href="/metrics">Metrics</a></nav>
<div class="meta"><span id="live" class="live"></span><span id="updated">connecting…</span><br>${escapeHtml(ctx.redis)} · prefix ${escapeHtml(ctx.prefix)} · ${mode}</div>
</header>
<main>${main}</main>
<script>${CLIENT}${script}</script>
</body></html>`;
}

export function overviewPage(ctx: PageContext): string {
  return layout(
    'diffq fleet',
    ctx,
    '<h2>Runs</h2><div id="runs" class="runs"></div><h2>Workers</h2><div id="fleet"></div>',
    OVERVIEW_SCRIPT,
  );
}

export function runPage(ctx: PageContext, runId: string): string {
  const cancel = ctx.actions ? '<p><button id="cancel">Cancel run</button></p>' : '';
  return layout(
    `diffq ${runId}`,
    ctx,
    `<h2>Run <span style="text-transform:none;font-family:ui-monospace,monospace;color:var(--text)">${escapeHtml(runId)}</span></h2>
<div id="hero" class="hero"></div>${cancel}
<h2>Throughput by worker</h2><div id="shares"></div>
<h2>Sampling it now</h2><div id="sampling"></div>
<h2>Failed shards</h2><div id="failed"></div>`,
    RUN_SCRIPT,
    ` data-run="${escapeHtml(runId)}"`,
  );
}

export function loginPage(ctx: PageContext, problem?: string): string {
  const note = problem ? `<p class="error">${escapeHtml(problem)}</p>` : '';
  return layout(
    'diffq sign in',
    ctx,
    `<h2>Sign in for actions</h2>${note}
<form method="post" action="/login"><p>The token diffq dashboard was started with (--token or DIFFQ_DASHBOARD_TOKEN):</p>
<p><input type="password" name="token" autocomplete="current-password" style="width:360px;padding:6px"> <button type="submit" style="color:var(--text);border-color:var(--accent);background:#13233a">Sign in</button></p></form>`,
    "document.getElementById('updated').textContent = '';",
  );
}
