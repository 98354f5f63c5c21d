// shmcached console: the dashboard's script. Plain JavaScript, no
// framework, no network but the console's own /api/ endpoints.
//
// Every REFRESH_MS it fetches /api/snapshot (stats, settings, items, slabs,
// sizes, stats shmcached, processes) of the selected server, keeps the
// last HISTORY samples, and redraws: the cards, the ops/s and hit-ratio charts (rates from the
// differences of two samples), memory by slab class, the tables. The key
// browser pages with the cursor /api/keys returns; the state of the Keys
// tab lives in the URL's hash (#keys&match=..&value=..&cursor=..).
'use strict';

const REFRESH_MS = 2000;
const HISTORY = 150;
const OPS = ['get', 'set', 'delete', 'incr', 'decr', 'cas', 'touch'];
const COLORS = {get: '#1f6feb', set: '#8250df', delete: '#cf222e',
  incr: '#1a7f37', decr: '#bf8700', cas: '#0a7e8c', touch: '#6e7781'};

const $ = (id) => document.getElementById(id);
const state = {server: 'local', samples: [], info: null, cursor: null,
  pages: [], write: false};

function fmtBytes(n) {
  n = Number(n);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
function fmtNum(n) { return Number(n).toLocaleString('en-US'); }
function fmtDur(s) {
  s = Number(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
    m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = el('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', c));
  return tr;
}
function fill(tbody, rows) { tbody.replaceChildren(...rows); }

async function api(path, opts) {
  const sep = path.includes('?') ? '&' : '?';
  const url = state.server === 'local' ? path
    : path + sep + 'server=' + encodeURIComponent(state.server);
  const r = await fetch(url, opts);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

// ---- charts (canvas) ----------------------------------------------------

function axes(ctx, w, h, pad, ymax, unit) {
  ctx.strokeStyle = '#d0d7de';
  ctx.fillStyle = '#57606a';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * i / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(w - pad.r, y); ctx.stroke();
    const v = ymax * (4 - i) / 4;
    ctx.fillText((v >= 1000 ? Math.round(v / 100) / 10 + 'k' : Math.round(v * 10) / 10) + unit,
      2, y + 4);
  }
}

// series: [{name, color, data: [y...]}]; returns the number of segments.
function lineChart(canvas, series, opts) {
  if (canvas.clientWidth > 0) canvas.width = canvas.clientWidth;
  const ctx = canvas.getContext('2d'), w = canvas.width, h = canvas.height;
  const pad = {l: 44, r: 8, t: 8, b: 34};
  ctx.clearRect(0, 0, w, h);
  let ymax = 0;
  for (const s of series) for (const v of s.data) ymax = Math.max(ymax, v);
  ymax = opts.ymax || (ymax > 0 ? ymax * 1.1 : 1);
  axes(ctx, w, h, pad, ymax, opts.unit || '');
  let drawn = 0;
  const n = Math.max(2, ...series.map((s) => s.data.length));
  const x = (i) => pad.l + (w - pad.l - pad.r) * i / (HISTORY - 1) +
    (w - pad.l - pad.r) * (HISTORY - n) / (HISTORY - 1);
  const y = (v) => h - pad.b - (h - pad.t - pad.b) * v / ymax;
  let lx = pad.l;
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.beginPath();
    s.data.forEach((v, i) => {
      if (v === null) return;
      if (i === 0 || s.data[i - 1] === null) ctx.moveTo(x(i), y(v));
      else { ctx.lineTo(x(i), y(v)); drawn++; }
    });
    ctx.stroke();
    ctx.fillStyle = s.color; ctx.fillRect(lx, h - 14, 10, 10);
    ctx.fillStyle = '#24292f'; ctx.fillText(s.name, lx + 13, h - 5);
    lx += ctx.measureText(s.name).width + 28;
  }
  canvas.dataset.drawn = drawn;
  return drawn;
}

// bars: [{label, parts: [{v, color}]}], stacked horizontally per label.
function barChart(canvas, bars, legend) {
  if (canvas.clientWidth > 0) canvas.width = canvas.clientWidth;
  const ctx = canvas.getContext('2d'), w = canvas.width;
  canvas.height = Math.max(120, 34 + bars.length * 16);
  const h = canvas.height, pad = {l: 60, r: 70, t: 4, b: 26};
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  let max = 1;
  for (const b of bars) max = Math.max(max, b.parts.reduce((a, p) => a + p.v, 0));
  const bh = (h - pad.t - pad.b) / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    let x0 = pad.l;
    const y0 = pad.t + i * bh;
    for (const p of b.parts) {
      const bw = (w - pad.l - pad.r) * p.v / max;
      ctx.fillStyle = p.color; ctx.fillRect(x0, y0 + 1, bw, bh - 3);
      x0 += bw;
    }
    ctx.fillStyle = '#24292f';
    ctx.fillText(b.label, 2, y0 + bh - 4);
    ctx.fillText(fmtBytes(b.parts.reduce((a, p) => a + p.v, 0)), x0 + 4, y0 + bh - 4);
  });
  let lx = pad.l;
  for (const l of legend) {
    ctx.fillStyle = l.color; ctx.fillRect(lx, h - 14, 10, 10);
    ctx.fillStyle = '#24292f'; ctx.fillText(l.name, lx + 13, h - 5);
    lx += ctx.measureText(l.name).width + 28;
  }
  canvas.dataset.drawn = bars.length;
}

