//! Evaluation of a compiled selector with Java's runtime semantics (`ComparisonExpression`,
//! `LogicExpression`, `UnaryExpression`): three-valued logic, and the type conversions of
//! `ComparisonExpression.__compare` with "convert string expressions" on (always the case for
//! selectors compiled by `SelectorParser.parse`).
//!
//! Where Java throws (a non-numeric string converted to a number, two non-numeric strings
//! ordered, a Boolean compared with a String), evaluation returns [`EvalError`]; the caller
//! treats it as "no match" for the whole expression, as the broker does with the exception.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::sql92::{CmpOp, Lit, Node};

/// A runtime value. Properties are always strings; numbers come from literals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

/// What Java would have thrown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EvalError {
    #[error("For input string: \"{0}\"")]
    NumberFormat(String),
    #[error("It's illegal to compare string by '>=', '>', '<', '<='. lv={0}, rv={1}")]
    StringOrder(String, String),
    #[error("{0} cannot be compared with {1}")]
    ClassCast(&'static str, &'static str),
}

pub(crate) fn lit_value(l: &Lit) -> Value<'_> {
    match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int(v) => Value::Int(*v),
        Lit::Long(v) => Value::Long(*v),
        Lit::Double(v) => Value::Double(*v),
        Lit::Str(s) => Value::Str(s),
    }
}

fn kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Int(_) => "Integer",
        Value::Long(_) => "Long",
        Value::Double(_) => "Double",
        Value::Str(_) => "String",
    }
}

/// `Integer.valueOf(String)` (ASCII digits, optional sign).
fn parse_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| EvalError::NumberFormat(s.to_string()))
}

/// `Long.valueOf(String)`.
fn parse_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| EvalError::NumberFormat(s.to_string()))
}

/// `Double.valueOf(String)`: surrounding whitespace (≤ U+0020) ignored, an optional `d`/`f`
/// suffix, `NaN` and `Infinity` spelled exactly. Hex floats are not supported.
fn parse_double(s: &str) -> Result<f64, EvalError> {
    let bad = || EvalError::NumberFormat(s.to_string());
    let t = s.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t.strip_prefix('+').unwrap_or(t)),
    };
    match body {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(sign * f64::INFINITY),
        _ => {}
    }
    let body = body.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(body);
    let plain = !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !plain {
        return Err(bad());
    }
    body.parse::<f64>().map(|v| sign * v).map_err(|_| bad())
}

/// `Double.compareTo`: -0.0 < 0.0, NaN equal to itself and above everything.
fn cmp_double(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a
            .partial_cmp(&b)
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.is_sign_negative().cmp(&a.is_sign_negative())),
    }
}

/// `String.compareTo`: UTF-16 code units.
fn cmp_str(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `ComparisonExpression.__compare(lv, rv, true)`: same types compare directly; otherwise the
/// left or right side is converted as Java does, and unrelated types give "less" (-1).
pub(crate) fn compare(l: &Value<'_>, r: &Value<'_>) -> Result<Ordering, EvalError> {
    use Value::*;
    Ok(match (*l, *r) {
        (Null, _) | (_, Null) => return Err(EvalError::ClassCast(kind(l), kind(r))),
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Int(a), Int(b)) => a.cmp(&b),
        (Long(a), Long(b)) => a.cmp(&b),
        (Double(a), Double(b)) => cmp_double(a, b),
        (Str(a), Str(b)) => cmp_str(a, b),
        // Java casts the Boolean to String here: a ClassCastException.
        (Bool(_), Str(_)) => return Err(EvalError::ClassCast(kind(l), kind(r))),
        (Bool(_), _) => Ordering::Less,
        (Int(a), Long(b)) => i64::from(a).cmp(&b),
        (Int(a), Double(b)) => cmp_double(f64::from(a), b),
        (Int(a), Str(s)) => a.cmp(&parse_int(s)?),
        (Long(a), Int(b)) => a.cmp(&i64::from(b)),
        (Long(a), Double(b)) => cmp_double(a as f64, b),
        (Long(a), Str(s)) => a.cmp(&parse_long(s)?),
        (Double(a), Int(b)) => cmp_double(a, f64::from(b)),
        (Double(a), Long(b)) => cmp_double(a, b as f64),
        (Double(a), Str(s)) => cmp_double(a, parse_double(s)?),
        (Int(_) | Long(_) | Double(_), Bool(_)) => Ordering::Less,
        // `Boolean.valueOf(String)`: "true" in any case, anything else false.
        (Str(s), Bool(b)) => s.eq_ignore_ascii_case("true").cmp(&b),
        (Str(s), Int(b)) => parse_int(s)?.cmp(&b),
        (Str(s), Long(b)) => parse_long(s)?.cmp(&b),
        (Str(s), Double(b)) => cmp_double(parse_double(s)?, b),
    })
}

