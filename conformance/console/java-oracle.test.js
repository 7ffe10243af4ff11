// The rmq console against a real Apache RocketMQ cluster (no browser: every page's HTTP API).
// `rmq console -n $NAMESRV --port 0` is started here; each page's answers are checked, and what is
// done through the API (create a topic, send, reset offsets, resend dead letters, delete, ACL
// accounts) is checked on the cluster through the console's reads. Run by scripts/console-java-test
// inside scripts/java-oracle-cluster (which sets NAMESRV and BROKER).
//
// env: NAMESRV, BROKER (the Java cluster), LINE (4: Apache RocketMQ 4.9.7 with aclEnable; 5:
// name server 5.1.4 + broker 5.3.1 with aclEnable, ACL 2.0 not configured), RMQ_BIN, and PART:
// `all` (default: every page) or `acl2` (only the ACL page, against a 5.x broker without
// aclEnable and with ACL 2.0's metadata providers configured: java-oracle-cluster --acl2).
'use strict';
const { execFileSync, spawn } = require('child_process');

const NS = process.env.NAMESRV;
const BROKER = process.env.BROKER;
const LINE = process.env.LINE;
const RMQ = process.env.RMQ_BIN;
const PART = process.env.PART || 'all';
const TAG = `[java ${LINE}${PART === 'all' ? '' : ' ' + PART}]`;
const TOPIC = 'JcTopic';
const GROUP = 'JcGroup';
const DLQ_GROUP = 'JcDlqGroup';
const RESEND_GROUP = 'JcResendGroup';
const DEL_TOPIC = 'JcDeleteMe';
const BODY = 'sent from console-java-test';

let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`FAILED ${TAG}: ${what}`);
  passed += 1;
  console.log(`ok   ${TAG} ${what}`);
}

let BASE = '';
async function api(path, init) {
  const r = await fetch(new URL(path, BASE), init);
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  return { status: r.status, body };
}
const send = (method, path, body) => api(path, {
  method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});
const post = (path, body) => send('POST', path, body);
const del = (path) => api(path, { method: 'DELETE' });
const show = (r) => `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;

/** Polls `probe` every 250 ms for up to `ms` until it answers something truthy. */
async function until(ms, what, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`FAILED ${TAG}: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const rmq = (...args) => execFileSync(RMQ, args, { encoding: 'utf8', timeout: 60000, stdio: 'pipe' });
const stored = (t) => t.body.queues.reduce((n, q) => n + q.maxOffset, 0);

/** `rmq console --port 0`; resolves with the process once it printed its URL. */
function startConsole() {
  const proc = spawn(RMQ, ['console', '-n', NS, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (b) => { out += b; });
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /rmq console at (http:\/\/\S+)/.exec(out);
      if (m && !BASE) { BASE = m[1]; resolve({ proc, log: () => out }); }
    });
    proc.on('exit', (code) => reject(new Error(`rmq console exited (${code}): ${out}`)));
  });
}

