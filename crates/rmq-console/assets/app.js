// rmq console: one page, hash routes, vanilla JS (docs/console.md).
// Every piece of server text goes into the DOM through text nodes or attributes (see h()),
// never through innerHTML: topic names and message bodies are untrusted.
'use strict';

const PAGE_SIZE = 50;
const REFRESH_MS = 5000;
const JOB_POLL_MS = 500;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

// ---------- DOM helpers ----------

// h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', node, [more]) builds an element.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// cols: labels; a leading '#' marks a right-aligned numeric column.
// rows: arrays of cells (text, number or node), or ready <tr> nodes.
function table(id, cols, rows, empty) {
  const specs = cols.map((c) => (c[0] === '#' ? { label: c.slice(1), num: true } : { label: c }));
  const head = h('tr', null, specs.map((s) => h('th', { class: s.num ? 'num' : null }, s.label)));
  const body = rows.map((r) => (r instanceof Node ? r
    : h('tr', null, r.map((cell, i) => h('td', { class: specs[i] && specs[i].num ? 'num' : null }, cell)))));
  if (!body.length) body.push(h('tr', { class: 'empty' }, h('td', { colspan: specs.length }, empty || 'Nothing to show')));
  return h('table', { id, class: 'grid' }, h('thead', null, head), h('tbody', null, body));
}

const placeholder = () => h('p', { class: 'muted placeholder' }, 'Loading\u2026');
const section = (title, ...kids) => h('section', { class: 'card' }, h('h3', null, title), kids);
const field = (label, input) => h('label', { class: 'field' }, h('span', null, label), input);
const link = (href, text) => h('a', { href }, text);
const topicLink = (t) => link('#/topics/' + enc(t), t);
const groupLink = (g) => link('#/groups/' + enc(g), g);
const messageHref = (topic, msgId) => '#/messages/' + enc(topic) + '/' + enc(msgId);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A two-column table of label / value rows (value: text or node).
function kvTable(id, pairs) {
  return h('table', { id, class: 'grid kv' },
    h('tbody', null, pairs.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v)))));
}

// A progress bar: done of total; id names the outer element, which carries data-finished.
function progressBar(id, done, total, finished, text, hot) {
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : (finished ? 100 : 0);
  const bar = h('div', { class: 'progress-bar' + (hot ? ' hot' : '') });
  bar.style.width = pct + '%';
  return h('div', { id, class: 'progress', 'data-finished': finished ? 'true' : 'false',
    'data-done': done, 'data-total': total },
  h('div', { class: 'progress-track', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total,
    'aria-valuenow': done }, bar),
  h('span', { id: id + '-text', class: 'progress-text' }, text));
}

// ---------- formatting ----------

const pad = (n) => String(n).padStart(2, '0');
function fmtTime(ms) {
  const n = Number(ms);
  if (!n || n <= 0 || !isFinite(n)) return '-';
  const d = new Date(n);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const fmtNum = (v) => (v == null || v === '' ? '-' : String(v));
function fmtTps(v) {
  if (v == null || v === '') return '-';
  const n = Number(v);
  return isFinite(n) ? n.toFixed(2) : String(v);
}
function fmtPct(r) {
  const n = Number(r);
  if (r == null || !isFinite(n) || n < 0) return '-';
  return (n <= 1 ? n * 100 : n).toFixed(1) + '%';
}
// Topic permission bits (PermName): 4 read, 2 write, 1 inherit.
function fmtPerm(p) {
  const n = Number(p);
  if (p == null || p === '' || !isFinite(n)) return '-';
  return `${n} (${n & 4 ? 'R' : '-'}${n & 2 ? 'W' : '-'}${n & 1 ? ', inherit' : ''})`;
}
const PERMS = [[6, 'read and write (6)'], [4, 'read only (4)'], [2, 'write only (2)']];
// Bytes held by a base64 text.
function b64Size(s) {
  const t = String(s || '');
  return Math.max(0, Math.floor((t.length * 3) / 4) - (t.endsWith('==') ? 2 : t.endsWith('=') ? 1 : 0));
}
function localInputValue(d) { // for <input type=datetime-local step=1>
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ---------- status line, error banner, API ----------

function setStatus(s) {
  const el = $('status');
  el.textContent = s;
  el.dataset.state = s;
}
function showError(msg) {
  $('error').textContent = msg;
  $('error').hidden = false;
}
function clearError() {
  $('error').textContent = '';
  $('error').hidden = true;
}

async function api(method, path, body) {
  const opt = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opt);
  } catch (e) {
    throw new Error(`${method} ${path}: network error (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!res.ok) {
    if (data && data.error) throw new Error(String(data.error));
    throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300) || res.statusText}`);
  }
  return data;
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

// Runs one unit of work of the current page: status "loading", then "ready" once fn has rendered,
// or "error" with the banner. fn(live) must check live() after each await before touching the DOM;
// work that is no longer live (the route changed, a newer search started) leaves status alone.
// opts: btn (disabled while running), busyText, live, silent (background refresh: no "loading").
let gen = 0;
function task(fn, opts = {}) {
  const g = gen;
  const live = opts.live || (() => g === gen);
  const btn = opts.btn;
  const label = btn && btn.textContent;
  if (!opts.silent) { setStatus('loading'); clearError(); }
  if (btn) { btn.disabled = true; if (opts.busyText) btn.textContent = opts.busyText; }
  return Promise.resolve()
    .then(() => fn(live))
    .then(() => {
      if (!live()) return;
      if (opts.silent) clearError();
      setStatus('ready');
    }, (e) => {
      if (!live()) return;
      showError(e && e.message ? e.message : String(e));
      document.querySelectorAll('#content .placeholder').forEach((p) => { p.textContent = 'Could not load'; });
      setStatus('error');
    })
    .finally(() => {
      if (btn) { btn.disabled = false; if (opts.busyText) btn.textContent = label; }
    });
}

// A server-paged list rendered into box: a pager above a table. url(st) builds the request,
// render(items, answer) returns the table (or nodes). load() is a task of its own; refresh(live) runs inside another.
function pagedList(box, url, render, noun) {
  const st = { page: 1 };
  let seq = 0;
  async function show(live) {
    const d = await api('GET', url(st));
    if (!live()) return;
    box.replaceChildren(pager(d, noun, (p) => { st.page = p; load(); }),
      ...[render(d.items || [], d)].flat().filter(Boolean));
  }
  function load(opts) {
    const my = ++seq;
    const g = gen;
    const live = () => g === gen && my === seq;
    return task(() => show(live), Object.assign({ live }, opts));
  }
  function refresh(live) {
    const my = ++seq;
    return show(() => live() && my === seq);
  }
  // another query now owns box: a load still in flight must not draw into it
  function cancel() { seq++; }
  return { st, load, refresh, cancel };
}

function pager(d, noun, go) {
  const size = d.size || PAGE_SIZE;
  const page = d.page || 1;
  const total = d.total || 0;
  const pages = Math.max(1, Math.ceil(total / size));
  return h('div', { class: 'pager' },
    h('button', { id: 'prev', type: 'button', disabled: page <= 1, onclick: () => go(page - 1) }, '\u2039 Prev'),
    h('span', { id: 'page-info' }, `page ${page} of ${pages}`),
    h('button', { id: 'next', type: 'button', disabled: page >= pages, onclick: () => go(page + 1) }, 'Next \u203a'),
    h('span', { id: 'total', class: 'muted' }, `${total} ${noun}`));
}

function searchBox(placeholder, onSearch) {
  let timer = null;
  return h('input', {
    id: 'search', type: 'search', placeholder, autocomplete: 'off',
    oninput: (e) => {
      setStatus('loading'); // at once, so that a test waiting for "ready" waits for the search
      clearTimeout(timer);
      const v = e.target.value.trim();
      timer = setTimeout(() => onSearch(v), 250);
    },
  });
}

// ---------- pages ----------

let notice = null; // shown once by the next page mounted
function mount(title, ...kids) {
  const c = $('content');
  const n = notice ? h('div', { id: 'notice', class: 'notice' }, notice) : null;
  notice = null;
  c.replaceChildren(h('h2', null, title), ...[n].concat(kids.flat()).filter(Boolean));
  return c;
}

// Leaves the current page for hash with a notice for the next one. The work that called it
// is no longer live (gen moves on), so it leaves the status to the page being loaded.
function leaveTo(hash, text) {
  notice = text;
  gen++;
  location.hash = hash;
}

let refreshTimer = null;

function pageCluster() {
  const meta = h('p', { class: 'muted', id: 'cluster-meta' });
  const box = h('div', { id: 'brokers' }, placeholder());
  mount('Cluster', meta, section('Brokers', box));
  const cols = ['Cluster', 'Broker', '#ID', 'Role', 'Address', 'Version',
    '#In TPS', '#Out TPS', '#In today', '#Out today', '#Disk'];
  let busy = false;
  const load = (silent) => {
    if (busy) return Promise.resolve();
    busy = true;
    return task(async (live) => {
      const d = await api('GET', '/api/cluster');
      if (!live()) return;
      const brokers = (d.brokers || []).slice().sort((a, b) =>
        String(a.cluster).localeCompare(String(b.cluster)) ||
        String(a.brokerName).localeCompare(String(b.brokerName)) || (a.brokerId - b.brokerId));
      const rows = brokers.map((b) => {
        const role = h('span', { class: 'badge ' + (b.role === 'MASTER' ? 'master' : 'slave') }, b.role || '-');
        const head = [b.cluster, b.brokerName, fmtNum(b.brokerId), role, b.addr];
        if (b.error) {
          return h('tr', { class: 'row-error' }, head.map((c, i) => h('td', { class: i === 2 ? 'num' : null }, c)),
            h('td', { colspan: cols.length - head.length, class: 'cell-error' }, b.error));
        }
        return head.concat([b.version || '-', fmtTps(b.inTps), fmtTps(b.outTps),
          fmtNum(b.inToday), fmtNum(b.outToday), fmtPct(b.diskRatio)]);
      });
      box.replaceChildren(table('brokers-table', cols, rows, 'No brokers registered'));
      const ns = Array.isArray(d.namesrv) ? d.namesrv.join(', ') : fmtNum(d.namesrv);
      meta.textContent = `Name servers: ${ns || '-'} \u00b7 ${brokers.length} broker(s) \u00b7 ` +
        `updated ${fmtTime(Date.now()).slice(11)}, refreshed every ${REFRESH_MS / 1000} s`;
    }, { silent }).finally(() => { busy = false; });
  };
  load(false);
  refreshTimer = setInterval(() => load(true), REFRESH_MS);
}

function pageTopics() {
  const box = h('div', { id: 'topics-list' }, placeholder());
  const kind = h('select', { id: 'kind' },
    ['all', 'normal', 'retry', 'dlq', 'system'].map((k) => h('option', { value: k }, k)));
  const render = (items) => table('topics-table', ['Topic', 'Kind', 'Related'], items.map((t) => {
    let rel = '';
    if (t.kind === 'retry' && t.name.startsWith('%RETRY%')) rel = groupLink(t.name.slice(7));
    if (t.kind === 'dlq' && t.name.startsWith('%DLQ%')) rel = link('#/dlq/' + enc(t.name.slice(5)), 'dead letters');
    return [topicLink(t.name), h('span', { class: 'badge kind-' + t.kind }, t.kind), rel];
  }), 'No topics match');
  const list = pagedList(box,
    (st) => '/api/topics' + qs({ q: st.q, kind: st.kind, page: st.page, size: PAGE_SIZE }), render, 'topics');
  list.st.kind = 'all';
  const search = searchBox('Search topics\u2026', (q) => { list.st.q = q; list.st.page = 1; list.load(); });
  kind.addEventListener('change', () => { list.st.kind = kind.value; list.st.page = 1; list.load(); });

  const name = h('input', { id: 'create-topic-name', placeholder: 'TopicName', autocomplete: 'off' });
  const cluster = h('input', { id: 'create-topic-cluster', placeholder: 'default: first cluster', autocomplete: 'off' });
  const rq = h('input', { id: 'create-topic-read', type: 'number', min: 1, max: 1024, value: '8', class: 'short' });
  const wq = h('input', { id: 'create-topic-write', type: 'number', min: 1, max: 1024, value: '8', class: 'short' });
  const submit = h('button', { id: 'create-topic-submit', type: 'submit', class: 'primary' }, 'Create topic');
  const result = h('span', { id: 'create-topic-result', class: 'result' });
  const form = h('form', { class: 'inline-form', id: 'create-topic-form' },
    field('Topic name', name), field('Cluster (optional)', cluster),
    field('Read queues', rq), field('Write queues', wq), submit, result);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    result.textContent = '';
    task(async (live) => {
      const topic = name.value.trim();
      if (!topic) throw new Error('Topic name is required');
      const body = { topic, readQueueNums: Number(rq.value) || 8, writeQueueNums: Number(wq.value) || 8 };
      if (cluster.value.trim()) body.cluster = cluster.value.trim();
      const r = await api('POST', '/api/topics', body);
      if (!live()) return;
      result.replaceChildren('Created topic ', topicLink(topic), r && r.cluster ? ` in cluster ${r.cluster}` : '');
      result.className = 'result ok';
      name.value = '';
      await list.refresh(live);
    }, { btn: submit, busyText: 'Creating\u2026' });
  });

  mount('Topics', section('Create topic', form),
    h('div', { class: 'toolbar' }, search, field('Kind', kind)), box);
  list.load();
}

