//! `rmq admin` ACL verbs and `rmq produce --access-key` against `rmq broker` processes with
//! `aclEnable=true` (docs/broker/acl.md): the verbs edit the broker's plain_acl.yml over the wire,
//! and a signed produce works only for an account that may.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::process::{Command, Output};

fn rmq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rmq")
}

fn ok(args: &[&str]) -> String {
    let out = rmq(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "rmq {args:?} failed: {text}");
    text
}

#[test]
fn admin_verbs_edit_the_rules_and_signed_clients_follow_them() {
    let dir = common::temp_dir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(
        home.join("conf/plain_acl.yml"),
        "accounts:\n  - accessKey: adminuser\n    secretKey: admin-secret\n    admin: true\n",
    )
    .unwrap();
    let (_ns, ns) = common::namesrv(dir.path());
    let extra = format!(
        "aclEnable=true\nrocketmqHome={}\nautoCreateTopicEnable=false",
        home.display()
    );
    let (_broker, broker) = common::broker(dir.path(), &ns, &extra);
    let admin = ["--access-key", "adminuser", "--secret-key", "admin-secret"];
    let with_admin = |verb: &[&str]| {
        let mut v = vec!["admin"];
        v.extend_from_slice(verb);
        v.extend_from_slice(&["-n", &ns]);
        v.extend_from_slice(&admin);
        ok(&v)
    };
    with_admin(&["updateTopic", "-t", "AclCliTopic", "-b", &broker]);
    let out = with_admin(&[
        "updateAclConfig",
        "-b",
        &broker,
        "-a",
        "writer01",
        "-s",
        "writer-secret",
        "-i",
        "DENY",
        "-t",
        "AclCliTopic=PUB",
    ]);
    assert!(out.contains("success"), "{out}");
    let out = with_admin(&["clusterAclConfigVersion", "-c", "DefaultCluster"]);
    assert!(
        out.contains("\"counter\":1") && out.contains("plain_acl.yml"),
        "{out}"
    );
    let out = with_admin(&["getAclConfig", "-b", &broker]);
    assert!(
        out.contains("writer01") && out.contains("AclCliTopic=PUB"),
        "{out}"
    );

    let produce = |ak: &str, sk: &str| {
        rmq(&[
            "produce",
            "-n",
            &ns,
            "-t",
            "AclCliTopic",
            "-c",
            "2",
            "--access-key",
            ak,
            "--secret-key",
            sk,
        ])
    };
    let sent = produce("writer01", "writer-secret");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let refused = produce("writer01", "wrong-secret");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Check signature failed"));

    // A non-admin account cannot use the verbs.
    let out = rmq(&[
        "admin",
        "deleteAclConfig",
        "-b",
        &broker,
        "-a",
        "writer01",
        "-n",
        &ns,
        "--access-key",
        "writer01",
        "--secret-key",
        "writer-secret",
    ]);
    assert!(!out.status.success());
    with_admin(&["deleteAclConfig", "-b", &broker, "-a", "writer01"]);
    let gone = produce("writer01", "writer-secret");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("No acl config for writer01"));

    // White-listing loopback lets an unsigned client through.
    with_admin(&["updateGlobalWhiteAddr", "-b", &broker, "-g", "127.0.0.1"]);
    let unsigned = rmq(&["produce", "-n", &ns, "-t", "AclCliTopic", "-c", "1"]);
    assert!(
        unsigned.status.success(),
        "{}",
        String::from_utf8_lossy(&unsigned.stderr)
    );
}

#[test]
fn acl2_verbs_create_users_and_policies_that_signed_clients_follow() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let extra = "authenticationEnabled=true\nauthorizationEnabled=true\nautoCreateTopicEnable=false\n\
                 initAuthenticationUser={\"username\":\"root\",\"password\":\"root-pass\"}";
    let (_broker, broker) = common::broker(dir.path(), &ns, extra);
    let as_root = |verb: &[&str]| {
        let mut v = vec!["admin"];
        v.extend_from_slice(verb);
        v.extend_from_slice(&["-n", &ns, "--access-key", "root", "--secret-key", "root-pass"]);
        ok(&v)
    };
    as_root(&["updateTopic", "-t", "Acl2Topic", "-b", &broker]);
    as_root(&[
        "createUser",
        "-c",
        "DefaultCluster",
        "-u",
        "writer",
        "-p",
        "writer-pass",
    ]);
    as_root(&[
        "createAcl",
        "-b",
        &broker,
        "-s",
        "User:writer",
        "-r",
        "Topic:Acl2Topic",
        "-a",
        "Pub",
        "-d",
        "Allow",
    ]);
    let out = as_root(&["listUser", "-b", &broker]);
    assert!(out.contains("writer") && out.contains("Normal"), "{out}");
    // Java's tables (Get/ListUserSubCommand, Get/ListAclSubCommand)
    let out = as_root(&["getUser", "-c", "DefaultCluster", "-u", "writer"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("{:<16}  #Password", "#UserName")),
        "{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["writer", "writer-pass", "Normal", "enable"],
        "{out}"
    );
    let out = as_root(&["getAcl", "-b", &broker, "-s", "User:writer"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("#Subject          #PolicyType  #Resource"),
        "{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "User:writer",
            "Custom",
            "Topic:Acl2Topic",
            "[Pub]",
            "null",
            "Allow"
        ],
        "{out}"
    );

    // copyUser / copyAcl to a second broker (its own name server; the verbs name brokers)
    let dir2 = common::temp_dir();
    let (_ns2, ns2) = common::namesrv(dir2.path());
    let (_broker2, broker2) = common::broker(dir2.path(), &ns2, extra);
    let out = as_root(&["copyUser", "-f", &broker, "-t", &broker2, "-u", "writer"]);
    assert_eq!(
        out.trim(),
        format!("copy user of writer from {broker} to {broker2} success.")
    );
    let out = as_root(&["getUser", "-b", &broker2, "-u", "writer"]);
    assert!(out.contains("writer-pass"), "{out}");
    let out = as_root(&["copyAcl", "-f", &broker, "-t", &broker2]);
    assert!(
        out.contains(&format!(
            "copy acl of User:writer from {broker} to {broker2} success."
        )),
        "{out}"
    );
    let out = as_root(&["listAcl", "-b", &broker2, "-s", "User:writer"]);
    assert!(out.contains("Topic:Acl2Topic") && out.contains("Allow"), "{out}");
    // again: the user and ACL exist there now, so they are updated
    let out = as_root(&["copyUser", "-f", &broker, "-t", &broker2]);
    assert!(out.contains("copy user of writer from"), "{out}");

    let produce = |topic: &str, pass: &str| {
        rmq(&[
            "produce",
            "-n",
            &ns,
            "-t",
            topic,
            "-c",
            "1",
            "--access-key",
            "writer",
            "--secret-key",
            pass,
        ])
    };
    let sent = produce("Acl2Topic", "writer-pass");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let refused = produce("Acl2Topic", "wrong-pass");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("check signature failed."));

    // Deny the topic: the literal Deny replaces the Allow entry.
    as_root(&[
        "updateAcl",
        "-b",
        &broker,
        "-s",
        "User:writer",
        "-r",
        "Topic:Acl2Topic",
        "-a",
        "Pub",
        "-d",
        "Deny",
    ]);
    let denied = produce("Acl2Topic", "writer-pass");
    assert!(String::from_utf8_lossy(&denied.stderr).contains("the decision is deny."));
    as_root(&["deleteUser", "-b", &broker, "-u", "writer"]);
    let gone = produce("Acl2Topic", "writer-pass");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("User:writer is not found."));
}
