// The rmq console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// every page loads, and what is done through the UI changes the cluster as it should (checked
// over the console's API and with `rmq`): create, update and delete a topic, send a message,
// reset a group's offsets, export and resend dead letters (the "resend all" job's progress to
// its end), query messages by key, time range and id, open one and have a consumer of a group
// consume it directly, list producers, delete a group, create and delete an ACL 1.0 account (the
// ACL 2.0 section shows that it is not enabled). Screenshots of each page go to $SHOTS.
// Run by scripts/console-browser-test.
//
// env: CONSOLE (http://host:port/), NS (name server), RMQ_BIN (the rmq binary), SHOTS (dir).
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');

const BASE = process.env.CONSOLE;
const NS = process.env.NS;
const RMQ = process.env.RMQ_BIN;
const SHOTS = process.env.SHOTS;
const TOPIC = 'UiTopic';
const GROUP = 'UiGroup';
const DLQ_GROUP = 'UiDlqGroup';
const MSG_TOPIC = 'UiMsgTopic';
const RESEND_GROUP = 'UiResendGroup';
const DEL_TOPIC = 'UiDeleteMe';
// server text that looks like HTML: it must show as text, never become elements
const MSG_BODY = 'query me <b id="injected">bold</b> & "quoted"';

let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  passed += 1;
  console.log('ok   ' + what);
}