function pageGroups() {
  const box = h('div', { id: 'groups-list' }, placeholder());
  const render = (items) => table('groups-table', ['Consumer group', 'Dead letters'],
    items.map((g) => [groupLink(g.name), link('#/dlq/' + enc(g.name), 'dead letters')]), 'No groups match');
  const list = pagedList(box,
    (st) => '/api/groups' + qs({ q: st.q, page: st.page, size: PAGE_SIZE }), render, 'groups');
  const search = searchBox('Search groups\u2026', (q) => { list.st.q = q; list.st.page = 1; list.load(); });
  mount('Consumer groups', h('div', { class: 'toolbar' }, search), box);
  list.load();
}

function pageTopic(topic) {
  const queuesBox = h('div', { id: 'topic-queues-box' }, placeholder());
  const groupsBox = h('div', { id: 'topic-groups' });
  const body = h('textarea', { id: 'send-body', rows: 3, placeholder: 'message body' });
  const tag = h('input', { id: 'send-tag', placeholder: 'optional', autocomplete: 'off' });
  const keys = h('input', { id: 'send-keys', placeholder: 'optional, space separated', autocomplete: 'off' });
  const submit = h('button', { id: 'send-submit', type: 'submit', class: 'primary' }, 'Send');
  const result = h('div', { id: 'send-result', class: 'result' });
  const form = h('form', { class: 'stack-form' }, field('Body', body),
    h('div', { class: 'inline-form' }, field('Tag', tag), field('Keys', keys), submit), result);
  const routeBox = h('div', { id: 'topic-route-box' }, placeholder());
  const urq = h('input', { id: 'update-read', type: 'number', min: 1, max: 1024, value: '8', class: 'short' });
  const uwq = h('input', { id: 'update-write', type: 'number', min: 1, max: 1024, value: '8', class: 'short' });
  const uperm = h('select', { id: 'update-perm' }, PERMS.map(([v, label]) => h('option', { value: v }, label)));
  const usubmit = h('button', { id: 'update-submit', type: 'submit', class: 'primary' }, 'Update topic');
  const uresult = h('span', { id: 'update-result', class: 'result' });
  const uform = h('form', { class: 'inline-form', id: 'update-topic-form' },
    field('Read queues', urq), field('Write queues', uwq), field('Permission', uperm), usubmit, uresult);
  const delBtn = h('button', { id: 'delete-topic', type: 'button', class: 'danger' }, 'Delete topic');
  let prefilled = false; // the update form starts from the route, later refreshes leave edits alone

  function renderRoute(r) {
    const brokers = (r.brokers || []).slice().sort((a, b) => String(a.brokerName).localeCompare(String(b.brokerName)));
    const queues = (r.queues || []).slice().sort((a, b) => String(a.brokerName).localeCompare(String(b.brokerName)));
    routeBox.replaceChildren(
      table('topic-route-brokers', ['Cluster', 'Broker', 'Addresses'], brokers.map((b) => [b.cluster || '-', b.brokerName,
        Object.entries(b.addrs || {}).sort((x, y) => Number(x[0]) - Number(y[0]))
          .map(([id, addr]) => h('div', null, `${id === '0' ? 'master' : 'id ' + id}: ${addr}`))]),
      'No broker serves this topic'),
      table('topic-route-queues', ['Broker', '#Read queues', '#Write queues', 'Permission'],
        queues.map((q) => [q.brokerName, fmtNum(q.readQueueNums), fmtNum(q.writeQueueNums), fmtPerm(q.perm)]),
        'No queue data'));
    if (prefilled || !queues.length) return;
    prefilled = true;
    const q = queues[0];
    if (q.readQueueNums != null) urq.value = String(q.readQueueNums);
    if (q.writeQueueNums != null) uwq.value = String(q.writeQueueNums);
    if (q.perm != null) {
      const v = String(q.perm);
      if (![...uperm.options].some((o) => o.value === v)) uperm.append(h('option', { value: v }, fmtPerm(v)));
      uperm.value = v;
    }
  }

  async function refresh(live) {
    const [d, r] = await Promise.all([api('GET', '/api/topics/' + enc(topic)),
      api('GET', `/api/topics/${enc(topic)}/route`)]);
    if (!live()) return;
    renderRoute(r || {});
    const rows = (d.queues || []).slice().sort((a, b) =>
      String(a.broker).localeCompare(String(b.broker)) || a.queueId - b.queueId);
    const total = rows.reduce((s, q) => s + Math.max(0, (q.maxOffset || 0) - (q.minOffset || 0)), 0);
    queuesBox.replaceChildren(
      h('p', { class: 'muted' }, `${rows.length} queue(s), ${total} message(s) stored`),
      table('topic-queues', ['Broker', '#Queue', '#Min offset', '#Max offset', 'Last update'],
        rows.map((q) => [q.broker, fmtNum(q.queueId), fmtNum(q.minOffset), fmtNum(q.maxOffset),
          fmtTime(q.lastUpdateTimestamp)]), 'No queues'));
    const groups = d.groups || [];
    groupsBox.replaceChildren(groups.length
      ? h('ul', { class: 'links' }, groups.map((g) => h('li', null, groupLink(g))))
      : h('p', { class: 'muted' }, 'No consumer group consumes this topic'));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    result.replaceChildren();
    task(async (live) => {
      const msg = { body: body.value };
      if (tag.value.trim()) msg.tag = tag.value.trim();
      if (keys.value.trim()) msg.keys = keys.value.trim();
      const r = await api('POST', `/api/topics/${enc(topic)}/messages`, msg);
      if (!live()) return;
      result.className = 'result ok';
      result.replaceChildren('Sent: msgId ', h('code', { id: 'send-msgid' }, r.msgId),
        ` (broker ${r.broker}, queue ${r.queueId}, offset ${r.queueOffset})`);
      await refresh(live);
    }, { btn: submit, busyText: 'Sending\u2026' });
  });

  uform.addEventListener('submit', (e) => {
    e.preventDefault();
    uresult.textContent = '';
    task(async (live) => {
      const rq = Number(urq.value);
      const wq = Number(uwq.value);
      const perm = Number(uperm.value);
      if (!Number.isInteger(rq) || !Number.isInteger(wq) || rq < 1 || wq < 1) {
        throw new Error('Read and write queues must be whole numbers of at least 1');
      }
      await api('POST', '/api/topics', { topic, readQueueNums: rq, writeQueueNums: wq, perm });
      if (!live()) return;
      uresult.className = 'result ok';
      uresult.textContent = `Updated: ${rq} read and ${wq} write queue(s), permission ${fmtPerm(perm)}`;
      prefilled = false;
      await refresh(live);
    }, { btn: usubmit, busyText: 'Updating\u2026' });
  });

  delBtn.addEventListener('click', () => {
    if (!window.confirm(`Delete topic ${topic} on every broker and on the name servers?\n` +
      'Its messages can no longer be read.')) return;
    task(async (live) => {
      await api('DELETE', '/api/topics/' + enc(topic));
      if (!live()) return;
      leaveTo('#/topics', `Deleted topic ${topic}`);
    }, { btn: delBtn, busyText: 'Deleting\u2026' });
  });

  mount('Topic ' + topic,
    h('div', { class: 'crumbs page-actions' }, link('#/topics', '\u2190 Topics'), ' \u00b7 ',
      h('a', { id: 'query-messages-link', href: '#/messages?topic=' + enc(topic) }, 'Query messages'),
      h('span', { class: 'spacer' }), delBtn),
    section('Queues', queuesBox), section('Consumer groups', groupsBox), section('Route', routeBox),
    section('Send test message', form), section('Update queues and permission', uform));
  task(refresh);
}

