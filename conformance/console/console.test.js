// The rmq console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// every page loads, and create-topic, send-message, reset-offset and resend-DLQ done through the
// UI change the cluster as they should (checked over the console's API and with `rmq`).
// Screenshots of each page go to $SHOTS. Run by scripts/console-browser-test.
//
// env: CONSOLE (http://host:port/), NS (name server), RMQ_BIN (the rmq binary), SHOTS (dir).
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');

const BASE = process.env.CONSOLE;
const NS = process.env.NS;
const RMQ = process.env.RMQ_BIN;
const SHOTS = process.env.SHOTS;
const TOPIC = 'UiTopic';
const GROUP = 'UiGroup';
const DLQ_GROUP = 'UiDlqGroup';

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
  const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png` });

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

  // a dead letter (rmq consume --fail, no retries), resent through the UI
  rmq('consume', '-n', NS, '-g', DLQ_GROUP, '-t', TOPIC, '--count', '1', '--fail', '--max-reconsume-times', '0');
  await until(30000, 'the dead letter', async () => (await api(`/api/dlq/${DLQ_GROUP}`)).body?.total === 1);
  await page.goto(`${BASE}#/dlq/${DLQ_GROUP}`);
  await ready();
  check((await page.textContent('h2')).includes(DLQ_GROUP), 'the dead-letter page loads');
  check(await page.locator('#dlq-table .dlq-select').count() === 1, 'it lists the dead letter');
  await shot('dlq');
  await page.click('#dlq-resend-all');
  await ready();
  check((await page.textContent('#dlq-result')).includes('resent 1'), 'resend-DLQ through the UI: resent 1');
  const after = await api(`/api/topics/${TOPIC}`);
  check(after.body.queues.reduce((n, q) => n + q.maxOffset, 0) === 2, 'the copy is back in the topic');

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
