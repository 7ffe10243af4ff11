use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn eval(expr: &str, pairs: &[(&str, &str)]) -> bool {
    compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .evaluate(&props(pairs))
}

fn rejects(expr: &str) -> FilterError {
    compile(expr).expect_err(expr)
}

#[test]
fn between_and_equality_with_precedence() {
    let e = "a BETWEEN 3 AND 7 AND color = 'red'";
    assert!(eval(e, &[("a", "5"), ("color", "red")]));
    assert!(eval(e, &[("a", "3"), ("color", "red")]));
    assert!(eval(e, &[("a", "7"), ("color", "red")]));
    assert!(!eval(e, &[("a", "8"), ("color", "red")]));
    assert!(!eval(e, &[("a", "5"), ("color", "blue")]));
    assert!(!eval(e, &[("color", "red")]));
    assert!(eval("a NOT BETWEEN 3 AND 7", &[("a", "8")]));
    assert!(!eval("a NOT BETWEEN 3 AND 7", &[("a", "3")]));
    assert!(eval("a between -2 and 2.5", &[("a", "-1")]));
}

#[test]
fn numeric_comparisons() {
    let p = &[("n", "10"), ("d", "2.5"), ("big", "5000000000")];
    for (e, want) in [
        ("n = 10", true),
        ("n <> 10", false),
        ("n > 9", true),
        ("n >= 10", true),
        ("n < 10", false),
        ("n <= 10", true),
        ("n > 9.5", true),
        ("d < 3", false), // Integer.valueOf("2.5") throws: no match
        ("d < 3.0", true),
        ("d = 2.5", true),
        ("big > 4999999999", true),
        ("big = 5000000000L", true),
        ("n > -11", true),
        ("-n < 0", false), // negating a string property gives NULL
        ("n > +9", true),
        ("10 = n", true),
        ("n = '10'", true),
        ("n > 'x' ", false), // compile rejects: checked below
    ] {
        if e.contains("'x'") {
            rejects(e);
            continue;
        }
        assert_eq!(eval(e, p), want, "{e}");
    }
    // Two strings order only when both are numbers.
    assert!(eval("a > b", &[("a", "3"), ("b", "2.5")]));
    assert!(!eval("a > b", &[("a", "x"), ("b", "y")]));
}

#[test]
fn strings_and_escapes() {
    assert!(eval("s = 'it''s'", &[("s", "it's")]));
    assert!(eval("s <> 'a'", &[("s", "b")]));
    assert!(!eval("s = 'a'", &[("s", "A")]));
    // Comparing a non-numeric string with a number is an exception in Java: no match, even
    // inside an OR that would otherwise hold.
    assert!(!eval("s = 1 OR TRUE", &[("s", "abc")]));
    assert!(eval("TRUE OR s = 1", &[("s", "abc")]));
}

#[test]
fn in_and_not_in() {
    let e = "TAGS IN ('TagA', 'TagB')";
    assert!(eval(e, &[("TAGS", "TagA")]));
    assert!(!eval(e, &[("TAGS", "TagC")]));
    assert!(!eval(e, &[]));
    assert!(eval("TAGS NOT IN ('TagA')", &[("TAGS", "TagC")]));
    assert!(!eval("TAGS NOT IN ('TagA')", &[]));
    assert!(eval("(TAGS) in ('x')", &[("TAGS", "x")]));
    rejects("TAGS IN (1, 2)");
    rejects("'a' IN ('a')");
    rejects("TAGS IN ()");
}

#[test]
fn null_checks_and_booleans() {
    assert!(eval("a IS NULL", &[]));
    assert!(!eval("a IS NULL", &[("a", "1")]));
    assert!(eval("a IS NOT NULL", &[("a", "1")]));
    assert!(eval("flag = TRUE", &[("flag", "TRUE")]));
    assert!(!eval("flag = TRUE", &[("flag", "yes")]));
    assert!(eval("TRUE", &[]));
    assert!(!eval("FALSE", &[]));
    assert!(!eval("NULL", &[]));
    assert!(!eval("a", &[("a", "true")])); // a bare property is never Boolean
                                           // Missing property: comparison is NULL, NOT NULL is NULL, so no match either way.
    assert!(!eval("a > 1", &[]));
    assert!(!eval("NOT (a > 1)", &[]));
    assert!(!eval("a = 'x'", &[]));
    assert!(!eval("a <> 'x'", &[]));
}