function pageGroup(group) {
  const summary = h('div', { id: 'group-summary', class: 'summary' });
  const queuesBox = h('div', { id: 'group-queues-box' }, placeholder());
  const chartBox = h('div', { id: 'lag-chart' });
  const connBox = h('div', { id: 'group-connections-box' });
  const topicSel = h('select', { id: 'reset-topic' });
  const time = h('input', { id: 'reset-time', type: 'datetime-local', step: 1,
    value: localInputValue(new Date(Date.now() - 3600 * 1000)) });
  const submit = h('button', { id: 'reset-submit', type: 'submit', class: 'primary' }, 'Reset offsets');
  const result = h('div', { id: 'reset-result', class: 'result' });
  const form = h('form', { class: 'inline-form' }, field('Topic', topicSel), field('Time (local)', time), submit);

  async function refresh(live) {
    const d = await api('GET', '/api/groups/' + enc(group));
    if (!live()) return;
    const queues = d.queues || [];
    summary.replaceChildren(
      h('div', { class: 'stat' }, h('span', null, 'Total lag'), h('b', { id: 'group-lag' }, fmtNum(d.lag))),
      h('div', { class: 'stat' }, h('span', null, 'Consume TPS'), h('b', { id: 'group-tps' }, fmtTps(d.consumeTps))),
      h('div', { class: 'stat' }, h('span', null, 'Queues'), h('b', null, String(queues.length))),
      h('div', { class: 'stat' }, h('span', null, 'Clients'), h('b', null, String((d.connections || []).length))));
    queuesBox.replaceChildren(table('group-queues',
      ['Topic', 'Broker', '#Queue', '#Broker offset', '#Consumer offset', '#Lag', 'Last consume'],
      queues.map((q) => [topicLink(q.topic), q.broker, fmtNum(q.queueId), fmtNum(q.brokerOffset),
        fmtNum(q.consumerOffset), h('span', { class: q.lag > 0 ? 'lag' : null }, fmtNum(q.lag)),
        fmtTime(q.lastTimestamp)]), 'The group has no offsets'));
    chartBox.replaceChildren(lagChart(queues));
    connBox.replaceChildren(table('group-connections', ['Client id', 'Address', 'Language', 'Version'],
      (d.connections || []).map((c) => [c.clientId, c.clientAddr, c.language, c.version]),
      'No consumer is connected'));
    const prev = topicSel.value;
    const topics = [...new Set(queues.map((q) => q.topic))].sort();
    topicSel.replaceChildren(...topics.map((t) => h('option', { value: t }, t)));
    if (topics.includes(prev)) topicSel.value = prev;
    else if (topics.length) topicSel.value = topics.find((t) => !t.startsWith('%RETRY%')) || topics[0];
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    result.replaceChildren();
    task(async (live) => {
      const topic = topicSel.value;
      if (!topic) throw new Error('No topic to reset: the group has no offsets');
      const ts = new Date(time.value).getTime();
      if (!time.value || !isFinite(ts)) throw new Error('Pick a valid date and time');
      const r = await api('POST', `/api/groups/${enc(group)}/reset`, { topic, timestamp: ts });
      if (!live()) return;
      const done = (r && r.queues) || [];
      result.className = 'result ok';
      result.replaceChildren(
        h('p', null, `Reset ${done.length} queue(s) of ${topic} to ${fmtTime(ts)}`),
        table('reset-queues', ['Broker', '#Queue', '#New offset'],
          done.map((q) => [q.broker, fmtNum(q.queueId), fmtNum(q.offset)]), 'No queue was reset'));
      await refresh(live);
    }, { btn: submit, busyText: 'Resetting\u2026' });
  });

  const delBtn = h('button', { id: 'delete-group', type: 'button', class: 'danger' }, 'Delete group');
  delBtn.addEventListener('click', () => {
    if (!window.confirm(`Delete consumer group ${group} on every master broker?`)) return;
    task(async (live) => {
      await api('DELETE', '/api/groups/' + enc(group));
      if (!live()) return;
      leaveTo('#/groups', `Deleted consumer group ${group}`);
    }, { btn: delBtn, busyText: 'Deleting\u2026' });
  });

  mount('Group ' + group,
    h('div', { class: 'crumbs page-actions' }, link('#/groups', '\u2190 Consumer groups'), ' \u00b7 ',
      h('a', { id: 'dlq-link', href: '#/dlq/' + enc(group) }, 'Dead letters'),
      h('span', { class: 'spacer' }), delBtn),
    summary, section('Queues', queuesBox), section('Lag per queue', chartBox),
    section('Connections', connBox), section('Reset offset by time', form, result));
  task(refresh);
}

