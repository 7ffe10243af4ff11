//! Decision tests over compiled rules, and the property tests of must-show 3 of issue 12: random
//! requests never panic the check and are never accepted without the right secret.

use std::collections::HashMap;
use std::net::IpAddr;

use proptest::prelude::*;
use rmq_protocol::codes::request_code as rc;

use crate::sign::{self, Credentials};
use crate::{AclFile, AclRules, Request};

const RULES: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: pubonly1
    secretKey: secret-pub
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [aclTopic=PUB]
  - accessKey: subonly1
    secretKey: secret-sub
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [aclTopic=SUB]
    groupPerms: [aclGroup=SUB]
  - accessKey: everyone
    secretKey: secret-all
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
    topicPerms: [closed=DENY]
  - accessKey: adminacc
    secretKey: secret-admin
    admin: true
  - accessKey: whiteacc
    secretKey: secret-white
    whiteRemoteAddress: 192.168.1.*
"#;

fn rules() -> AclRules {
    let file = AclFile::parse(RULES).expect("fixture parses");
    AclRules::compile([("fixture", &file)])
        .expect("fixture compiles")
        .0
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn signed(code: i32, fields: &[(&str, &str)], body: &[u8], ak: &str, sk: &str) -> HashMap<String, String> {
    let mut f: HashMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sign::sign_fields(&mut f, body, &Credentials::new(ak, sk));
    let _ = code;
    f
}

fn decide(
    rules: &AclRules,
    code: i32,
    fields: &HashMap<String, String>,
    body: &[u8],
    from: &str,
) -> Result<(), String> {
    rules
        .check(
            &Request {
                code,
                version: 500,
                fields,
                body,
            },
            ip(from),
        )
        .map_err(|d| d.reason)
}

#[test]
fn permissions_per_topic_and_group() {
    let r = rules();
    let send = |ak, sk, topic| {
        let f = signed(rc::SEND_MESSAGE_V2, &[("a", "pg"), ("b", topic)], b"hi", ak, sk);
        decide(&r, rc::SEND_MESSAGE_V2, &f, b"hi", "127.0.0.1")
    };
    assert_eq!(send("pubonly1", "secret-pub", "aclTopic"), Ok(()));
    assert_eq!(
        send("pubonly1", "secret-pub", "other"),
        Err("No default permission for topic:other".into())
    );
    assert_eq!(
        send("subonly1", "secret-sub", "aclTopic"),
        Err("No permission for topic:aclTopic".into())
    );
    assert_eq!(send("everyone", "secret-all", "anything"), Ok(()));
    assert_eq!(
        send("everyone", "secret-all", "closed"),
        Err("No permission for topic:closed".into())
    );
    assert_eq!(send("adminacc", "secret-admin", "closed"), Ok(()));
    assert_eq!(
        send("pubonly1", "wrong-secret", "aclTopic"),
        Err("Check signature failed for accessKey=pubonly1".into())
    );
    assert_eq!(
        send("nobody11", "secret-pub", "aclTopic"),
        Err("No acl config for nobody11".into())
    );

    let pull = |ak, sk| {
        let f = signed(
            rc::PULL_MESSAGE,
            &[("topic", "aclTopic"), ("consumerGroup", "aclGroup")],
            b"",
            ak,
            sk,
        );
        decide(&r, rc::PULL_MESSAGE, &f, b"", "127.0.0.1")
    };
    assert_eq!(pull("subonly1", "secret-sub"), Ok(()));
    assert_eq!(
        pull("pubonly1", "secret-pub").map_err(|e| e.starts_with("No ")),
        Err(true)
    );
}

#[test]
fn admin_codes_need_admin() {
    let r = rules();
    let f = signed(
        rc::UPDATE_AND_CREATE_TOPIC,
        &[("topic", "x")],
        b"",
        "everyone",
        "secret-all",
    );
    assert_eq!(
        decide(&r, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", "127.0.0.1"),
        Err("Need admin permission for request code=17, but accessKey=everyone is not".into())
    );
    let f = signed(
        rc::UPDATE_AND_CREATE_TOPIC,
        &[("topic", "x")],
        b"",
        "adminacc",
        "secret-admin",
    );
    assert_eq!(
        decide(&r, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", "127.0.0.1"),
        Ok(())
    );
}

#[test]
fn white_addresses() {
    let r = rules();
    let empty = HashMap::new();
    assert_eq!(
        decide(&r, rc::GET_ALL_TOPIC_CONFIG, &empty, b"", "10.10.103.7"),
        Ok(())
    );
    assert_eq!(
        decide(&r, rc::GET_ALL_TOPIC_CONFIG, &empty, b"", "127.0.0.1"),
        Err("No accessKey is configured".into())
    );
    // An account's own white address skips its signature, not the access key.
    let f = signed(
        rc::SEND_MESSAGE_V2,
        &[("b", "t")],
        b"",
        "whiteacc",
        "not-the-secret",
    );
    assert_eq!(decide(&r, rc::SEND_MESSAGE_V2, &f, b"", "192.168.1.20"), Ok(()));
    assert!(decide(&r, rc::SEND_MESSAGE_V2, &f, b"", "192.168.2.20").is_err());
}

#[test]
fn replayed_with_other_fields_is_refused() {
    let r = rules();
    let mut f = signed(
        rc::SEND_MESSAGE_V2,
        &[("a", "pg"), ("b", "aclTopic")],
        b"hi",
        "everyone",
        "secret-all",
    );
    assert_eq!(decide(&r, rc::SEND_MESSAGE_V2, &f, b"hi", "127.0.0.1"), Ok(()));
    f.insert("b".into(), "closed".into());
    assert!(decide(&r, rc::SEND_MESSAGE_V2, &f, b"hi", "127.0.0.1")
        .unwrap_err()
        .starts_with("Check signature failed"));
}

#[test]
fn a_bad_file_does_not_compile() {
    for bad in [
        "accounts: [{accessKey: short, secretKey: 12345678}]",
        "accounts: [{accessKey: longenough, secretKey: 12345678, topicPerms: [noequals]}]",
        "accounts: [{accessKey: longenough, secretKey: 12345678, whiteRemoteAddress: 999.1.1.1}]",
        "globalWhiteRemoteAddresses: [1.2.3]",
        "accounts: [{secretKey: 12345678}]",
    ] {
        let f = AclFile::parse(bad).expect("yaml parses");
        assert!(AclRules::compile([("bad", &f)]).is_err(), "{bad}");
    }
}

#[test]
fn first_file_wins_for_a_repeated_key() {
    let a =
        AclFile::parse("accounts: [{accessKey: samekey1, secretKey: first-secret, admin: true}]").expect("a");
    let b = AclFile::parse("accounts: [{accessKey: samekey1, secretKey: second-secret}]").expect("b");
    let (rules, warnings) = AclRules::compile([("a", &a), ("b", &b)]).expect("compiles");
    assert_eq!(rules.accounts["samekey1"].secret_key(), "first-secret");
    assert_eq!(warnings.len(), 1);
}

fn codes() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(rc::SEND_MESSAGE),
        Just(rc::SEND_MESSAGE_V2),
        Just(rc::SEND_BATCH_MESSAGE),
        Just(rc::PULL_MESSAGE),
        Just(rc::HEART_BEAT),
        Just(rc::UPDATE_CONSUMER_OFFSET),
        Just(rc::CONSUMER_SEND_MSG_BACK),
        Just(rc::UPDATE_AND_CREATE_TOPIC),
        Just(rc::GET_ALL_TOPIC_CONFIG),
        any::<i32>(),
    ]
}

fn fields() -> impl Strategy<Value = HashMap<String, String>> {
    proptest::collection::hash_map(
        prop_oneof![
            Just("topic".to_string()),
            Just("b".to_string()),
            Just("a".to_string()),
            Just("group".to_string()),
            Just("consumerGroup".to_string()),
            "[a-zA-Z_]{1,8}",
        ],
        "\\PC{0,12}",
        0..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Signed with any secret but the account's, nothing is accepted (from a non-white address).
    #[test]
    fn never_accepted_without_the_secret(
        code in codes(), f in fields(), body in proptest::collection::vec(any::<u8>(), 0..64),
        secret in "\\PC{0,16}", version in any::<i32>(),
    ) {
        prop_assume!(secret != "secret-all");
        let r = rules();
        let mut f = f;
        sign::sign_fields(&mut f, &body, &Credentials::new("everyone", secret));
        let res = r.check(&Request { code, version, fields: &f, body: &body }, ip("127.0.0.1"));
        prop_assert!(res.is_err());
    }

    /// With the right secret, an account with every permission is refused only for what the
    /// request itself gets wrong (an unreadable heartbeat, a missing header field) or admin codes.
    #[test]
    fn the_right_secret_is_accepted(
        code in codes(), f in fields(), body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let r = rules();
        let mut f = f;
        f.retain(|_, v| v != "closed");
        sign::sign_fields(&mut f, &body, &Credentials::new("everyone", "secret-all"));
        let res = r.check(&Request { code, version: 500, fields: &f, body: &body }, ip("127.0.0.1"));
        if let Err(d) = res {
            prop_assert!(
                d.reason.starts_with("the ") || d.reason.starts_with("Need admin"),
                "refused: {}", d.reason
            );
        }
    }

    /// Any change to one signed value or to the body after signing is refused.
    #[test]
    fn tampering_is_refused(
        f in fields(), body in proptest::collection::vec(any::<u8>(), 0..64),
        which in any::<prop::sample::Index>(), new_value in "\\PC{0,12}", flip in any::<prop::sample::Index>(),
    ) {
        let r = rules();
        let mut f = f;
        sign::sign_fields(&mut f, &body, &Credentials::new("everyone", "secret-all"));
        let keys: Vec<String> = f.keys().filter(|k| k.as_str() != sign::SIGNATURE).cloned().collect();
        let key = which.get(&keys).clone();
        let mut g = f.clone();
        if g[&key] != new_value {
            g.insert(key, new_value);
            let res = r.check(&Request { code: rc::GET_ALL_TOPIC_CONFIG, version: 500, fields: &g, body: &body }, ip("127.0.0.1"));
            prop_assert!(res.is_err());
        }
        if !body.is_empty() {
            let mut b = body.clone();
            let i = flip.index(b.len());
            b[i] ^= 0x5a;
            let res = r.check(&Request { code: rc::GET_ALL_TOPIC_CONFIG, version: 500, fields: &f, body: &b }, ip("127.0.0.1"));
            prop_assert!(res.is_err());
        }
    }

    /// Any text as a rules file: parsing and compiling never panic.
    #[test]
    fn any_file_text_is_handled(text in "\\PC{0,300}") {
        if let Ok(f) = AclFile::parse(&text) {
            let _ = AclRules::compile([("random", &f)]);
        }
    }

    /// Any address pattern: parsing and matching never panic.
    #[test]
    fn any_address_pattern_is_handled(p in "[0-9a-f.:*{},\\- ]{0,40}", a in any::<[u8; 4]>()) {
        if let Ok(pat) = crate::address::AddressPattern::parse(&p) {
            let _ = pat.matches(IpAddr::from(a));
        }
    }
}
