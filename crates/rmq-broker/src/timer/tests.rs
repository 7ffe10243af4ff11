#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use super::*;
use crate::BrokerConfig;
use rmq_protocol::time::ManualClock;

const NOW: i64 = 1_700_000_000_000;

fn service(tweak: impl FnOnce(&mut BrokerConfig)) -> (tempfile::TempDir, TimerService) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = BrokerConfig::default();
    c.store.store_path_root_dir = dir.path().to_path_buf();
    c.store.clock = ManualClock::new(NOW).into();
    tweak(&mut c);
    let s = TimerService::load(&c).unwrap();
    (dir, s)
}

fn msg(props: &str, sys_flag: i32) -> PutMessage {
    PutMessage {
        topic: "T".into(),
        queue_id: 3,
        flag: 0,
        body: bytes::Bytes::from_static(b"x"),
        properties: props.into(),
        tags_code: 0,
        sys_flag,
        born_timestamp: 0,
        born_host: "127.0.0.1:1".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// The record the store writes for `m`, stored at `store_ts`.
fn stored(m: &PutMessage, store_ts: i64) -> bytes::Bytes {
    let mut buf = Vec::new();
    rmq_store::record::encode(&mut buf, m, &"10.0.0.1:10911".parse().unwrap(), 4 << 20).unwrap();
    assert!(rmq_store::record::patch(&mut buf, 0, 0, store_ts));
    buf.into()
}

fn prop<'a>(m: &'a PutMessage, k: &str) -> Option<&'a str> {
    property_value(&m.properties, k)
}

#[test]
fn a_future_time_parks_the_message_with_its_real_topic() {
    let (_d, s) = service(|_| {});
    let mut m = msg(
        &format!("UNIQ_KEY\u{1}U\u{2}TIMER_DELIVER_MS\u{1}{}", NOW + 1234),
        0,
    );
    assert_eq!(s.apply_timer(&mut m), Ok(true));
    assert_eq!(m.topic, TIMER_TOPIC);
    assert_eq!(m.queue_id, 0);
    // 1 ms precision: the largest multiple strictly below, i.e. one ms earlier.
    assert_eq!(prop(&m, "TIMER_OUT_MS"), Some("1700000001233"));
    assert_eq!(m.tags_code, NOW + 1233);
    assert_eq!(prop(&m, "REAL_TOPIC"), Some("T"));
    assert_eq!(prop(&m, "REAL_QID"), Some("3"));
    // What the producer set stays.
    assert_eq!(prop(&m, "TIMER_DELIVER_MS"), Some("1700000001234"));
    assert_eq!(prop(&m, "UNIQ_KEY"), Some("U"));
}

#[test]
fn delays_count_from_the_brokers_clock_and_round_to_the_precision() {
    let (_d, s) = service(|c| c.timer.precision_ms = 1000);
    let mut m = msg("TIMER_DELAY_SEC\u{1}10", 0);
    assert_eq!(s.apply_timer(&mut m), Ok(true));
    // NOW + 10 s is a multiple of 1000: one precision earlier.
    assert_eq!(prop(&m, "TIMER_OUT_MS"), Some("1700000009000"));
    let mut m = msg("TIMER_DELAY_MS\u{1}1500", 0);
    assert_eq!(s.apply_timer(&mut m), Ok(true));
    assert_eq!(prop(&m, "TIMER_OUT_MS"), Some("1700000001000"));
    // TIMER_DELAY_SEC wins over TIMER_DELAY_MS, which wins over TIMER_DELIVER_MS.
    let mut m = msg(
        &format!(
            "TIMER_DELIVER_MS\u{1}{}\u{2}TIMER_DELAY_MS\u{1}5000\u{2}TIMER_DELAY_SEC\u{1}2",
            NOW + 60_000
        ),
        0,
    );
    assert_eq!(s.apply_timer(&mut m), Ok(true));
    assert_eq!(prop(&m, "TIMER_OUT_MS"), Some("1700000001000"));
}

#[test]
fn past_times_delay_levels_and_half_messages_are_left_alone() {
    let (_d, s) = service(|_| {});
    let mut past = msg(&format!("TIMER_DELIVER_MS\u{1}{}", NOW), 0);
    assert_eq!(s.apply_timer(&mut past), Ok(false));
    assert_eq!(past.topic, "T");
    assert_eq!(prop(&past, "TIMER_DELIVER_MS"), Some("1700000000000"));

    let mut delayed = msg(
        "DELAY\u{1}3\u{2}TIMER_DELAY_SEC\u{1}5\u{2}TIMER_DELIVER_MS\u{1}9",
        0,
    );
    assert_eq!(s.apply_timer(&mut delayed), Ok(false));
    assert_eq!(delayed.properties, "DELAY\u{1}3");

    let mut half = msg("TIMER_DELAY_SEC\u{1}5", sys_flag::TRANSACTION_PREPARED_TYPE);
    assert_eq!(s.apply_timer(&mut half), Ok(false));
    assert_eq!(half.topic, "T");

    let mut committed = msg("TIMER_DELAY_SEC\u{1}5", sys_flag::TRANSACTION_COMMIT_TYPE);
    assert_eq!(s.apply_timer(&mut committed), Ok(true));

    // A delivered timer put again (TIMER_OUT_MS present) is not timed again.
    let mut delivered = msg("TIMER_DELAY_SEC\u{1}5\u{2}TIMER_OUT_MS\u{1}1", 0);
    assert_eq!(s.apply_timer(&mut delivered), Ok(false));
    assert_eq!(delivered.topic, "T");

    let mut plain = msg("KEYS\u{1}k", 0);
    assert_eq!(s.apply_timer(&mut plain), Ok(false));
}