function lagChart(queues) {
  if (!queues.length) return h('p', { class: 'muted' }, 'No queues');
  const max = Math.max(1, ...queues.map((q) => Number(q.lag) || 0));
  return h('div', { class: 'bars' }, queues.map((q) => {
    const lag = Number(q.lag) || 0;
    const label = `${q.topic} \u00b7 ${q.broker} \u00b7 q${q.queueId}`;
    const bar = h('div', { class: 'bar' + (lag > 0 ? ' hot' : '') });
    bar.style.width = (lag > 0 ? Math.max(0.5, (lag / max) * 100) : 0) + '%';
    return h('div', { class: 'bar-row', title: `${label}: lag ${lag}` },
      h('span', { class: 'bar-label' }, label), h('div', { class: 'bar-track' }, bar),
      h('span', { class: 'bar-value' }, String(lag)));
  }));
}

function pageDlq(group) {
  const box = h('div', { id: 'dlq-list' }, placeholder());
  const result = h('div', { id: 'dlq-result', class: 'result' });
  const render = (items) => {
    const all = h('input', { type: 'checkbox', id: 'dlq-select-all', title: 'Select all on this page' });
    all.addEventListener('change', () => {
      box.querySelectorAll('input.dlq-select').forEach((c) => { c.checked = all.checked; });
    });
    const t = table('dlq-table', ['', 'Message id', 'Original topic', 'Stored', '#Reconsumes', 'Body'],
      items.map((m) => {
        const preview = String(m.body == null ? '' : m.body);
        return [h('input', { type: 'checkbox', class: 'dlq-select', 'data-msgid': m.offsetMsgId, title: m.offsetMsgId }),
          h('code', { title: 'offset msgId ' + m.offsetMsgId }, m.msgId || m.offsetMsgId),
          m.topic ? topicLink(m.topic) : '-', fmtTime(m.storeTimestamp), fmtNum(m.reconsumeTimes),
          h('span', { class: 'body-preview', title: preview.slice(0, 1024) },
            preview.length > 160 ? preview.slice(0, 160) + '\u2026' : preview)];
      }), 'No dead letters');
    t.querySelector('thead th').append(all);
    return t;
  };
  const list = pagedList(box,
    (st) => `/api/dlq/${enc(group)}` + qs({ page: st.page, size: PAGE_SIZE }), render, 'dead letters');
  const selBtn = h('button', { id: 'dlq-resend-selected', type: 'button', class: 'primary' }, 'Resend selected');
  const allBtn = h('button', { id: 'dlq-resend-all', type: 'button' }, 'Resend all');
  const exportLink = h('a', { id: 'dlq-export', class: 'button', href: `/api/dlq/${enc(group)}/export`,
    download: `dlq-${group}.ndjson`, title: 'All dead letters, one JSON object a line (at most 100 000)' }, 'Export');

  // The selected ones: resent at once, the answer says how it went.
  function resendSelected(ids) {
    result.className = 'result';
    result.textContent = `Resending ${ids.length} message(s)\u2026`;
    allBtn.disabled = true;
    task(async (live) => {
      const r = await api('POST', `/api/dlq/${enc(group)}/resend`, { msgIds: ids });
      if (!live()) return;
      const failed = (r && r.failed) || [];
      result.className = 'result ' + (failed.length ? 'warn' : 'ok');
      result.replaceChildren(h('p', null, `resent ${(r && r.resent) || 0}, failed ${failed.length}`),
        failedList(failed));
      await list.refresh(live);
    }, { btn: selBtn, busyText: 'Resending\u2026' }).finally(() => {
      allBtn.disabled = false;
      if (result.textContent.startsWith('Resending')) result.textContent = '';
    });
  }

  const failedList = (failed) =>
    h('ul', { class: 'errors' }, failed.map((f) => h('li', null, h('code', null, f.msgId), ': ', f.error)));

  function renderJob(j) {
    const total = Number(j.total) || 0;
    const done = Number(j.done) || 0;
    const failed = j.failed || [];
    const text = j.finished
      ? `finished: ${done} of ${total} done, ${failed.length} failed`
      : `resending\u2026 ${done} of ${total} done, ${failed.length} failed`;
    result.className = 'result' + (j.finished ? (failed.length || j.error ? ' warn' : ' ok') : '');
    result.replaceChildren(progressBar('dlq-progress', done, total, !!j.finished, text, failed.length > 0),
      j.error ? h('p', { class: 'cell-error' }, 'stopped: ', String(j.error)) : '',
      failedList(failed));
  }

  // All of them: the server answers 202 with a job at once; its progress is polled until finished.
  function resendAll() {
    result.className = 'result';
    result.textContent = 'Starting\u2026';
    selBtn.disabled = true;
    task(async (live) => {
      const r = await api('POST', `/api/dlq/${enc(group)}/resend`, { all: true });
      if (!live()) return;
      if (!r || r.job == null) throw new Error('Resend all: the server answered no job id');
      for (;;) {
        const j = await api('GET', '/api/jobs/' + enc(String(r.job)));
        if (!live()) return;
        renderJob(j);
        if (j.finished) {
          if (j.error) throw new Error(`Resend all stopped: ${j.error}`);
          break;
        }
        await sleep(JOB_POLL_MS);
        if (!live()) return;
      }
      await list.refresh(live);
    }, { btn: allBtn, busyText: 'Resending\u2026' }).finally(() => {
      selBtn.disabled = false;
      if (result.textContent === 'Starting\u2026') result.textContent = '';
    });
  }

  selBtn.addEventListener('click', () => {
    const ids = [...box.querySelectorAll('input.dlq-select:checked')].map((c) => c.dataset.msgid);
    if (!ids.length) { showError('Select at least one message to resend'); return; }
    resendSelected(ids);
  });
  allBtn.addEventListener('click', resendAll);

  mount('Dead letters of ' + group,
    h('p', { class: 'crumbs' }, link('#/groups/' + enc(group), '\u2190 Group ' + group),
      h('span', { class: 'muted' }, ` \u00b7 topic %DLQ%${group}`)),
    h('div', { class: 'toolbar' }, selBtn, allBtn, exportLink), result, box);
  list.load();
}

// The last query of #/messages, restored when coming back from a message.
const msgState = { topic: '', mode: null, st: null, key: '', id: '' };

function messagesTable(items, topic) {
  const rows = items.map((m) => {
    const id = m.msgId || m.offsetMsgId;
    const href = messageHref(m.topic || topic, id);
    return h('tr', {
      class: 'clickable', 'data-msgid': id, title: 'Open the message',
      onclick: (e) => {
        if (e.target.closest('a') || href === location.hash) return;
        setStatus('loading');
        location.hash = href;
      },
    },
    h('td', null, h('a', { href }, h('code', null, id))), h('td', null, m.tags || '-'), h('td', null, m.keys || '-'),
    h('td', { class: 'nowrap' }, fmtTime(m.storeTimestamp)), h('td', null, m.broker || '-'),
    h('td', { class: 'num' }, fmtNum(m.queueId)), h('td', { class: 'num' }, fmtNum(m.queueOffset)),
    h('td', { class: 'num' }, fmtNum(m.bodySize)));
  });
  return table('messages-table', ['Message id', 'Tags', 'Keys', 'Stored', 'Broker', '#Queue', '#Offset', '#Body bytes'],
    rows, 'No message found');
}

