// rmq console: one page, hash routes, vanilla JS (docs/console.md).
// Every piece of server text goes into the DOM through text nodes or attributes (see h()),
// never through innerHTML: topic names and message bodies are untrusted.
'use strict';

const PAGE_SIZE = 50;
const REFRESH_MS = 5000;
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
// render(items) returns the table. load() is a task of its own; refresh(live) runs inside another.
function pagedList(box, url, render, noun) {
  const st = { page: 1 };
  let seq = 0;
  async function show(live) {
    const d = await api('GET', url(st));
    if (!live()) return;
    box.replaceChildren(pager(d, noun, (p) => { st.page = p; load(); }), render(d.items || []));
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
  return { st, load, refresh };
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

function mount(title, ...kids) {
  const c = $('content');
  c.replaceChildren(h('h2', null, title), ...kids.flat());
  return c;
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

  async function refresh(live) {
    const d = await api('GET', '/api/topics/' + enc(topic));
    if (!live()) return;
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

  mount('Topic ' + topic, h('p', { class: 'crumbs' }, link('#/topics', '\u2190 Topics')),
    section('Queues', queuesBox), section('Consumer groups', groupsBox),
    section('Send test message', form));
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

  mount('Group ' + group,
    h('p', { class: 'crumbs' }, link('#/groups', '\u2190 Consumer groups'), ' \u00b7 ',
      h('a', { id: 'dlq-link', href: '#/dlq/' + enc(group) }, 'Dead letters')),
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

  function resend(btn, body, what) {
    result.className = 'result';
    result.textContent = `Resending ${what}\u2026`;
    const other = btn === selBtn ? allBtn : selBtn;
    other.disabled = true;
    task(async (live) => {
      const r = await api('POST', `/api/dlq/${enc(group)}/resend`, body);
      if (!live()) return;
      const failed = (r && r.failed) || [];
      result.className = 'result ' + (failed.length ? 'warn' : 'ok');
      result.replaceChildren(h('p', null, `resent ${(r && r.resent) || 0}, failed ${failed.length}`),
        h('ul', { class: 'errors' }, failed.map((f) => h('li', null, h('code', null, f.msgId), ': ', f.error))));
      await list.refresh(live);
    }, { btn, busyText: 'Resending\u2026' }).finally(() => {
      other.disabled = false;
      if (result.textContent.startsWith('Resending')) result.textContent = '';
    });
  }
  selBtn.addEventListener('click', () => {
    const ids = [...box.querySelectorAll('input.dlq-select:checked')].map((c) => c.dataset.msgid);
    if (!ids.length) { showError('Select at least one message to resend'); return; }
    resend(selBtn, { msgIds: ids }, `${ids.length} message(s)`);
  });
  allBtn.addEventListener('click', () => resend(allBtn, { all: true }, 'all dead letters'));

  mount('Dead letters of ' + group,
    h('p', { class: 'crumbs' }, link('#/groups/' + enc(group), '\u2190 Group ' + group),
      h('span', { class: 'muted' }, ` \u00b7 topic %DLQ%${group}`)),
    h('div', { class: 'toolbar' }, selBtn, allBtn), result, box);
  list.load();
}

// ---------- routing ----------

const routes = [
  [/^#\/cluster$/, pageCluster, 'cluster'],
  [/^#\/topics$/, pageTopics, 'topics'],
  [/^#\/topics\/([^/]+)$/, pageTopic, 'topics'],
  [/^#\/groups$/, pageGroups, 'groups'],
  [/^#\/groups\/([^/]+)$/, pageGroup, 'groups'],
  [/^#\/dlq\/([^/]+)$/, pageDlq, 'groups'],
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
    page(m[1] == null ? undefined : decode(m[1]));
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