fn ordered(op: CmpOp, l: &Value<'_>, r: &Value<'_>) -> Result<Value<'static>, EvalError> {
    if l == &Value::Null || r == &Value::Null {
        return Ok(Value::Null);
    }
    let order = match (l, r) {
        // Two strings are ordered as doubles, or not at all.
        (Value::Str(a), Value::Str(b)) => match (parse_double(a), parse_double(b)) {
            (Ok(x), Ok(y)) => cmp_double(x, y),
            _ => return Err(EvalError::StringOrder(a.to_string(), b.to_string())),
        },
        _ => compare(l, r)?,
    };
    Ok(Value::Bool(match op {
        CmpOp::Gt => order.is_gt(),
        CmpOp::Ge => order.is_ge(),
        CmpOp::Lt => order.is_lt(),
        CmpOp::Le => order.is_le(),
        CmpOp::Eq => order.is_eq(),
    }))
}

fn equal(l: &Value<'_>, r: &Value<'_>) -> Result<Value<'static>, EvalError> {
    match (l == &Value::Null, r == &Value::Null) {
        (true, true) => Ok(Value::Bool(true)),
        (true, false) => Ok(Value::Null),
        (false, true) => Ok(Value::Bool(false)),
        (false, false) => Ok(Value::Bool(compare(l, r)?.is_eq())),
    }
}

/// A logic operand: Boolean or NULL (anything else is a ClassCastException in Java).
fn truth(v: Value<'_>) -> Result<Option<bool>, EvalError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        other => Err(EvalError::ClassCast(kind(&other), "Boolean")),
    }
}

fn tri(v: Option<bool>) -> Value<'static> {
    v.map_or(Value::Null, Value::Bool)
}

pub(crate) fn evaluate<'a>(
    node: &'a Node,
    props: &'a HashMap<String, String>,
) -> Result<Value<'a>, EvalError> {
    Ok(match node {
        Node::Const(l) => lit_value(l),
        Node::Prop(name) => props.get(name).map_or(Value::Null, |v| Value::Str(v)),
        Node::Negate(n) => match evaluate(n, props)? {
            Value::Int(v) => Value::Int(v.wrapping_neg()),
            Value::Long(v) => Value::Long(v.wrapping_neg()),
            Value::Double(v) => Value::Double(-v),
            _ => Value::Null,
        },
        Node::Not(n) => tri(truth(evaluate(n, props)?)?.map(|b| !b)),
        Node::BoolCast(n) => match evaluate(n, props)? {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Bool(false),
        },
        Node::And(items) => {
            let mut unknown = false;
            for n in items {
                match truth(evaluate(n, props)?)? {
                    Some(false) => return Ok(Value::Bool(false)),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            tri((!unknown).then_some(true))
        }
        Node::Or(items) => {
            let mut unknown = false;
            for n in items {
                match truth(evaluate(n, props)?)? {
                    Some(true) => return Ok(Value::Bool(true)),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            tri((!unknown).then_some(false))
        }
        Node::Cmp(op, l, r) => {
            let lv = evaluate(l, props)?;
            let rv = evaluate(r, props)?;
            if *op == CmpOp::Eq {
                equal(&lv, &rv)?
            } else {
                ordered(*op, &lv, &rv)?
            }
        }
        Node::In { prop, list, negated } => match props.get(prop) {
            None => Value::Null,
            Some(v) => Value::Bool(list.iter().any(|s| s == v) ^ negated),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_parsing() {
        assert_eq!(parse_double(" 5 "), Ok(5.0));
        assert_eq!(parse_double("5d"), Ok(5.0));
        assert_eq!(parse_double("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_double("inf").is_err());
        assert!(parse_double("abc").is_err());
        assert!(parse_double("").is_err());
        assert_eq!(parse_int("+7"), Ok(7));
        assert!(parse_int("3.5").is_err());
        assert_eq!(cmp_double(-0.0, 0.0), Ordering::Less);
        assert_eq!(cmp_double(f64::NAN, 1e300), Ordering::Greater);
    }
}