// ---- samples and rates ----------------------------------------------------

function classes(snap) {
  const by = {};
  const add = (id, k, v) => { (by[id] = by[id] || {id: Number(id)})[k] = v; };
  for (const [k, v] of Object.entries(snap.items || {})) {
    const m = /^items:(\d+):(.+)$/.exec(k);
    if (m) add(m[1], m[2], v);
  }
  for (const [k, v] of Object.entries(snap.slabs || {})) {
    const m = /^(\d+):(.+)$/.exec(k);
    if (m) add(m[1], m[2], v);
  }
  return Object.values(by).sort((a, b) => a.id - b.id);
}

function rates(a, b) {
  const dt = (b.t - a.t) / 1000;
  const d = (k) => Math.max(0, Number(b.stats[k] || 0) - Number(a.stats[k] || 0));
  const r = {};
  for (const op of OPS) {
    const n = op === 'get' ? d('cmd_get') : op === 'set' ? d('cmd_set')
      : op === 'touch' ? d('cmd_touch')
      : d(op + '_hits') + d(op + '_misses') + (op === 'cas' ? d('cas_badval') : 0);
    r[op] = dt > 0 ? n / dt : 0;
    const hits = d(op + '_hits'), miss = d(op + '_misses');
    r[op + '_ratio'] = hits + miss > 0 ? 100 * hits / (hits + miss) : null;
  }
  return r;
}

function drawCharts() {
  const s = state.samples, rs = [];
  for (let i = 1; i < s.length; i++) rs.push(rates(s[i - 1], s[i]));
  lineChart($('ch-ops'), OPS.map((op) => ({name: op, color: COLORS[op],
    data: rs.map((r) => r[op])})), {unit: ''});
  lineChart($('ch-hits'), OPS.filter((op) => op !== 'set').map((op) => ({
    name: op, color: COLORS[op], data: rs.map((r) => r[op + '_ratio'])})),
  {ymax: 100, unit: '%'});
  const last = s[s.length - 1];
  const bars = classes(last).filter((c) => Number(c.total_pages || 0) > 0)
    .map((c) => {
      const size = Number(c.chunk_size || 0), used = Number(c.used_chunks || 0) * size;
      const req = Math.min(Number(c.mem_requested || 0), used);
      const total = Number(c.total_pages) * Number(c.chunks_per_page || 0) * size;
      return {label: `#${c.id} ${fmtBytes(size)}`, parts: [
        {v: req, color: '#1f6feb'}, {v: used - req, color: '#9ec5fe'},
        {v: Math.max(0, total - used), color: '#e3e8ee'}]};
    });
  barChart($('ch-mem'), bars, [{name: 'data', color: '#1f6feb'},
    {name: 'chunk slack', color: '#9ec5fe'}, {name: 'free chunks', color: '#e3e8ee'}]);
  return rs;
}

// ---- views ------------------------------------------------------------------

function showOverview(snap, rs) {
  const st = snap.stats;
  $('version').textContent = st.version ? 'v' + st.version : '';
  $('c-uptime').textContent = fmtDur(st.uptime);
  $('c-items').textContent = fmtNum(st.curr_items);
  $('c-mem').textContent = fmtBytes(st.bytes);
  $('c-memlimit').textContent = 'of ' + fmtBytes(st.limit_maxbytes);
  $('c-membar').style.width = Math.min(100, 100 * st.bytes / st.limit_maxbytes) + '%';
  $('c-conns').textContent = fmtNum(st.curr_connections);
  $('c-conntotal').textContent = ' ' + fmtNum(st.total_connections) + ' total';
  $('c-evict').textContent = fmtNum(st.evictions);
  const g = Number(st.get_hits) + Number(st.get_misses);
  $('c-hit').textContent = g ? (100 * st.get_hits / g).toFixed(1) + ' %' : '-';
  const last = rs[rs.length - 1];
  $('c-ops').textContent = last ? fmtNum(Math.round(OPS.reduce((a, op) => a + last[op], 0))) : '-';
  const own = snap.shmcached || {};
  $('c-restarts').textContent = own.worker_restarts !== undefined
    ? `${own.worker_restarts} / ${own.reloads}` : '-';
  fill($('workers').tBodies[0], (snap.workers || []).map((w) => row([
    w.role, String(w.index), String(w.pid), String(w.slot), fmtDur(w.uptime),
    fmtNum(w.connections), fmtNum(w.total_connections), String(w.restarts)])));
  if (!snap.workers) fill($('workers').tBodies[0], [row(['(a peer: its processes are not visible)'])]);
}