async function pages() {
  // cluster
  const cluster = await api('/api/cluster');
  const b = (cluster.body.brokers || [])[0] || {};
  check(cluster.status === 200 && cluster.body.brokers.length === 1 && b.brokerName === 'broker-a'
    && b.addr === BROKER && b.role === 'MASTER' && !b.error, `cluster: broker-a, master, no error (${show(cluster)})`);
  check(b.version === (LINE === '4' ? 'V4_9_7' : 'V5_3_1') && b.diskRatio >= 0,
    `cluster: its version and disk ratio (${b.version}, ${b.diskRatio})`);

  // topics: create, list, route, per-queue offsets, send
  const created = await post('/api/topics', { topic: TOPIC });
  check(created.status === 200 && created.body.cluster === 'DefaultCluster', `create topic (${show(created)})`);
  const listed = await api(`/api/topics?q=${TOPIC}&kind=normal`);
  check(listed.body.total === 1 && listed.body.items[0].name === TOPIC, `the topic list has it (${show(listed)})`);
  const sys = await api('/api/topics?kind=system&size=500');
  check(sys.body.items.some((t) => t.name === 'TBW102'), 'the system topics include TBW102');
  const route = await api(`/api/topics/${TOPIC}/route`);
  check(route.status === 200 && route.body.brokers[0].addrs['0'] === BROKER
    && route.body.queues[0].writeQueueNums === 8 && route.body.queues[0].perm === 6, `its route (${show(route)})`);
  const key = `JcKey${Date.now()}`;
  const sent = await post(`/api/topics/${TOPIC}/messages`, { body: BODY, tag: 'TagJ', keys: key });
  check(sent.status === 200 && sent.body.msgId && sent.body.offsetMsgId && sent.body.broker === 'broker-a',
    `send a test message (${show(sent)})`);
  const { msgId, offsetMsgId } = sent.body;
  const detail = await api(`/api/topics/${TOPIC}`);
  check(detail.status === 200 && detail.body.queues.length === 8 && stored(detail) === 1,
    `per-queue offsets: 8 queues, 1 message (${show(detail)})`);

  // groups: a consumer commits, the group page shows lag 0, reset by time makes it 1
  rmq('consume', '-n', NS, '-g', GROUP, '-t', TOPIC, '--count', '1');
  const g = await until(30000, 'the group to commit', async () => {
    const r = await api(`/api/groups/${GROUP}`);
    return r.status === 200 && r.body.queues.length > 0 && r.body.lag === 0 && r.body;
  });
  check(g.queues.every((q) => q.topic === TOPIC) && g.queues.some((q) => q.consumerOffset === 1),
    'group: lag 0 per queue after consuming');
  check((await api(`/api/groups?q=${GROUP}`)).body.total === 1, 'the group list has it');
  check((await api(`/api/topics/${TOPIC}`)).body.groups.includes(GROUP), 'the topic page lists it as a consumer');
  const reset = await post(`/api/groups/${GROUP}/reset`, { topic: TOPIC, timestamp: Date.parse('2020-01-01T00:00:00Z') });
  check(reset.status === 200 && reset.body.queues.length === 8, `reset offsets by time (${show(reset)})`);
  check((await api(`/api/groups/${GROUP}`)).body.lag === 1, 'and the lag is 1 again');

  // messages: by key, by time range, by id (unique key and offset id)
  const byKey = await until(30000, 'the key index', async () => {
    const r = await api(`/api/messages?topic=${TOPIC}&key=${key}`);
    return r.status === 200 && r.body.items.length === 1 && r.body;
  });
  check(byKey.items[0].msgId === msgId && byKey.items[0].tags === 'TagJ', 'query by key');
  const now = Date.now();
  const range = await api(`/api/messages?topic=${TOPIC}&begin=${now - 3600000}&end=${now + 60000}`);
  check(range.status === 200 && range.body.total === 1 && range.body.items[0].msgId === msgId
    && range.body.truncated === false, `query by time range (${show(range)})`);
  const old = await api(`/api/messages?topic=${TOPIC}&begin=1577836800000&end=1577840400000`);
  check(old.status === 200 && old.body.total === 0, 'a range in 2020 finds none');
  const byId = await api(`/api/messages/${msgId}?topic=${TOPIC}`);
  check(byId.status === 200 && byId.body.body === BODY && byId.body.keys === key
    && byId.body.properties.TAGS === 'TagJ', `one message by its id (${show(byId)})`);
  const byOffset = await api(`/api/messages/${offsetMsgId}`);
  check(byOffset.status === 200 && byOffset.body.msgId === msgId && byOffset.body.broker === 'broker-a',
    'and by its offset id');

  // resend to a group: a live consumer whose subscription takes none of the topic's messages
  const consumer = spawn(RMQ, ['consume', '-n', NS, '-g', RESEND_GROUP, '-t', TOPIC, '-s', 'NoSuchTag'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let consumerOut = '';
  consumer.stdout.on('data', (b) => { consumerOut += b; });
  consumer.stderr.on('data', (b) => { consumerOut += b; });
  const consumerExit = new Promise((r) => consumer.on('exit', r));
  try {
    const conns = await until(30000, 'the consumer to connect', async () => {
      const r = await api(`/api/groups/${RESEND_GROUP}`);
      return (r.body.connections || []).length > 0 && r.body.connections;
    });
    check(conns[0].clientId && conns[0].language === 'RUST', 'group: its connected client');
    const resent = await post(`/api/messages/${msgId}/resend`, { topic: TOPIC, group: RESEND_GROUP });
    check(resent.status === 200 && resent.body.result === 'CR_SUCCESS', `resend to the group's consumer (${show(resent)})`);
    await until(10000, 'the consumer to print the message', async () => consumerOut.includes(BODY));
    check(true, 'the consumer consumed it');
  } finally {
    consumer.kill('SIGINT');
    await Promise.race([consumerExit, new Promise((r) => setTimeout(r, 15000))]);
    if (consumer.exitCode === null) consumer.kill('SIGKILL');
  }

  // producers: the console's own producer
  const prod = await until(30000, 'the console producer', async () => {
    const r = await api('/api/producers?q=rmq_console');
    return (r.body.producers || []).length > 0 && r.body.producers;
  });
  check(prod[0].group === 'rmq_console' && prod[0].broker === 'broker-a', 'producers: the console\'s group');

  // dead letters: one made by a failing consumer without retries; list, export, resend, resend all
  rmq('consume', '-n', NS, '-g', DLQ_GROUP, '-t', TOPIC, '--count', '1', '--fail', '--max-reconsume-times', '0');
  const dlq = await until(30000, 'the dead letter', async () => {
    const r = await api(`/api/dlq/${DLQ_GROUP}`);
    return r.status === 200 && r.body.total === 1 && r.body;
  });
  check(dlq.items[0].topic === TOPIC && dlq.items[0].body === BODY, 'dead letters: the one, with its original topic');
  const exported = await fetch(new URL(`/api/dlq/${DLQ_GROUP}/export`, BASE));
  const lines = (await exported.text()).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  check(exported.status === 200 && lines.length === 1 && lines[0].offsetMsgId === dlq.items[0].offsetMsgId
    && Buffer.from(lines[0].bodyBase64, 'base64').toString() === BODY, 'export: one line, the dead letter');
  const one = await post(`/api/dlq/${DLQ_GROUP}/resend`, { msgIds: [dlq.items[0].offsetMsgId] });
  check(one.status === 200 && one.body.resent === 1 && one.body.failed.length === 0, `resend one (${show(one)})`);
  const all = await post(`/api/dlq/${DLQ_GROUP}/resend`, { all: true });
  check(all.status === 202 && all.body.job, `resend all: a job (${show(all)})`);
  const job = await until(30000, 'the job', async () => {
    const r = await api(`/api/jobs/${all.body.job}`);
    return r.body.finished && r.body;
  });
  check(job.done === 1 && job.total === 1 && job.failed.length === 0 && !job.error, `the job resent 1 (${JSON.stringify(job)})`);
  check(stored(await api(`/api/topics/${TOPIC}`)) === 3, 'both copies are back in the topic');

  // delete a topic and a group
  check((await post('/api/topics', { topic: DEL_TOPIC })).status === 200, `${DEL_TOPIC} created`);
  const deleted = await del(`/api/topics/${DEL_TOPIC}`);
  check(deleted.status === 200 && deleted.body.brokers.includes('broker-a'), `delete topic (${show(deleted)})`);
  check((await api(`/api/topics/${DEL_TOPIC}/route`)).status >= 400, 'its route is gone');
  const gdel = await del(`/api/groups/${GROUP}`);
  check(gdel.status === 200, `delete group (${show(gdel)})`);
  await until(15000, 'the group list to drop it', async () => (await api(`/api/groups?q=${GROUP}`)).body.total === 0);
  check(true, 'the group list no longer has it');
}

async function aclPage() {
  const brokers = await api('/api/acl/brokers');
  check(brokers.status === 200 && brokers.body.brokers[0].addr === BROKER, 'ACL: the broker picker');
  const ak = 'JcAclUser1';
  const target = { broker: BROKER };
  const v1 = await api(`/api/acl/v1?broker=${BROKER}`);
  const created = await post('/api/acl/v1/accounts', Object.assign({ accessKey: ak, secretKey: 'jc-acl-user-secret',
    defaultTopicPerm: 'DENY', topicPerms: [`${TOPIC}=PUB|SUB`] }, target));
  check(created.status === 200 && created.body.brokers[0] === BROKER, `ACL 1.0: create an account (${show(created)})`);
  const white = await post('/api/acl/v1/white-addrs', Object.assign({ addrs: ['127.0.0.1', '10.1.*.*'] }, target));
  check(white.status === 200, `ACL 1.0: replace the global white list (${show(white)})`);
  if (LINE === '4') {
    check(v1.status === 200 && v1.body.state === 'enabled' && v1.body.listed === undefined
      && v1.body.accounts.some((a) => a.accessKey === 'RocketMQ' && a.secretKey === '******')
      && v1.body.globalWhiteAddrs.includes('127.0.0.1'), `ACL 1.0 listed, secrets masked (${show(v1)})`);
    const after = (await api(`/api/acl/v1?broker=${BROKER}`)).body;
    const acc = after.accounts.find((a) => a.accessKey === ak);
    check(acc && acc.topicPerms.includes(`${TOPIC}=PUB|SUB`) && acc.secretKey === '******'
      && after.globalWhiteAddrs.includes('10.1.*.*'), `the account and white list are listed (${JSON.stringify(after)})`);
    const kept = await post('/api/acl/v1/accounts', Object.assign({ accessKey: ak, topicPerms: [`${TOPIC}=PUB`] }, target));
    check(kept.status === 200, `an update with a blank secret keeps it (${show(kept)})`);
  } else {
    // 5.x runs ACL 1.0 but no longer answers GET_BROKER_CLUSTER_ACL_CONFIG
    check(v1.status === 200 && v1.body.state === 'enabled' && v1.body.listed === false && v1.body.reason,
      `ACL 1.0 enabled, not listed (${show(v1)})`);
    const kept = await post('/api/acl/v1/accounts', Object.assign({ accessKey: ak, topicPerms: [`${TOPIC}=PUB`] }, target));
    check(kept.status === 400 && /does not list/.test(kept.body.error), `a blank secret is refused plainly (${show(kept)})`);
  }
  const gone = await del(`/api/acl/v1/accounts/${ak}?broker=${BROKER}`);
  check(gone.status === 200, `ACL 1.0: delete the account (${show(gone)})`);
  if (LINE === '4') {
    const after = (await api(`/api/acl/v1?broker=${BROKER}`)).body;
    check(!after.accounts.some((a) => a.accessKey === ak), 'it is gone from the list');
  }
  const v2 = await api(`/api/acl/v2?broker=${BROKER}`);
  const want = LINE === '4' ? 'unsupported' : 'disabled';
  check(v2.status === 200 && v2.body.state === want && v2.body.reason, `ACL 2.0 section: ${want} (${show(v2)})`);
}

/** ACL 2.0 on a 5.x broker with its local metadata providers (and ACL 1.0 off). */
async function acl2Page() {
  const v1 = await api(`/api/acl/v1?broker=${BROKER}`);
  check(v1.status === 200 && v1.body.state === 'disabled' && /aclEnable=false/.test(v1.body.reason),
    `ACL 1.0 section: disabled, at once (${show(v1)})`);
  const empty = await api(`/api/acl/v2?broker=${BROKER}`);
  check(empty.status === 200 && empty.body.state === 'enabled' && empty.body.users.length === 0,
    `ACL 2.0 section: enabled, no users (${show(empty)})`);
  const target = { broker: BROKER };
  const user = await post('/api/acl/v2/users', Object.assign({ username: 'jcalice', password: 'jc-alice-pass',
    userType: 'Normal' }, target));
  check(user.status === 200, `create a user (${show(user)})`);
  // 5.3.1 acknowledges AUTH_UPDATE_USER and stores the old user again: the console reads it back
  // and says the update was not applied instead of reporting success
  const upd = await post('/api/acl/v2/users', Object.assign({ username: 'jcalice', userStatus: 'disable' }, target));
  check(upd.status === 502 && /did not apply/.test(upd.body.error), `an update 5.3.1 ignores is reported (${show(upd)})`);
  const pol = await post('/api/acl/v2/acls', Object.assign({ subject: 'User:jcalice', resources: [`Topic:${TOPIC}`, 'Group:jc*'],
    actions: ['Pub', 'Sub'], sourceIps: ['127.0.0.1'], decision: 'Allow' }, target));
  check(pol.status === 200, `add policy entries (${show(pol)})`);
  const listed = await api(`/api/acl/v2?broker=${BROKER}`);
  const u = listed.body.users.find((x) => x.username === 'jcalice');
  check(u && u.password === '******' && u.userType === 'Normal' && !JSON.stringify(listed.body).includes('jc-alice-pass'),
    `the user is listed, password masked (${show(listed)})`);
  const acl = listed.body.acls.find((a) => a.subject === 'User:jcalice');
  const entries = acl ? acl.policies.flatMap((p) => p.entries) : [];
  check(entries.length === 2 && entries.some((e) => e.resource === `Topic:${TOPIC}` && e.decision === 'Allow'
    && e.actions.includes('Pub')), `its ACL has both entries (${JSON.stringify(acl)})`);
  const one = await del(`/api/acl/v2/acls/User:jcalice?broker=${BROKER}&resource=Topic:${TOPIC}`);
  check(one.status === 200, `delete one entry (${show(one)})`);
  const left = (await api(`/api/acl/v2?broker=${BROKER}`)).body.acls.find((a) => a.subject === 'User:jcalice');
  check(left && left.policies.flatMap((p) => p.entries).length === 1, 'one entry is left');
  const gone = await del(`/api/acl/v2/users/jcalice?broker=${BROKER}`);
  check(gone.status === 200, `delete the user (${show(gone)})`);
  const after = (await api(`/api/acl/v2?broker=${BROKER}`)).body;
  check(!after.users.some((x) => x.username === 'jcalice'), 'the user is gone');
}

(async () => {
  const console_ = await startConsole();
  try {
    if (PART === 'acl2') {
      await acl2Page();
    } else {
      await pages();
      await aclPage();
    }
    check(!/panicked/.test(console_.log()), 'the console did not panic');
  } catch (e) {
    console.error(e.message || e);
    console.error(`--- rmq console log (tail)\n${console_.log().split('\n').slice(-30).join('\n')}`);
    console.log(`${TAG} ${passed} passed, 1 failed`);
    process.exitCode = 1;
  } finally {
    console_.proc.kill('SIGTERM');
  }
  if (!process.exitCode) console.log(`${TAG} ${passed} passed, 0 failed`);
})().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