#[test]
fn refusals_name_the_limit() {
    let (_d, s) = service(|_| {});
    let mut far = msg(&format!("TIMER_DELIVER_MS\u{1}{}", NOW + 259_200_001), 0);
    let r = s.apply_timer(&mut far).unwrap_err();
    assert_eq!(r.code(), rmq_protocol::codes::response_code::MESSAGE_ILLEGAL);
    assert_eq!(
        r.remark(),
        "timer message illegal, the delay time should not be bigger than the max delay 259200000ms; or if set del msg, the delay time should be bigger than the current time"
    );
    assert_eq!(far.topic, "T");
    // Exactly the maximum is fine.
    let mut edge = msg(&format!("TIMER_DELIVER_MS\u{1}{}", NOW + 259_200_000), 0);
    assert_eq!(s.apply_timer(&mut edge), Ok(true));

    let mut bad = msg("TIMER_DELAY_SEC\u{1}soon", 0);
    assert!(matches!(s.apply_timer(&mut bad), Err(Refused::Illegal(_))));
    let mut cancel_past = msg("TIMER_DELIVER_MS\u{1}5\u{2}TIMER_DEL_UNIQKEY\u{1}U", 0);
    assert!(matches!(
        s.apply_timer(&mut cancel_past),
        Err(Refused::Illegal(_))
    ));

    let (_d, off) = service(|c| c.timer.enable = false);
    let r = off.apply_timer(&mut msg("TIMER_DELAY_SEC\u{1}5", 0)).unwrap_err();
    assert_eq!(r.code(), rmq_protocol::codes::response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark(),
        "accurate timer message is not enabled, timerWheelEnable is false"
    );
    // Without timer properties the switch changes nothing.
    assert_eq!(off.apply_timer(&mut msg("KEYS\u{1}k", 0)), Ok(false));
}

#[test]
fn settings_read_the_java_keys() {
    let mut t = TimerSettings::default();
    assert!(t.apply("timerPrecisionMs", "100"));
    assert!(t.apply("timerMaxDelaySec", "60"));
    assert!(t.apply("timerWheelEnable", "false"));
    assert!(t.apply("timerRollWindowSlot", "100"));
    assert!(!t.apply("timerPrecisionMs", "0"));
    assert!(!t.apply("timerPrecisionMs", "x"));
    assert!(!t.apply("timerNoSuchKey", "1"));
    assert_eq!(
        t,
        TimerSettings {
            enable: false,
            precision_ms: 100,
            max_delay_sec: 60,
            ..TimerSettings::default()
        }
    );
}

#[test]
fn delivery_restores_the_real_topic_and_stamps_the_times() {
    // A stored timer record, as the store writes it.
    let mut m = msg("UNIQ_KEY\u{1}U\u{2}TAGS\u{1}tg\u{2}TIMER_DELAY_SEC\u{1}5", 0);
    m.reconsume_times = 2;
    m.flag = 9;
    let (_d, s) = service(|_| {});
    assert_eq!(s.apply_timer(&mut m), Ok(true));
    let record = stored(&m, NOW - 10);
    let Fired::Deliver { tick, uniq, msg: out } = to_fired(&record, NOW + 5000, 1).unwrap() else {
        panic!("a timer, not a cancel marker");
    };
    assert_eq!(tick, NOW + 4999);
    assert_eq!(uniq.as_deref(), Some("U"));
    assert_eq!(
        (out.topic.as_str(), out.queue_id, out.flag, out.reconsume_times),
        ("T", 3, 9, 2)
    );
    // Kept, as the 5.3.1 broker keeps them.
    assert_eq!(prop(&out, "REAL_TOPIC"), Some("T"));
    assert_eq!(prop(&out, "REAL_QID"), Some("3"));
    assert_eq!(prop(&out, "TIMER_OUT_MS"), Some("1700000004999"));
    assert_eq!(prop(&out, "TIMER_DELAY_SEC"), Some("5"));
    assert_eq!(prop(&out, "TIMER_ENQUEUE_MS"), Some("1699999999990"));
    assert_eq!(prop(&out, "TIMER_DEQUEUE_MS"), Some("1700000005000"));
    assert_eq!(prop(&out, "WAIT"), None);
    assert_eq!(out.tags_code, rmq_protocol::message::tag_hash("tg"));

    let mut cancel = msg("TIMER_DELAY_SEC\u{1}5\u{2}TIMER_DEL_UNIQKEY\u{1}U", 0);
    assert_eq!(s.apply_timer(&mut cancel), Ok(true));
    let record = stored(&cancel, NOW);
    assert!(
        matches!(to_fired(&record, NOW + 5000, 1).unwrap(), Fired::Cancel { tick, uniq } if tick == NOW + 4999 && uniq == "U")
    );
}