function pageMessages(topicParam) {
  if (topicParam != null && topicParam !== msgState.topic) {
    Object.assign(msgState, { topic: topicParam, mode: null, st: null, key: '', id: '' });
  }
  const hour = 3600 * 1000;
  const now = Date.now();
  const topicIn = h('input', { id: 'msg-topic', placeholder: 'TopicName', autocomplete: 'off', value: msgState.topic });
  const begin = h('input', { id: 'msg-begin', type: 'datetime-local', step: 1, value: localInputValue(new Date(now - hour)) });
  const end = h('input', { id: 'msg-end', type: 'datetime-local', step: 1, value: localInputValue(new Date(now)) });
  const lastHour = h('button', { id: 'msg-last-hour', type: 'button', title: 'From an hour ago to now' }, 'Last hour');
  lastHour.addEventListener('click', () => {
    const t = Date.now();
    begin.value = localInputValue(new Date(t - hour));
    end.value = localInputValue(new Date(t));
  });
  const rangeBtn = h('button', { id: 'msg-range-submit', type: 'submit', class: 'primary' }, 'Query by time');
  const key = h('input', { id: 'msg-key', placeholder: 'message key', autocomplete: 'off', value: msgState.key });
  const keyBtn = h('button', { id: 'msg-key-submit', type: 'submit', class: 'primary' }, 'Query by key');
  const idIn = h('input', { id: 'msg-id', placeholder: 'message id or offset message id', autocomplete: 'off',
    class: 'wide', value: msgState.id });
  const idBtn = h('button', { id: 'msg-id-submit', type: 'submit', class: 'primary' }, 'Find by id');
  const rangeForm = h('form', { id: 'msg-range-form', class: 'inline-form' },
    field('From (local time)', begin), field('To (local time)', end), lastHour, rangeBtn);
  const keyForm = h('form', { id: 'msg-key-form', class: 'inline-form' }, field('Key', key), keyBtn);
  const idForm = h('form', { id: 'msg-id-form', class: 'inline-form' }, field('Message id', idIn), idBtn);
  const box = h('div', { id: 'messages-list' },
    h('p', { class: 'muted' }, 'Pick a topic, then query it by time range, by key or by message id.'));

  const render = (items, d) => [
    d.truncated ? h('p', { id: 'messages-truncated', class: 'warn-note' },
      'truncated: the range holds more messages than one query scans (2 000, newest first); narrow it') : null,
    messagesTable(items, (list.st.query || {}).topic)];
  const list = pagedList(box,
    (st) => '/api/messages' + qs(Object.assign({}, st.query, { page: st.page, size: PAGE_SIZE })), render, 'messages');
  const reject = (msg) => task(() => { throw new Error(msg); });

  // Time range or key: a paged list. opts: the button that started it.
  function runList(query, page, opts) {
    msgState.st = list.st;
    list.st.query = query;
    list.st.page = page || 1;
    return list.load(opts);
  }
  function runId(topic, id, opts) {
    list.cancel();
    return task(async (live) => {
      const m = await api('GET', '/api/messages/' + enc(id) + qs({ topic }));
      if (!live()) return;
      m.bodySize = m.bodySize != null ? m.bodySize : b64Size(m.bodyBase64);
      box.replaceChildren(h('p', { class: 'muted' }, 'Found by id:'), messagesTable([m], topic));
    }, opts);
  }

  rangeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const topic = topicIn.value.trim();
    const b = new Date(begin.value).getTime();
    // the end is the last second shown, inclusive
    const en = new Date(end.value).getTime() + 999;
    if (!topic) return reject('Pick a topic first');
    if (!begin.value || !end.value || !isFinite(b) || !isFinite(en)) return reject('Pick a valid time range');
    if (b > en) return reject('The range starts after it ends');
    Object.assign(msgState, { topic, mode: 'range' });
    return runList({ topic, begin: b, end: en }, 1, { btn: rangeBtn, busyText: 'Querying\u2026' });
  });
  keyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const topic = topicIn.value.trim();
    const k = key.value.trim();
    if (!topic) return reject('Pick a topic first');
    if (!k) return reject('Type a key');
    Object.assign(msgState, { topic, mode: 'key', key: k });
    return runList({ topic, key: k }, 1, { btn: keyBtn, busyText: 'Querying\u2026' });
  });
  idForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const topic = topicIn.value.trim();
    const id = idIn.value.trim();
    if (!topic) return reject('Pick a topic first');
    if (!id) return reject('Type a message id');
    Object.assign(msgState, { topic, mode: 'id', id });
    return runId(topic, id, { btn: idBtn, busyText: 'Finding\u2026' });
  });

  mount('Messages', section('Query',
    h('div', { class: 'inline-form' }, field('Topic', topicIn)),
    h('div', { class: 'query-rows' },
      h('div', { class: 'query-row' }, h('span', { class: 'query-label' }, 'By time range'), rangeForm),
      h('div', { class: 'query-row' }, h('span', { class: 'query-label' }, 'By key'), keyForm),
      h('div', { class: 'query-row' }, h('span', { class: 'query-label' }, 'By message id'), idForm))),
  box);

  // coming back (from a message): the same query again
  const saved = msgState.st;
  if ((msgState.mode === 'range' || msgState.mode === 'key') && saved && saved.query) {
    if (saved.query.begin != null) begin.value = localInputValue(new Date(saved.query.begin));
    if (saved.query.end != null) end.value = localInputValue(new Date(saved.query.end));
    runList(saved.query, saved.page);
  } else if (msgState.mode === 'id' && msgState.topic && msgState.id) {
    runId(msgState.topic, msgState.id);
  } else {
    setStatus('ready');
  }
}

function pageMessage(topic, msgId) {
  const fieldsBox = h('div', { id: 'message-fields-box' }, placeholder());
  const propsBox = h('div', { id: 'message-properties-box' });
  const bodyPre = h('pre', { id: 'message-body', class: 'body-full' });
  const bodyInfo = h('span', { id: 'message-body-info', class: 'muted' });
  const toggle = h('button', { id: 'message-body-toggle', type: 'button', disabled: true }, 'Show base64');
  let msg = null;
  let showB64 = false;
  function showBody() {
    bodyPre.textContent = showB64 ? String(msg.bodyBase64 || '') : String(msg.body == null ? '' : msg.body);
    bodyPre.dataset.format = showB64 ? 'base64' : 'text';
    toggle.textContent = showB64 ? 'Show text' : 'Show base64';
  }
  toggle.addEventListener('click', () => {
    if (!msg) return;
    showB64 = !showB64;
    showBody();
  });

  const groupIn = h('input', { id: 'resend-group', placeholder: 'ConsumerGroup', autocomplete: 'off',
    list: 'resend-groups' });
  const groupOptions = h('datalist', { id: 'resend-groups' });
  const clientIn = h('input', { id: 'resend-client', placeholder: 'default: the first one connected',
    autocomplete: 'off', class: 'wide' });
  const submit = h('button', { id: 'resend-submit', type: 'submit', class: 'primary' }, 'Resend');
  const result = h('div', { id: 'resend-result', class: 'result' });
  const form = h('form', { id: 'resend-form', class: 'inline-form' },
    field('Consumer group', groupIn), field('Client id (optional)', clientIn), submit, groupOptions);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    result.replaceChildren();
    task(async (live) => {
      const group = groupIn.value.trim();
      if (!group) throw new Error('Name the consumer group to resend to');
      const body = { topic, group };
      if (clientIn.value.trim()) body.clientId = clientIn.value.trim();
      const r = (await api('POST', `/api/messages/${enc(msgId)}/resend`, body)) || {};
      if (!live()) return;
      result.className = 'result ' + (r.result === 'CR_SUCCESS' ? 'ok' : 'warn');
      result.replaceChildren(`Consumed by ${body.clientId || 'a client of ' + group}: `,
        h('b', { id: 'resend-status' }, r.result || '-'),
        r.remark ? h('span', { id: 'resend-remark' }, ' \u00b7 ', String(r.remark)) : '');
    }, { btn: submit, busyText: 'Resending\u2026' });
  });

  mount('Message ' + msgId,
    h('p', { class: 'crumbs' }, link('#/messages', '\u2190 Messages'), ' \u00b7 topic ', topicLink(topic)),
    section('Header', fieldsBox), section('Properties', propsBox),
    section('Body', h('div', { class: 'toolbar' }, toggle, bodyInfo), bodyPre),
    section('Resend to a consumer group',
      h('p', { class: 'muted' }, 'One client of the group consumes this message directly ' +
        '(CONSUME_MESSAGE_DIRECTLY); the answer is its consume result.'),
      form, result));

  task(async (live) => {
    const m = await api('GET', '/api/messages/' + enc(msgId) + qs({ topic }));
    if (!live()) return;
    msg = m;
    const code = (v) => (v ? h('code', null, v) : '-');
    fieldsBox.replaceChildren(kvTable('message-fields', [
      ['Message id', code(m.msgId)], ['Offset message id', code(m.offsetMsgId)],
      ['Topic', m.topic ? topicLink(m.topic) : '-'], ['Tags', m.tags || '-'], ['Keys', m.keys || '-'],
      ['Stored', fmtTime(m.storeTimestamp)], ['Born', fmtTime(m.bornTimestamp)],
      ['Born host', m.bornHost || '-'], ['Store host', m.storeHost || '-'], ['Broker', m.broker || '-'],
      ['Queue', fmtNum(m.queueId)], ['Queue offset', fmtNum(m.queueOffset)],
      ['Reconsume times', fmtNum(m.reconsumeTimes)]]));
    const props = Object.entries(m.properties || {}).sort((a, b) => a[0].localeCompare(b[0]));
    propsBox.replaceChildren(table('message-properties', ['Property', 'Value'],
      props.map(([k, v]) => [k, h('span', { class: 'body-preview' }, String(v))]), 'No properties'));
    bodyInfo.textContent = `${b64Size(m.bodyBase64)} byte(s)`;
    toggle.disabled = false;
    showBody();
    // the groups consuming the topic, as suggestions for the resend form (best effort)
    api('GET', '/api/topics/' + enc(topic)).then((t) => {
      if (live() && t) groupOptions.replaceChildren(...(t.groups || []).map((g) => h('option', { value: g })));
    }, () => {});
  });
}

