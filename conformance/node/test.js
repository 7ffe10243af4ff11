'use strict';
// ali-ons (RocketMQ 4.x remoting client for Node) against a name server + broker.
//
// Cases (each prints "PASS <case>" or "FAIL <case>: <why>"; exit status 1 if any failed):
//
//   send          N messages with tags TagA/TagB and keys
//   push-first    push consumer, clustering, new group, CONSUME_FROM_FIRST_OFFSET: every message
//                 arrives with its tags and keys
//   push-default  the same with the default CONSUME_FROM_LAST_OFFSET (a young topic: the broker
//                 answers offset 0 for a new group)
//   push-tag      new group subscribed to 'TagA': exactly the TagA messages
//   delay         a message with delayTimeLevel 1 (1 s) arrives, not before 1 s
//   retry         a handler that returns ACTION_RETRY once gets the message again
//                 (CONSUMER_SEND_MSG_BACK, %RETRY% topic)
//
// Usage: node test.js --ns 127.0.0.1:9876 [--n 40] [--timeout 90]

const { Producer, Consumer, Message } = require('ali-ons');
const httpclient = require('urllib');

const args = { ns: '127.0.0.1:9876', n: 40, timeout: 90, only: null };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  args[k] = [ 'n', 'timeout' ].includes(k) ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const only = args.only ? new Set(args.only.split(',')) : null;
const wanted = c => !only || only.has(c);

let passed = 0;
let failed = 0;
function report(name, err) {
  if (err) {
    failed++;
    console.log(`FAIL ${name}: ${err.message || err}`);
  } else {
    passed++;
    console.log(`PASS ${name}`);
  }
}

// A new group's %RETRY% topic has no route until the broker creates it: ali-ons reports that as
// an error event on every route refresh; anything else is worth a line.
function noteError(who) {
  return err => {
    if (!/No topic route info in name server for the topic: %RETRY%/.test(err.message)) {
      console.error(`   (${who} error: ${err.message.split('\n')[0]})`);
    }
  };
}

const quiet = { info() {}, warn() {}, debug() {}, error() {} };
const run = (Date.now() & 0xffffffff).toString(16);
const sleep = ms => new Promise(r => setTimeout(r, ms));

// Starts a push consumer, resolves once every body of `expected` arrived (or on timeout).
async function consume(group, topic, expr, from, expected, retryOnce) {
  const got = new Map();
  const consumer = new Consumer({
    httpclient, nameSrv: args.ns,
    consumerGroup: group,
    consumeFromWhere: from,
    isBroadcast: false,
    logger: quiet,
    rebalanceInterval: 2000,
  });
  consumer.on('error', noteError(`consumer ${group}`));
  let resolve;
  const done = new Promise(r => { resolve = r; });
  consumer.subscribe(topic, expr, async msg => {
    const body = msg.body.toString();
    if (retryOnce && retryOnce.delete(body)) {
      return Consumer.ACTION_RETRY;
    }
    if (!got.has(body)) got.set(body, { tags: msg.tags, keys: Array.isArray(msg.keys) ? msg.keys.join(' ') : String(msg.keys || ''), at: Date.now() });
    if ([ ...expected ].every(b => got.has(b))) resolve();
  });
  await consumer.ready();
  await Promise.race([ done.then(() => sleep(500)), sleep(args.timeout * 1000) ]);
  await Promise.race([ consumer.close(), sleep(10000) ]);
  return got;
}

function check(got, expected) {
  if (!expected.size) return new Error('nothing to expect: the sends failed');
  const missing = [ ...expected.keys() ].filter(b => !got.has(b));
  if (missing.length) {
    return new Error(`${missing.length} of ${expected.size} messages missing, e.g. ${missing.slice(0, 3)} (received ${got.size})`);
  }
  for (const [ b, r ] of got) {
    const s = expected.get(b);
    if (!s) return new Error(`unexpected message ${b}`);
    if (r.tags !== s.tags || r.keys !== s.keys) {
      return new Error(`${b} arrived with tags=${r.tags} keys=${r.keys}, sent tags=${s.tags} keys=${s.keys}`);
    }
  }
  return null;
}

function message(topic, body, tags, keys) {
  const m = new Message(topic, tags, body);
  m.keys = [ keys ];
  return m;
}