async function api(path, init) {
  const r = await fetch(new URL(path, BASE), init);
  const body = await r.json().catch(() => null);
  return { status: r.status, body };
}
const post = (path, body) => api(path, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

/** Polls `probe` (async, returns truthy when done) every 250 ms for up to `ms`. */
async function until(ms, what, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function rmq(...args) {
  return execFileSync(RMQ, args, { encoding: 'utf8', timeout: 60000 });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  // Chromium logs every non-2xx answer ("Failed to load resource"); the bad-input step wants one
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push('console: ' + m.text());
  });
  const ready = () => page.waitForSelector('#status:text-is("ready")', { timeout: 30000 });
  const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  // to another route: the status says "loading" before the hash changes, so that ready() waits
  // for the new page, not a stale "ready" of the old one
  const go = async (hash) => {
    await page.evaluate((to) => {
      const s = document.getElementById('status');
      s.textContent = 'loading';
      s.dataset.state = 'loading';
      location.hash = to;
    }, hash);
    await ready();
  };
  const text = async (sel) => (await page.textContent(sel)) || '';

  // cluster
  await page.goto(BASE);
  await ready();
  check((await page.textContent('h2')).trim() === 'Cluster', 'the cluster page loads');
  const brokerRows = await page.locator('#brokers-table tbody tr').count();
  check(brokerRows >= 1, `the cluster page lists the broker (${brokerRows} row)`);
  check((await page.textContent('#brokers-table')).includes('broker-a'), 'broker-a is on it');
  await shot('cluster');

  // topics: create one through the form
  await page.click('#nav a[href="#/topics"]');
  await ready();
  check((await page.textContent('h2')).trim() === 'Topics', 'the topics page loads');
  await page.fill('#create-topic-name', TOPIC);
  await page.click('#create-topic-submit');
  await ready();
  const listed = await api(`/api/topics?q=${TOPIC}`);
  check(listed.body.total === 1, 'create-topic through the UI: the name server routes it');
  const route = rmq('admin', 'topicRoute', '-n', NS, '-t', TOPIC);
  check(route.includes('"writeQueueNums": 8'), 'and the broker has it with 8 write queues (rmq admin topicRoute)');
  await page.fill('#search', TOPIC);
  await ready();
  check((await page.textContent('#topics-table')).includes(TOPIC), 'the search finds it');
  await shot('topics');

  // topic detail: send a test message through the form
  await page.click(`#topics-table a:text-is("${TOPIC}")`);
  await ready();
  check((await page.textContent('h2')).includes(TOPIC), 'the topic page loads');
  await page.fill('#send-body', 'sent from the browser test');
  await page.fill('#send-tag', 'TagUi');
  await page.click('#send-submit');
  await ready();
  check((await page.textContent('#send-result')).length > 10, 'send-message through the UI answers a message id');
  const detail = await api(`/api/topics/${TOPIC}`);
  const stored = detail.body.queues.reduce((n, q) => n + q.maxOffset, 0);
  check(stored === 1, 'the broker stored it');
  await shot('topic');

  // a group consumes it (rmq consume), then reset-offset through the UI makes it due again
  rmq('consume', '-n', NS, '-g', GROUP, '-t', TOPIC, '--count', '1');
  await until(30000, 'the group to commit', async () => (await api(`/api/groups/${GROUP}`)).body?.lag === 0
    && (await api(`/api/groups/${GROUP}`)).body.queues.length > 0);
  await page.click('#nav a[href="#/groups"]');
  await ready();
  check((await page.textContent('h2')).trim() === 'Consumer groups', 'the groups page loads');
  await page.fill('#search', GROUP);
  await ready();
  await shot('groups');
  await page.click(`#groups-table a:text-is("${GROUP}")`);
  await ready();
  check((await page.textContent('h2')).includes(GROUP), 'the group page loads');
  check((await page.textContent('#group-lag')).trim() === '0', 'its lag is 0 after consuming');
  await page.selectOption('#reset-topic', TOPIC);
  await page.fill('#reset-time', '2020-01-01T00:00');
  await page.click('#reset-submit');
  await ready();
  check((await page.textContent('#group-lag')).trim() === '1', 'reset-offset through the UI: lag 1 again');
  const g = await api(`/api/groups/${GROUP}`);
  check(g.body.lag === 1, 'and the broker has the reset offsets');
  await shot('group');

  // a dead letter (rmq consume --fail, no retries): exported, then resent through the UI
  rmq('consume', '-n', NS, '-g', DLQ_GROUP, '-t', TOPIC, '--count', '1', '--fail', '--max-reconsume-times', '0');
  await until(30000, 'the dead letter', async () => (await api(`/api/dlq/${DLQ_GROUP}`)).body?.total === 1);
  await go(`#/dlq/${DLQ_GROUP}`);
  check((await page.textContent('h2')).includes(DLQ_GROUP), 'the dead-letter page loads');
  check(await page.locator('#dlq-table .dlq-select').count() === 1, 'it lists the dead letter');
  await shot('dlq');
  const dead = (await api(`/api/dlq/${DLQ_GROUP}`)).body.items[0];
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('#dlq-export')]);
  const exported = fs.readFileSync(await download.path(), 'utf8').split('\n').filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  check(exported.length === 1, `export through the UI: a download of one JSON line (${exported.length})`);
  check(exported[0].offsetMsgId === dead.offsetMsgId && exported[0].topic === TOPIC
    && Buffer.from(exported[0].bodyBase64 || '', 'base64').toString() === 'sent from the browser test',
  'and it is the dead letter: its offsetMsgId, original topic and body');

  const started = page.waitForResponse((r) => r.request().method() === 'POST'
    && new URL(r.url()).pathname === `/api/dlq/${DLQ_GROUP}/resend`, { timeout: 30000 });
  const polled = page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/api/jobs/'), { timeout: 30000 });
  await page.click('#dlq-resend-all');
  const startedRes = await started;
  const job = await startedRes.json().catch(() => null);
  check(startedRes.status() === 202 && job && job.job != null,
    `resend-all through the UI: 202 with a job (${startedRes.status()} ${JSON.stringify(job)})`);
  check((await polled).status() === 200, 'the page polls the job');
  await page.waitForSelector('#dlq-progress[data-finished="true"]', { timeout: 60000 });
  await ready();
  const prog = await page.$eval('#dlq-progress', (e) => ({ done: e.dataset.done, total: e.dataset.total, text: e.textContent }));
  check(prog.done === '1' && prog.total === '1' && prog.text.includes('finished') && prog.text.includes('0 failed'),
    `the progress bar reaches finished, 1 of 1, none failed (${JSON.stringify(prog)})`);
  const jobState = (await api(`/api/jobs/${encodeURIComponent(job.job)}`)).body;
  check(jobState && jobState.finished === true && jobState.done === 1 && jobState.total === 1
    && (jobState.failed || []).length === 0, `and the job says so over the API (${JSON.stringify(jobState)})`);
  await shot('dlq-resent');
  const after = await api(`/api/topics/${TOPIC}`);
  check(after.body.queues.reduce((n, q) => n + q.maxOffset, 0) === 2, 'the copy is back in the topic');

  // messages: two sent over the API (the console's producer), queried through the UI
  check((await post('/api/topics', { topic: MSG_TOPIC })).status === 200, `${MSG_TOPIC} created over the API`);
  const key = `UiKey${Date.now()}`;
  const sent = await post(`/api/topics/${MSG_TOPIC}/messages`, { body: MSG_BODY, tag: 'TagQ', keys: key });
  const other = await post(`/api/topics/${MSG_TOPIC}/messages`, { body: 'the other one', tag: 'TagQ', keys: key + 'x' });
  check(sent.status === 200 && other.status === 200 && sent.body.msgId, 'two messages sent over the API');
  const msgId = sent.body.msgId;
  await until(30000, 'the key index', async () =>
    (await api(`/api/messages?topic=${MSG_TOPIC}&key=${key}`)).body?.items?.some((m) => m.msgId === msgId));

  await page.click('#nav a[href="#/messages"]');
  await ready();
  check((await text('h2')).trim() === 'Messages', 'the messages page loads');
  await page.fill('#msg-topic', MSG_TOPIC);
  await page.fill('#msg-key', key);
  await page.click('#msg-key-submit');
  await ready();
  const rowIds = async () => page.$$eval('#messages-table tbody tr.clickable', (rs) => rs.map((r) => r.dataset.msgid));
  let ids = await rowIds();
  check(ids.length === 1 && ids[0] === msgId, `query by key through the UI: just that message (${JSON.stringify(ids)})`);
  check((await text('#messages-table')).includes('TagQ'), 'its row shows the tag');

  await page.click('#msg-last-hour');
  await page.click('#msg-range-submit');
  await ready();
  ids = await rowIds();
  check(ids.length === 2 && ids.includes(msgId), `query by the last hour through the UI: both messages (${JSON.stringify(ids)})`);
  check((await text('#total')).includes('2 messages'), 'the pager counts 2');
  check(await page.locator('#messages-truncated').count() === 0, 'not truncated');
  await shot('messages');
  await page.fill('#msg-begin', '2020-01-01T00:00:00');
  await page.fill('#msg-end', '2020-01-01T01:00:00');
  await page.click('#msg-range-submit');
  await ready();
  check((await rowIds()).length === 0 && (await text('#messages-table')).includes('No message found'),
    'a range in 2020 finds none');

  await page.fill('#msg-id', msgId);
  await page.click('#msg-id-submit');
  await ready();
  ids = await rowIds();
  check(ids.length === 1 && ids[0] === msgId, 'find by id through the UI: the message');

  // one message: header, properties, body (text and base64)
  await page.click(`#messages-table tr.clickable[data-msgid="${msgId}"] td:nth-child(2)`);
  await ready();
  check((await text('h2')).includes(msgId), 'clicking the row opens the message page');
  const fields = await text('#message-fields');
  check(fields.includes(key) && fields.includes('TagQ') && fields.includes(MSG_TOPIC), 'its header shows topic, tag and key');
  check((await text('#message-properties')).includes(key), 'its properties show the key');
  check((await text('#message-body')) === MSG_BODY, 'its body shows as text');
  check(await page.locator('#injected').count() === 0, 'the body\'s markup stays text (escaped)');
  await page.click('#message-body-toggle');
  check((await text('#message-body')) === Buffer.from(MSG_BODY).toString('base64'), 'the toggle shows it in base64');
  await page.click('#message-body-toggle');
  check((await text('#message-body')) === MSG_BODY, 'and back to text');

  // resend to a group: a consumer of RESEND_GROUP whose subscription (tag NoSuchTag) takes none of
  // the topic's messages, so that the body on its output comes from the direct consumption
  const consumer = spawn(RMQ, ['consume', '-n', NS, '-g', RESEND_GROUP, '-t', MSG_TOPIC, '-s', 'NoSuchTag'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let consumerOut = '';
  consumer.stdout.on('data', (b) => { consumerOut += b; });
  consumer.stderr.on('data', (b) => { consumerOut += b; });
  const consumerExit = new Promise((r) => consumer.on('exit', r));
  try {
    await until(30000, 'the consumer to connect', async () =>
      ((await api(`/api/groups/${RESEND_GROUP}`)).body?.connections || []).length > 0);
    check(!consumerOut.includes(MSG_BODY), 'the consumer did not get the message by its subscription');
    await page.fill('#resend-group', RESEND_GROUP);
    await page.click('#resend-submit');
    await ready();
    check((await text('#resend-status')) === 'CR_SUCCESS',
      `resend to a group through the UI: CR_SUCCESS (${await text('#resend-result')})`);
    await until(10000, 'the consumer to print the message', async () => consumerOut.includes(MSG_BODY));
    check(true, 'the group\'s consumer consumed it (its output has the body)');
    await shot('message');
  } finally {
    consumer.kill('SIGINT');
    await Promise.race([consumerExit, new Promise((r) => setTimeout(r, 15000))]);
    if (consumer.exitCode === null) consumer.kill('SIGKILL');
  }

  // producers: the console's own producer (group rmq_console) sent the messages above
  await until(30000, 'the console producer to be listed', async () =>
    ((await api('/api/producers?q=rmq_console')).body?.producers || []).length > 0);
  await page.click('#nav a[href="#/producers"]');
  await ready();
  check((await text('h2')).trim() === 'Producers', 'the producers page loads');
  await page.fill('#search', 'rmq_console');
  await ready();
  check((await text('#producers-table')).includes('rmq_console'), 'it lists the console\'s producer group');
  await shot('producers');
  await page.fill('#search', 'no-such-producer-group');
  await ready();
  check((await text('#producers-table')).includes('No producer group matches'), 'the filter narrows it to none');

  // topic page: route, update queues through the UI, delete through the UI
  check((await post('/api/topics', { topic: DEL_TOPIC })).status === 200, `${DEL_TOPIC} created over the API`);
  await go(`#/topics/${DEL_TOPIC}`);
  check((await text('#topic-route-brokers')).includes('broker-a'), 'the topic page shows the route: broker-a');
  check((await text('#topic-route-queues')).includes('6 (RW)'), 'and its queues, read-write');
  await page.fill('#update-read', '4');
  await page.fill('#update-write', '4');
  await page.click('#update-submit');
  await ready();
  const updated = (await api(`/api/topics/${DEL_TOPIC}/route`)).body;
  check((updated.queues || []).length === 1 && updated.queues[0].writeQueueNums === 4 && updated.queues[0].readQueueNums === 4,
    `update through the UI: the route has 4 read and 4 write queues (${JSON.stringify(updated.queues)})`);
  check(rmq('admin', 'topicRoute', '-n', NS, '-t', DEL_TOPIC).includes('"writeQueueNums": 4'),
    'and so does the broker (rmq admin topicRoute)');
  const routeCells = await page.$$eval('#topic-route-queues tbody td', (tds) => tds.map((t) => t.textContent.trim()));
  check(routeCells[1] === '4' && routeCells[2] === '4', `the page's route shows 4 and 4 (${JSON.stringify(routeCells)})`);
  await shot('topic-route');
  page.once('dialog', (d) => d.dismiss());
  await page.click('#delete-topic');
  check((await text('h2')).includes(DEL_TOPIC) && (await api(`/api/topics/${DEL_TOPIC}/route`)).status === 200,
    'delete cancelled in the dialog: the topic stays');
  let dialogText = '';
  page.once('dialog', (d) => { dialogText = d.message(); d.accept(); });
  await page.click('#delete-topic');
  await page.waitForSelector('#notice', { timeout: 30000 });
  await ready();
  check(dialogText.includes(DEL_TOPIC), 'delete asks first, naming the topic');
  check((await text('h2')).trim() === 'Topics' && (await text('#notice')).includes(DEL_TOPIC),
    'delete-topic through the UI goes back to the topics, saying so');
  const goneRoute = await api(`/api/topics/${DEL_TOPIC}/route`);
  check(goneRoute.status >= 400 || (goneRoute.status === 200 && !(goneRoute.body.queues || []).length),
    `the console finds no route for it any more (${goneRoute.status} ${JSON.stringify(goneRoute.body)})`);
  let routeGone = false;
  try {
    execFileSync(RMQ, ['admin', 'topicRoute', '-n', NS, '-t', DEL_TOPIC], { stdio: 'pipe', timeout: 60000 });
  } catch (e) {
    routeGone = e.status !== 0 && String(e.stderr).includes(DEL_TOPIC);
  }
  check(routeGone, 'rmq admin topicRoute fails for it');
  await until(15000, 'the topic list to drop it', async () => (await api(`/api/topics?q=${DEL_TOPIC}`)).body?.total === 0);
  check(true, 'the topic list no longer has it');

  // group page: delete through the UI
  await go(`#/groups/${GROUP}`);
  page.once('dialog', (d) => d.accept());
  await page.click('#delete-group');
  await page.waitForSelector('#notice', { timeout: 30000 });
  await ready();
  check((await text('h2')).trim() === 'Consumer groups' && (await text('#notice')).includes(GROUP),
    'delete-group through the UI goes back to the groups, saying so');
  await until(15000, 'the group list to drop it', async () => (await api(`/api/groups?q=${GROUP}`)).body?.total === 0);
  check(true, 'the group list no longer has it');

  // ACL: the broker runs ACL 1.0 with 127.0.0.1 a global white address (so no other step is
  // checked) and without ACL 2.0 (scripts/console-browser-test)
  const aclAccounts = () => rmq('admin', 'getAclConfig', '-n', NS, '-c', 'DefaultCluster');
  await page.click('#nav a[href="#/acl"]');
  await ready();
  check((await text('h2')).trim() === 'ACL', 'the ACL page loads');
  check(await page.getAttribute('#acl-v1-state', 'data-state') === 'enabled', 'its ACL 1.0 section says enabled');
  check((await text('#acl-accounts')).includes('UiAclAdmin'), 'and lists the account of plain_acl.yml');
  check((await page.inputValue('#acl-white')) === '127.0.0.1', 'and the global white address');
  check(!(await page.content()).includes('ui-acl-admin-secret'), 'the secret key is nowhere on the page');
  check(await page.getAttribute('#acl-v2-state', 'data-state') === 'disabled'
    && (await text('#acl-v2-state')).includes('not enabled'), 'the ACL 2.0 section says plainly it is not enabled');
  await shot('acl');
  await page.fill('#acl-ak', 'UiAclUser1');
  await page.fill('#acl-sk', 'ui-acl-user-secret');
  await page.selectOption('#acl-default-topic', 'DENY');
  await page.fill('#acl-topic-perms', `${TOPIC}=PUB|SUB`);
  await page.click('#acl-account-submit');
  await ready();
  check((await text('#acl-v1-result')).includes('Saved account UiAclUser1'), 'create-account through the UI says so');
  const row = await text('#acl-accounts tr[data-ak="UiAclUser1"]');
  check(row.includes(`${TOPIC}=PUB|SUB`) && row.includes('******') && !row.includes('ui-acl-user-secret'),
    `the list shows it, its secret masked (${row})`);
  let onBroker = aclAccounts();
  check(onBroker.includes('UiAclUser1') && onBroker.includes('ui-acl-user-secret') && onBroker.includes(`${TOPIC}=PUB|SUB`),
    'and the broker has it, with its secret and permissions (rmq admin getAclConfig)');
  await shot('acl-account');
  page.once('dialog', (d) => d.accept());
  await page.click('.acl-account-delete[data-ak="UiAclUser1"]');
  await page.waitForSelector('#acl-v1-result:has-text("Deleted account UiAclUser1")', { timeout: 30000 });
  await ready();
  check(await page.locator('#acl-accounts tr[data-ak="UiAclUser1"]').count() === 0, 'delete-account through the UI: gone from the list');
  onBroker = aclAccounts();
  check(!onBroker.includes('UiAclUser1') && onBroker.includes('UiAclAdmin'), 'and from the broker (the admin account stays)');

  // bad input shows the API's error
  await page.goto(`${BASE}#/topics`);
  await ready();
  await page.fill('#create-topic-name', 'bad topic!');
  await page.click('#create-topic-submit');
  await page.waitForSelector('#status:text-is("error")');
  check((await page.textContent('#error')).length > 0, 'a bad topic name shows the error banner');

  check(errors.length === 0, 'no page errors: ' + JSON.stringify(errors));
  await browser.close();
  console.log(`${passed} passed, 0 failed`);
})().catch((e) => {
  console.error(e.message || e);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