function pageProducers() {
  const meta = h('p', { class: 'muted', id: 'producers-meta' });
  const box = h('div', { id: 'producers-list' }, placeholder());
  let q = '';
  let seq = 0;
  function load() {
    const my = ++seq;
    const g = gen;
    const live = () => g === gen && my === seq;
    return task(async () => {
      const d = await api('GET', '/api/producers' + qs({ q }));
      if (!live()) return;
      const items = ((d && d.producers) || []).slice().sort((a, b) =>
        String(a.group).localeCompare(String(b.group)) || String(a.broker).localeCompare(String(b.broker)) ||
        String(a.clientId).localeCompare(String(b.clientId)));
      const groups = new Set(items.map((p) => p.group));
      meta.textContent = `${groups.size} producer group(s), ${items.length} connection(s)`;
      box.replaceChildren(table('producers-table',
        ['Producer group', 'Broker', 'Client id', 'Address', 'Language', 'Version', 'Last update'],
        items.map((p, i) => h('tr', { class: i > 0 && items[i - 1].group === p.group ? 'same-group' : 'first-of-group' },
          h('td', null, h('b', null, p.group)), h('td', null, p.broker || '-'), h('td', null, h('code', null, p.clientId || '-')),
          h('td', null, p.clientAddr || '-'), h('td', null, p.language || '-'), h('td', null, fmtNum(p.version)),
          h('td', { class: 'nowrap' }, fmtTime(p.lastUpdateTimestamp)))),
        q ? 'No producer group matches' : 'No producer is connected'));
    }, { live });
  }
  const search = searchBox('Filter by producer group\u2026', (v) => { q = v; load(); });
  mount('Producers', h('div', { class: 'toolbar' }, search), meta, box);
  load();
}

// ---------- ACL ----------

// The broker the ACL page shows and where its edits go, kept across visits.
const aclView = { broker: '', scope: 'broker' };
const PERM_TEXTS = ['DENY', 'PUB', 'SUB', 'PUB|SUB'];
const AUTH_ACTIONS = ['Pub', 'Sub', 'Create', 'Update', 'Delete', 'Get', 'List', 'All'];
// 'a, b\nc' -> ['a', 'b', 'c']
const listOf = (s) => String(s || '').split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
const joined = (xs) => (xs && xs.length ? xs.join(', ') : '-');

// A section whose broker runs without that ACL (or does not know its request codes).
// The broker's own words go to the tooltip when they only say the same.
function aclOff(id, what, d) {
  const unsupported = d.state === 'unsupported';
  return h('p', { id, class: 'warn-note', 'data-state': d.state, title: d.reason || null },
    unsupported ? `This broker does not support ${what}` : `${what} is not enabled on this broker`,
    unsupported && d.reason ? h('span', { class: 'muted' }, ` (it answered: ${d.reason})`) : '');
}