const SLAB_COLS = ['id', 'chunk_size', 'chunks_per_page', 'total_pages', 'used_chunks',
  'free_chunks', 'number', 'age', 'mem_requested', 'evicted', 'reclaimed',
  'outofmemory', 'get_hits', 'cmd_set', 'delete_hits'];

function showTables(snap) {
  const cls = classes(snap);
  $('slabs').tHead.replaceChildren(row(SLAB_COLS.map((c) => el('th', c))));
  fill($('slabs').tBodies[0], cls.map((c) => row(SLAB_COLS.map((k) =>
    k === 'chunk_size' || k === 'mem_requested' ? fmtBytes(c[k] || 0)
      : String(c[k] === undefined ? '' : c[k])))));
  const sizes = Object.entries(snap.sizes || {});
  fill($('sizes').tBodies[0], sizes.map(([k, v]) => row([k, v])));
  fill($('settings').tBodies[0], Object.entries(snap.settings || {}).map(([k, v]) => row([k, v])));
  fill($('stats').tBodies[0], Object.entries(snap.stats || {}).map(([k, v]) => row([k, v])));
  fill($('shmcached').tBodies[0], Object.entries(snap.shmcached || {}).map(([k, v]) => row([k, v])));
}

async function refresh() {
  try {
    const snap = await api('/api/snapshot');
    if (!snap.up) throw new Error(snap.error || 'down');
    snap.t = Date.now();
    state.samples.push(snap);
    if (state.samples.length > HISTORY) state.samples.shift();
    const rs = drawCharts();
    showOverview(snap, rs);
    showTables(snap);
    $('status').className = 'dot up';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('status').className = 'dot down';
    $('updated').textContent = 'error: ' + e.message;
  }
}

// ---- key browser ---------------------------------------------------------------

function keyParams() {
  const p = new URLSearchParams(location.hash.replace(/^#keys&?/, ''));
  return {match: p.get('match') || '', value: p.get('value') || '',
    limit: p.get('limit') || '50', cursor: p.get('cursor') || '0',
    show: p.get('show')};
}

function keyQuery(p) {
  return `/api/keys?limit=${encodeURIComponent(p.limit)}&cursor=${encodeURIComponent(p.cursor)}` +
    `&match=${encodeURIComponent(p.match)}&value=${encodeURIComponent(p.value)}`;
}

async function loadKeys() {
  const p = keyParams();
  $('k-match').value = p.match; $('k-value').value = p.value; $('k-limit').value = p.limit;
  $('k-info').textContent = 'searching...';
  try {
    const j = await api(keyQuery(p));
    state.cursor = j.next;
    $('k-next').disabled = j.next === null;
    fill($('keys').tBodies[0], j.items.map((it) => {
      const td = el('td', it.key);
      td.onclick = () => showItem(it, td.parentNode);
      return row([td, fmtNum(it.size), it.flags === undefined ? '' : String(it.flags),
        it.ttl === undefined ? '' : it.ttl < 0 ? 'never' : fmtDur(it.ttl),
        it.la === undefined ? '' : fmtDur(it.la), it.cas === undefined ? '' : String(it.cas)]);
    }));
    $('k-info').textContent = `${j.count} key(s) on this page` +
      (j.next === null ? ', end of the cache' : ', more on the next page');
    $('k-info').dataset.count = j.count;
    if (p.show) {                       // #keys&show=KEY opens that item
      const it = j.items.find((x) => x.key === p.show) || {key: p.show};
      const i = j.items.indexOf(it);
      showItem(it, i >= 0 ? $('keys').tBodies[0].rows[i] : null);
    }
  } catch (e) {
    $('k-info').textContent = 'error: ' + e.message;
  }
}

function keyRef(it) {
  return it.kx ? 'kx=' + it.kx : 'key=' + encodeURIComponent(it.key);
}

async function showItem(it, tr) {
  for (const r of $('keys').tBodies[0].rows) r.classList.remove('sel');
  if (tr) tr.classList.add('sel');
  try {
    const j = await api('/api/item?' + keyRef(it));
    $('item').hidden = false;
    $('i-key').textContent = j.key;
    const meta = [['size', fmtNum(j.size) + ' bytes'], ['flags', j.flags],
      ['expires', j.exptime ? new Date(j.exptime * 1000).toISOString() + ` (in ${fmtDur(j.ttl)})` : 'never'],
      ['CAS', j.cas], ['last access', it.la !== undefined ? fmtDur(it.la) + ' ago' : 'unknown']];
    $('i-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', k), el('dd', String(v))]));
    $('i-fmt').textContent = j.format !== 'none' ? `decoded (${j.format})`
      : j.text !== undefined ? 'text' : 'binary';
    $('i-decoded').textContent = j.format !== 'none' ? JSON.stringify(j.decoded, null, 2)
      : j.text !== undefined ? j.text : '(not text: see hex)';
    $('i-hex').textContent = (j.hex.match(/.{1,32}/g) || []).join('\n') +
      (j.size > j.hex.length / 2 ? '\n...' : '');
    $('i-delete').hidden = !state.write;
    $('i-delete').onclick = () => deleteKey(it);
  } catch (e) {
    $('item').hidden = false;
    $('i-key').textContent = it.key;
    $('i-fmt').textContent = 'error: ' + e.message;
  }
}