// ali-ons never creates a topic (a TOPIC_NOT_EXIST route answer ends the send before its TBW102
// fallback), so the test creates each one as an admin would: UPDATE_AND_CREATE_TOPIC to the broker
// found through TBW102's route, then waits until the name server routes it.
async function createTopic(producer, topic) {
  const api = producer._mqClient;
  const route = await api.getDefaultTopicRouteInfoFromNameServer('TBW102', 3000);
  for (const bd of route.brokerDatas) {
    await api.createTopic(bd.brokerAddrs['0'], 'TBW102', {
      topicName: topic, readQueueNums: 4, writeQueueNums: 4, perm: 6,
      topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false,
    }, 5000);
  }
  for (const t0 = Date.now(); ;) {
    try {
      await api.getTopicRouteInfoFromNameServer(topic, 3000);
      return;
    } catch (e) {
      if (Date.now() - t0 > 15000) throw e;
      await sleep(200);
    }
  }
}

async function sendOne(producer, m) {
  const r = await producer.send(m);
  if (r.sendStatus !== 'SEND_OK') throw new Error(`sendStatus ${r.sendStatus}`);
  return r;
}

async function main() {
  const topic = `NodeTopic_${run}`;
  const producer = new Producer({ httpclient, nameSrv: args.ns, producerGroup: `NodeProducer_${run}`, logger: quiet });
  producer.on('error', noteError('producer'));
  await producer.ready();

  await createTopic(producer, topic);
  const all = new Map();
  {
    const errs = [];
    for (let i = 0; i < args.n; i++) {
      const body = `node-${run}-${i}`;
      const s = { tags: i % 2 === 0 ? 'TagA' : 'TagB', keys: `key-${i}` };
      try {
        await sendOne(producer, message(topic, body, s.tags, s.keys));
        all.set(body, s);
      } catch (e) {
        errs.push(`${i}: ${e.message}`);
      }
    }
    report('send', errs.length ? new Error(errs.slice(0, 3).join('; ')) : null);
  }

  for (const [ name, from ] of [[ 'push-first', 'CONSUME_FROM_FIRST_OFFSET' ], [ 'push-default', 'CONSUME_FROM_LAST_OFFSET' ]]) {
    if (!wanted(name)) continue;
    const got = await consume(`Node${name.replace('-', '')}_${run}`, topic, '*', from, new Set(all.keys()));
    report(name, check(got, all));
  }
  if (wanted('push-tag')) {
    const tagA = new Map([ ...all ].filter(([ , s ]) => s.tags === 'TagA'));
    const got = await consume(`NodeTag_${run}`, topic, 'TagA', 'CONSUME_FROM_FIRST_OFFSET', new Set(tagA.keys()));
    report('push-tag', check(got, tagA));
  }
  if (wanted('delay')) {
    let err = null;
    try {
      const dtopic = `NodeDelay_${run}`;
      const body = `node-${run}-delayed`;
      await createTopic(producer, dtopic);
      const m = message(dtopic, body, 'TagD', 'dkey');
      m.delayTimeLevel = 1;
      const t0 = Date.now();
      await sendOne(producer, m);
      const got = await consume(`NodeDelay_${run}`, dtopic, '*', 'CONSUME_FROM_FIRST_OFFSET', new Set([ body ]));
      err = check(got, new Map([[ body, { tags: 'TagD', keys: 'dkey' }]]));
      if (!err && got.get(body).at - t0 < 900) err = new Error(`arrived after ${got.get(body).at - t0} ms, before its 1 s delay`);
    } catch (e) {
      err = e;
    }
    report('delay', err);
  }
  if (wanted('retry')) {
    let err = null;
    try {
      const rtopic = `NodeRetry_${run}`;
      const body = `node-${run}-retried`;
      await createTopic(producer, rtopic);
      await sendOne(producer, message(rtopic, body, 'TagR', 'rkey'));
      const retryOnce = new Set([ body ]);
      const got = await consume(`NodeRetry_${run}`, rtopic, '*', 'CONSUME_FROM_FIRST_OFFSET', new Set([ body ]), retryOnce);
      err = retryOnce.size ? new Error('the message never arrived') : check(got, new Map([[ body, { tags: 'TagR', keys: 'rkey' }]]));
    } catch (e) {
      err = e;
    }
    report('retry', err);
  }
  await Promise.race([ producer.close(), sleep(10000) ]);
}

main().catch(e => report('run', e)).finally(() => {
  console.log(`node: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