function pageAcl() {
  const brokerSel = h('select', { id: 'acl-broker' });
  const scopeSel = h('select', { id: 'acl-scope' });
  const v1Box = h('div', { id: 'acl-v1-box' }, placeholder());
  const v2Box = h('div', { id: 'acl-v2-box' }, placeholder());
  const v1Result = h('div', { id: 'acl-v1-result', class: 'result' });
  const v2Result = h('div', { id: 'acl-v2-result', class: 'result' });
  let brokers = [];

  const current = () => brokers.find((b) => b.addr === brokerSel.value) || {};
  // where an edit goes: this broker, or its cluster (ACL 1.0: the masters; ACL 2.0: every broker)
  const target = () => (scopeSel.value === 'cluster' ? { cluster: current().cluster } : { broker: current().addr });
  const where = () => (scopeSel.value === 'cluster' ? `cluster ${current().cluster}` : current().addr);
  const said = (box, text) => { box.className = 'result ok'; box.textContent = text; };

  // One edit: the request, a line saying what was done, the section reloaded.
  function edit(btn, result, busyText, send, doneText, reload) {
    result.textContent = '';
    return task(async (live) => {
      const r = await send();
      if (!live()) return;
      said(result, `${doneText} on ${joined((r && r.brokers) || [where()])}`);
      await reload(live);
    }, { btn, busyText });
  }

  // ACL 1.0: accounts, white list, the account form
  function renderV1(d) {
    const ak = h('input', { id: 'acl-ak', placeholder: 'longer than 6 characters', autocomplete: 'off' });
    // Apache RocketMQ 4.9.8 and 5.x run ACL 1.0 without listing it: edits only, the secret required
    const listed = d.listed !== false;
    const sk = h('input', { id: 'acl-sk', type: 'password', autocomplete: 'new-password',
      placeholder: listed ? 'blank keeps the current one' : 'required' });
    const white = h('input', { id: 'acl-account-white', placeholder: 'e.g. 192.168.0.*', autocomplete: 'off' });
    const admin = h('input', { id: 'acl-admin', type: 'checkbox' });
    const permSel = (id) => h('select', { id }, h('option', { value: '' }, '(not set)'),
      PERM_TEXTS.map((p) => h('option', { value: p }, p)));
    const dtp = permSel('acl-default-topic');
    const dgp = permSel('acl-default-group');
    const tp = h('input', { id: 'acl-topic-perms', class: 'wide', placeholder: 'topicA=PUB, topicB=PUB|SUB', autocomplete: 'off' });
    const gp = h('input', { id: 'acl-group-perms', class: 'wide', placeholder: 'groupA=SUB', autocomplete: 'off' });
    const submit = h('button', { id: 'acl-account-submit', type: 'submit', class: 'primary' }, 'Save account');
    const form = h('form', { id: 'acl-account-form', class: 'inline-form' },
      field('Access key', ak), field('Secret key', sk), field('White address', white),
      field('Default topic perm', dtp), field('Default group perm', dgp), field('Topic perms', tp),
      field('Group perms', gp), h('label', { class: 'field check' }, h('span', null, 'Admin'), admin), submit);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = Object.assign(target(), { accessKey: ak.value.trim(), secretKey: sk.value,
        whiteRemoteAddress: white.value.trim(), admin: admin.checked, defaultTopicPerm: dtp.value,
        defaultGroupPerm: dgp.value, topicPerms: listOf(tp.value), groupPerms: listOf(gp.value) });
      if (!body.accessKey) { task(() => { throw new Error('The access key is required'); }); return; }
      edit(submit, v1Result, 'Saving\u2026', () => api('POST', '/api/acl/v1/accounts', body),
        `Saved account ${body.accessKey}`, loadV1);
    });
    const fill = (a) => {
      ak.value = a.accessKey || '';
      sk.value = '';
      white.value = a.whiteRemoteAddress || '';
      admin.checked = !!a.admin;
      dtp.value = a.defaultTopicPerm || '';
      dgp.value = a.defaultGroupPerm || '';
      tp.value = (a.topicPerms || []).join(', ');
      gp.value = (a.groupPerms || []).join(', ');
      ak.focus();
    };

    const rows = (d.accounts || []).map((a) => {
      const editBtn = h('button', { type: 'button', class: 'acl-account-edit', 'data-ak': a.accessKey,
        onclick: () => fill(a) }, 'Edit');
      const delBtn = h('button', { type: 'button', class: 'danger acl-account-delete', 'data-ak': a.accessKey }, 'Delete');
      delBtn.addEventListener('click', () => {
        if (!window.confirm(`Delete ACL account ${a.accessKey} on ${where()}?`)) return;
        edit(delBtn, v1Result, 'Deleting\u2026',
          () => api('DELETE', `/api/acl/v1/accounts/${enc(a.accessKey)}` + qs(target())),
          `Deleted account ${a.accessKey}`, loadV1);
      });
      return h('tr', { 'data-ak': a.accessKey },
        h('td', null, h('b', null, a.accessKey)), h('td', null, h('code', null, a.secretKey || '-')),
        h('td', null, a.whiteRemoteAddress || '-'),
        h('td', null, a.admin ? h('span', { class: 'badge master' }, 'admin') : 'no'),
        h('td', null, a.defaultTopicPerm || '-'), h('td', null, a.defaultGroupPerm || '-'),
        h('td', null, joined(a.topicPerms)), h('td', null, joined(a.groupPerms)),
        h('td', { class: 'nowrap' }, editBtn, ' ', delBtn));
    });

    const wl = h('input', { id: 'acl-white', class: 'wide', value: (d.globalWhiteAddrs || []).join(', '),
      placeholder: listed ? 'none: every request is checked' : 'not listed by this broker: saving replaces its list',
      autocomplete: 'off' });
    const wlBtn = h('button', { id: 'acl-white-submit', type: 'submit' }, 'Save white list');
    const wlForm = h('form', { id: 'acl-white-form', class: 'inline-form' },
      field('Global white addresses (not checked at all; comma separated)', wl), wlBtn);
    wlForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const addrs = listOf(wl.value);
      edit(wlBtn, v1Result, 'Saving\u2026',
        () => api('POST', '/api/acl/v1/white-addrs', Object.assign(target(), { addrs })),
        `Saved ${addrs.length} global white address(es)`, loadV1);
    });

    // without a list there are no rows to delete from: a field for the access key
    function deleteByKey() {
      const key = h('input', { id: 'acl-delete-ak', autocomplete: 'off' });
      const btn = h('button', { id: 'acl-delete-submit', type: 'submit', class: 'danger' }, 'Delete account');
      const f = h('form', { id: 'acl-delete-form', class: 'inline-form' }, field('Access key', key), btn);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        const k = key.value.trim();
        if (!k || !window.confirm(`Delete ACL account ${k} on ${where()}?`)) return;
        edit(btn, v1Result, 'Deleting\u2026', () => api('DELETE', `/api/acl/v1/accounts/${enc(k)}` + qs(target())),
          `Deleted account ${k}`, loadV1);
      });
      return f;
    }

    v1Box.replaceChildren(
      h('p', { id: 'acl-v1-state', class: 'muted', 'data-state': 'enabled', 'data-listed': String(listed) },
        `ACL 1.0 is enabled${d.version ? ' \u00b7 ' + d.version : ''}`),
      listed ? '' : h('p', { id: 'acl-v1-unlisted', class: 'warn-note' },
        d.reason ? d.reason[0].toUpperCase() + d.reason.slice(1) : 'This broker does not list its accounts'),
      wlForm,
      listed ? table('acl-accounts', ['Access key', 'Secret key', 'White address', 'Admin', 'Default topic',
        'Default group', 'Topic perms', 'Group perms', ''], rows, 'No accounts') : '',
      listed ? '' : h('p', { class: 'muted' }, 'Delete an account by its access key:'),
      listed ? '' : deleteByKey(),
      h('h4', null, 'Create or update an account'), form);
  }

  async function loadV1(live) {
    try {
      const d = await api('GET', '/api/acl/v1' + qs({ broker: current().addr }));
      if (!live()) return;
      if (d.state !== 'enabled') v1Box.replaceChildren(aclOff('acl-v1-state', 'ACL 1.0 (aclEnable)', d));
      else renderV1(d);
    } catch (e) {
      if (live()) v1Box.replaceChildren(h('p', { id: 'acl-v1-error', class: 'cell-error' }, 'Could not load: ', e.message));
      throw e;
    }
  }

  // ACL 2.0: users, their policies, the two forms
  function renderV2(d) {
    const users = d.users || [];
    const un = h('input', { id: 'acl-username', autocomplete: 'off' });
    const pw = h('input', { id: 'acl-password', type: 'password', autocomplete: 'new-password',
      placeholder: 'required for a new user; blank keeps it' });
    const ut = h('select', { id: 'acl-user-type' }, ['Normal', 'Super'].map((t) => h('option', { value: t }, t)));
    const us = h('select', { id: 'acl-user-status' }, ['enable', 'disable'].map((t) => h('option', { value: t }, t)));
    const uSubmit = h('button', { id: 'acl-user-submit', type: 'submit', class: 'primary' }, 'Save user');
    const uForm = h('form', { id: 'acl-user-form', class: 'inline-form' },
      field('Username', un), field('Password', pw), field('Type', ut), field('Status', us), uSubmit);
    uForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = Object.assign(target(), { username: un.value.trim(), password: pw.value,
        userType: ut.value, userStatus: us.value });
      if (!body.username) { task(() => { throw new Error('The username is required'); }); return; }
      edit(uSubmit, v2Result, 'Saving\u2026', () => api('POST', '/api/acl/v2/users', body),
        `Saved user ${body.username}`, loadV2);
    });

    const userRows = users.map((u) => {
      const editBtn = h('button', { type: 'button', class: 'acl-user-edit', onclick: () => {
        un.value = u.username || '';
        pw.value = '';
        ut.value = u.userType === 'Super' ? 'Super' : 'Normal';
        us.value = u.userStatus === 'disable' ? 'disable' : 'enable';
        un.focus();
      } }, 'Edit');
      const delBtn = h('button', { type: 'button', class: 'danger acl-user-delete', 'data-user': u.username }, 'Delete');
      delBtn.addEventListener('click', () => {
        if (!window.confirm(`Delete user ${u.username} (and its ACL) on ${where()}?`)) return;
        edit(delBtn, v2Result, 'Deleting\u2026', () => api('DELETE', `/api/acl/v2/users/${enc(u.username)}` + qs(target())),
          `Deleted user ${u.username}`, loadV2);
      });
      return h('tr', { 'data-user': u.username }, h('td', null, h('b', null, u.username)),
        h('td', null, h('code', null, u.password || '-')), h('td', null, u.userType || '-'),
        h('td', null, h('span', { class: 'badge ' + (u.userStatus === 'disable' ? 'kind-dlq' : 'kind-normal') },
          u.userStatus || '-')),
        h('td', { class: 'nowrap' }, editBtn, ' ', delBtn));
    });

    // one row per policy entry; the subject's first row also deletes its whole ACL
    const aclRows = [];
    for (const acl of d.acls || []) {
      let first = true;
      for (const p of acl.policies || []) {
        for (const en of p.entries || []) {
          const delEntry = h('button', { type: 'button', class: 'danger acl-entry-delete',
            'data-subject': acl.subject, 'data-resource': en.resource }, 'Delete entry');
          delEntry.addEventListener('click', () => {
            if (!window.confirm(`Delete ${acl.subject}'s entry for ${en.resource} on ${where()}?`)) return;
            edit(delEntry, v2Result, 'Deleting\u2026', () => api('DELETE',
              `/api/acl/v2/acls/${enc(acl.subject)}` + qs(Object.assign(target(), { resource: en.resource }))),
            `Deleted ${acl.subject}'s entry for ${en.resource}`, loadV2);
          });
          let delAll = null;
          if (first) {
            delAll = h('button', { type: 'button', class: 'danger acl-delete', 'data-subject': acl.subject }, 'Delete ACL');
            delAll.addEventListener('click', () => {
              if (!window.confirm(`Delete every policy of ${acl.subject} on ${where()}?`)) return;
              edit(delAll, v2Result, 'Deleting\u2026', () => api('DELETE', `/api/acl/v2/acls/${enc(acl.subject)}` + qs(target())),
                `Deleted the ACL of ${acl.subject}`, loadV2);
            });
          }
          aclRows.push(h('tr', { class: first ? 'first-of-group' : 'same-group', 'data-subject': acl.subject },
            h('td', null, h('b', null, acl.subject)), h('td', null, p.policyType || 'Custom'),
            h('td', null, h('code', null, en.resource || '-')), h('td', null, joined(en.actions)),
            h('td', null, joined(en.sourceIps)),
            h('td', null, h('span', { class: 'badge ' + (String(en.decision).toLowerCase() === 'deny' ? 'kind-dlq' : 'kind-normal') },
              en.decision || '-')),
            h('td', { class: 'nowrap' }, delEntry, delAll ? ' ' : '', delAll)));
          first = false;
        }
      }
    }

    const subject = h('input', { id: 'acl-subject', placeholder: 'User:alice (or alice)', autocomplete: 'off',
      list: 'acl-subjects' });
    const subjects = h('datalist', { id: 'acl-subjects' }, users.map((u) => h('option', { value: 'User:' + u.username })));
    const resources = h('input', { id: 'acl-resources', class: 'wide', placeholder: 'Topic:orders, Group:g*, *',
      autocomplete: 'off' });
    const actions = h('span', { id: 'acl-actions', class: 'checks' }, AUTH_ACTIONS.map((a) =>
      h('label', null, h('input', { type: 'checkbox', class: 'acl-action', value: a }), a)));
    const ips = h('input', { id: 'acl-source-ips', placeholder: 'any; or 10.0.0.0/8, 127.0.0.1', autocomplete: 'off' });
    const decision = h('select', { id: 'acl-decision' }, ['Allow', 'Deny'].map((t) => h('option', { value: t }, t)));
    const ptype = h('select', { id: 'acl-policy-type' }, ['Custom', 'Default'].map((t) => h('option', { value: t }, t)));
    const pSubmit = h('button', { id: 'acl-policy-submit', type: 'submit', class: 'primary' }, 'Save policy');
    const pForm = h('form', { id: 'acl-policy-form', class: 'inline-form' }, field('Subject', subject), subjects,
      field('Resources', resources), field('Actions', actions), field('Source IPs', ips),
      field('Decision', decision), field('Policy type', ptype), pSubmit);
    pForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = Object.assign(target(), { subject: subject.value.trim(), resources: listOf(resources.value),
        actions: [...actions.querySelectorAll('input:checked')].map((c) => c.value), sourceIps: listOf(ips.value),
        decision: decision.value, policyType: ptype.value });
      edit(pSubmit, v2Result, 'Saving\u2026', () => api('POST', '/api/acl/v2/acls', body),
        `Saved ${body.resources.length} entr${body.resources.length === 1 ? 'y' : 'ies'} for ${body.subject}`, loadV2);
    });

    v2Box.replaceChildren(
      h('p', { id: 'acl-v2-state', class: 'muted', 'data-state': 'enabled' }, 'ACL 2.0 is enabled'),
      h('h4', null, 'Users'),
      table('acl-users', ['Username', 'Password', 'Type', 'Status', ''], userRows, 'No users'),
      h('h4', null, 'Create or update a user'), uForm,
      h('h4', null, 'Policies'),
      table('acl-acls', ['Subject', 'Policy', 'Resource', 'Actions', 'Source IPs', 'Decision', ''], aclRows, 'No policies'),
      h('h4', null, 'Add or replace policy entries (one per resource)'), pForm);
  }

  async function loadV2(live) {
    try {
      const d = await api('GET', '/api/acl/v2' + qs({ broker: current().addr }));
      if (!live()) return;
      if (d.state !== 'enabled') {
        v2Box.replaceChildren(aclOff('acl-v2-state', 'ACL 2.0 (authenticationEnabled, authorizationEnabled)', d));
      } else {
        renderV2(d);
      }
    } catch (e) {
      if (live()) v2Box.replaceChildren(h('p', { id: 'acl-v2-error', class: 'cell-error' }, 'Could not load: ', e.message));
      throw e;
    }
  }

  // both sections; the first failure goes to the banner once both are drawn
  async function loadBoth(live) {
    v1Result.textContent = '';
    v2Result.textContent = '';
    const r = await Promise.allSettled([loadV1(live), loadV2(live)]);
    const failed = r.find((x) => x.status === 'rejected');
    if (failed) throw failed.reason;
  }

  function fillScope() {
    const b = current();
    const prev = scopeSel.value || aclView.scope;
    scopeSel.replaceChildren(h('option', { value: 'broker' }, `this broker only (${b.addr || '-'})`),
      h('option', { value: 'cluster' }, `cluster ${b.cluster || '-'} (ACL 1.0: its masters; 2.0: all its brokers)`));
    scopeSel.value = prev;
  }

  brokerSel.addEventListener('change', () => {
    aclView.broker = brokerSel.value;
    fillScope();
    task(loadBoth);
  });
  scopeSel.addEventListener('change', () => { aclView.scope = scopeSel.value; });

  mount('ACL',
    h('p', { class: 'muted' }, 'Access control of each broker: ACL 1.0 (plain_acl.yml, RocketMQ 4.9) and ' +
      'ACL 2.0 (users and policies, RocketMQ 5.3). Secrets and passwords are never shown.'),
    h('div', { class: 'toolbar' }, field('Broker', brokerSel), field('Apply changes to', scopeSel)),
    section('ACL 1.0: accounts (plain_acl.yml)', v1Result, v1Box),
    section('ACL 2.0: users and policies', v2Result, v2Box));

  task(async (live) => {
    const d = await api('GET', '/api/acl/brokers');
    if (!live()) return;
    brokers = d.brokers || [];
    if (!brokers.length) {
      v1Box.replaceChildren(h('p', { class: 'muted' }, 'No brokers registered'));
      v2Box.replaceChildren();
      return;
    }
    brokerSel.replaceChildren(...brokers.map((b) => h('option', { value: b.addr },
      `${b.cluster} / ${b.brokerName} / ${b.brokerId === 0 ? 'master' : 'id ' + b.brokerId} (${b.addr})`)));
    brokerSel.value = brokers.some((b) => b.addr === aclView.broker) ? aclView.broker : brokers[0].addr;
    aclView.broker = brokerSel.value;
    fillScope();
    await loadBoth(live);
  });
}