async function deleteKey(it) {
  if (!confirm('Delete ' + it.key + '?')) return;
  const body = keyRef(it) + (state.server === 'local' ? '' : '&server=' + encodeURIComponent(state.server));
  const r = await fetch('/api/delete', {method: 'POST', body,
    headers: {'X-Shmcached': '1', 'Content-Type': 'application/x-www-form-urlencoded'}});
  $('i-fmt').textContent = r.ok ? 'deleted' : 'delete failed: ' + r.status;
  loadKeys();
}

function setKeyHash(cursor) {
  const p = new URLSearchParams({match: $('k-match').value, value: $('k-value').value,
    limit: $('k-limit').value, cursor});
  location.hash = 'keys&' + p.toString();
}

// ---- pool ----------------------------------------------------------------------

function savedPeers() {
  try { return JSON.parse(localStorage.getItem('shmc-peers') || '[]'); } catch (e) { return []; }
}

function serverList() {
  return ['local', ...(state.info ? state.info.peers : []), ...(state.write ? savedPeers() : [])];
}

function fillServers() {
  const sel = $('server');
  sel.replaceChildren(...serverList().map((s) => {
    const o = el('option', s); o.value = s; return o;
  }));
  sel.value = state.server;
}

async function loadPool() {
  const extra = state.write ? savedPeers() : [];
  const rows = [];
  const j = await fetch('/api/pool').then((r) => r.json());
  const servers = j.servers;
  for (const s of extra) {
    try {
      const sj = await fetch('/api/pool?server=' + encodeURIComponent(s)).then((r) => r.json());
      servers.push(sj.servers[sj.servers.length - 1]);
    } catch (e) { servers.push({server: s, up: false, error: e.message}); }
  }
  for (const s of servers) {
    const g = Number(s.get_hits) + Number(s.get_misses);
    const b = el('button', 'show');
    b.onclick = () => switchServer(s.server);
    rows.push(row([s.server, s.up ? 'yes' : 'no: ' + (s.error || ''), s.version || '',
      s.up ? fmtNum(s.curr_items) : '', s.up ? fmtBytes(s.bytes) + ' / ' + fmtBytes(s.limit_maxbytes) : '',
      s.up ? fmtNum(s.curr_connections) : '', g ? (100 * s.get_hits / g).toFixed(1) + ' %' : '',
      s.up ? fmtNum(s.evictions) : '', el('td').appendChild(b).parentNode]));
  }
  fill($('pool').tBodies[0], rows);
  $('poolform').hidden = !state.write;
  $('p-note').textContent = state.write ? 'Servers added here are kept in this browser.'
    : 'Servers come from -o http_peers; with -o http_write they can be added here.';
}

function switchServer(s) {
  state.server = s;
  state.samples = [];
  fillServers();
  refresh();
  if (location.hash.startsWith('#keys')) loadKeys();
}

// ---- tabs and start ------------------------------------------------------------

function showTab() {
  const tab = (location.hash.replace('#', '').split('&')[0]) || 'overview';
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'tab-' + tab;
  for (const a of document.querySelectorAll('nav a[data-tab]')) a.classList.toggle('on', a.dataset.tab === tab);
  if (tab === 'keys') loadKeys();
  if (tab === 'pool') loadPool();
}

async function start() {
  state.info = await fetch('/api/info').then((r) => r.json());
  state.write = state.info.write;
  fillServers();
  $('server').onchange = (e) => switchServer(e.target.value);
  $('keyform').onsubmit = (e) => { e.preventDefault(); setKeyHash('0'); };
  $('k-next').onclick = () => { if (state.cursor !== null) setKeyHash(state.cursor); };
  $('poolform').onsubmit = (e) => {
    e.preventDefault();
    const a = $('p-addr').value.trim();
    if (a && !savedPeers().includes(a)) localStorage.setItem('shmc-peers', JSON.stringify([...savedPeers(), a]));
    fillServers(); loadPool();
  };
  window.onhashchange = showTab;
  showTab();
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