#[test]
fn logic_precedence_and_three_valued() {
    let p = &[("a", "1"), ("b", "2")];
    assert!(eval("a = 1 OR b = 3 AND b = 4", p)); // AND binds tighter
    assert!(!eval("(a = 1 OR b = 3) AND b = 4", p));
    // Unary NOT binds tighter than `=` (as in Java): this is `(NOT a) = 2`, never true.
    assert!(!eval("NOT a = 2", p));
    assert!(eval("NOT (a = 2)", p));
    assert!(eval("not (a = 2) and b = 2", p));
    // NULL OR TRUE = TRUE; NULL AND FALSE = FALSE; NULL AND TRUE = NULL.
    assert!(eval("x = 1 OR a = 1", p));
    assert!(!eval("x = 1 AND a = 1", p));
    assert!(eval("NOT (x = 1 AND a = 2)", p));
    assert!(eval("-- comment\n a = 1 /* and more */", p));
}

#[test]
fn compile_errors_carry_a_position() {
    let e = rejects("a != 1");
    assert_eq!((e.line, e.column), (1, 3), "{e}");
    let e = rejects("a = 1 AND\n  b =");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.to_string().starts_with("Invalid MessageSelector."), "{e}");
    for bad in [
        "",
        "a =",
        "a = NULL",
        "a > 'x'",
        "a > TRUE",
        "TRUE = 1",
        "a BETWEEN 7 AND 3",
        "a BETWEEN NULL AND 3",
        "a LIKE 'x%'",
        "5",
        "a + 1 > 2",
        "'unterminated",
        "a = 1 -- no newline",
        "a = 0.0",
        "a = 99999999999999999999",
        "a = 01",
        "(a = 1",
        "a = 1)",
        "NOT 5",
        "5 AND TRUE",
        "(a > 1) > 0",
    ] {
        rejects(bad);
    }
    let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
    rejects(&deep);
    let long_chain = vec!["a = 1"; 2000].join(" AND ");
    assert!(eval(&long_chain, &[("a", "1")]));
}

#[test]
fn matches_stored_record() {
    use rmq_protocol::message::{body_crc, put_record, RecordHeader};
    let host = "127.0.0.1:10911".parse().unwrap();
    let header = RecordHeader {
        body_crc: body_crc(b"x"),
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: host,
        store_timestamp: 0,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let mut buf = Vec::new();
    put_record(
        &mut buf,
        &header,
        b"x",
        b"T",
        "a\u{1}5\u{2}color\u{1}red".as_bytes(),
    );
    let yes = compile("a BETWEEN 3 AND 7 AND color = 'red'").unwrap();
    let no = compile("color = 'blue'").unwrap();
    assert!(matches_sql(&yes, &buf));
    assert!(!matches_sql(&no, &buf));
    assert!(!matches_sql(&yes, &buf[..10]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,80}") {
        if let Ok(e) = compile(&s) {
            e.evaluate(&props(&[("a", "1"), ("b", "x")]));
        }
    }

    #[test]
    fn parser_never_panics_on_token_soup(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "TAGS", "=", "<>", "<", "<=", ">", ">=", "AND", "OR", "NOT", "(", ")",
                "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE", "1", "2.5", "-", "+", "'x'", "','",
                ",", "0", "5L", ".5", "1E3", "--", "/*", "*/", "\n", "''",
            ]),
            0..24,
        ),
        a in "[0-9a-z.]{0,4}",
    ) {
        let s = parts.join(" ");
        if let Ok(e) = compile(&s) {
            e.evaluate(&props(&[("a", &a), ("b", "2"), ("TAGS", "x")]));
        }
    }
}