// ---------- routing ----------

const routes = [
  [/^#\/cluster$/, pageCluster, 'cluster'],
  [/^#\/topics$/, pageTopics, 'topics'],
  [/^#\/topics\/([^/]+)$/, pageTopic, 'topics'],
  [/^#\/groups$/, pageGroups, 'groups'],
  [/^#\/groups\/([^/]+)$/, pageGroup, 'groups'],
  [/^#\/dlq\/([^/]+)$/, pageDlq, 'groups'],
  [/^#\/messages(?:\?topic=([^&]*))?$/, pageMessages, 'messages'],
  [/^#\/messages\/([^/]+)\/([^/]+)$/, pageMessage, 'messages'],
  [/^#\/producers$/, pageProducers, 'producers'],
  [/^#\/acl$/, pageAcl, 'acl'],
];

function decode(s) {
  try { return decodeURIComponent(s); } catch (e) { return s; }
}

function route() {
  gen++;
  clearInterval(refreshTimer);
  refreshTimer = null;
  clearError();
  const hash = location.hash && location.hash !== '#' && location.hash !== '#/' ? location.hash : '#/cluster';
  for (const [re, page, sectionName] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    document.querySelectorAll('#nav a').forEach((a) =>
      a.classList.toggle('active', a.dataset.section === sectionName));
    setStatus('loading');
    page(...m.slice(1).map((s) => (s == null ? undefined : decode(s))));
    return;
  }
  location.replace('#/cluster');
}

window.addEventListener('hashchange', route);
// A click on a link to another route says "loading" at once, before hashchange fires.
document.addEventListener('click', (e) => {
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href^="#/"]');
  if (a && a.getAttribute('href') !== location.hash) setStatus('loading');
});
$('error').addEventListener('click', clearError);
route();
