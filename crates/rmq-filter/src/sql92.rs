//! RocketMQ 4.9's SQL92 subset (`filter/.../SelectorParser.jj`, docs/broker/filters.md#sql92): lexer,
//! recursive-descent parser and the compile-time checks of `ComparisonExpression` /
//! `ConstantExpression`, producing an [`Expr`] that evaluates against a property map.
//!
//! Precedence, lowest first: `OR` < `AND` < `=`, `<>`, `IS [NOT] NULL` < `>`, `>=`, `<`, `<=`,
//! `[NOT] BETWEEN`, `[NOT] IN` < unary `+`, `-`, `NOT` < literal, identifier, `( … )`.
//! Keywords are case-insensitive; `!=`, `LIKE` and arithmetic are not part of the language.
//!
//! Input is bounded: nesting (parentheses, unary operators, `=` chains) deeper than
//! [`MAX_DEPTH`] is refused, so neither parsing nor evaluation can exhaust the stack.

use std::collections::HashMap;
use std::fmt;

use super::eval::{self, Value};

/// Deepest nesting the parser accepts.
pub const MAX_DEPTH: usize = 100;

/// A compile error, located in the expression (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid MessageSelector. {message} at line {line}, column {column}")]
pub struct FilterError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A compiled SQL92 selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

impl Expr {
    /// True only when the selector evaluates to boolean TRUE. NULL (a missing property), FALSE
    /// and evaluation errors (Java exceptions: a non-numeric string compared with a number,
    /// strings ordered with `<` that are not numbers, …) are all "no match", as in Java.
    pub fn evaluate(&self, properties: &HashMap<String, String>) -> bool {
        matches!(eval::evaluate(&self.root, properties), Ok(Value::Bool(true)))
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Compiles a selector (`SelectorParser.parse`).
pub fn compile(expression: &str) -> Result<Expr, FilterError> {
    let tokens = lex(expression)?;
    let mut p = Parser {
        src: expression,
        tokens,
        at: 0,
        depth: 0,
    };
    let root = p.or()?;
    let root = p.as_boolean(root, 0)?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(p.unexpected(t));
    }
    Ok(Expr {
        source: expression.to_string(),
        root,
    })
}

// ------------------------------------------------------------------------------------------ AST

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Const(Lit),
    Prop(String),
    Negate(Box<Node>),
    Not(Box<Node>),
    /// A bare property used as a condition (`UnaryExpression.createBooleanCast`).
    BoolCast(Box<Node>),
    /// n-ary; same results (and exceptions) as Java's left-deep binary chain.
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In {
        prop: String,
        list: Vec<String>,
        negated: bool,
    },
}

impl Node {
    /// Java's `BooleanExpression` marker.
    fn is_boolean(&self) -> bool {
        match self {
            Node::Const(l) => matches!(l, Lit::Null | Lit::Bool(_)),
            Node::Prop(_) | Node::Negate(_) => false,
            _ => true,
        }
    }

    fn cmp(op: CmpOp, l: Node, r: Node) -> Node {
        Node::Cmp(op, Box::new(l), Box::new(r))
    }

    fn not(n: Node) -> Node {
        Node::Not(Box::new(n))
    }

    fn and(l: Node, r: Node) -> Node {
        let mut v = match l {
            Node::And(v) => v,
            other => vec![other],
        };
        match r {
            Node::And(rv) => v.extend(rv),
            other => v.push(other),
        }
        Node::And(v)
    }

    fn or(l: Node, r: Node) -> Node {
        let mut v = match l {
            Node::Or(v) => v,
            other => vec![other],
        };
        match r {
            Node::Or(rv) => v.extend(rv),
            other => v.push(other),
        }
        Node::Or(v)
    }
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Null => f.write_str("NULL"),
            Lit::Bool(true) => f.write_str("TRUE"),
            Lit::Bool(false) => f.write_str("FALSE"),
            Lit::Int(v) => write!(f, "{v}"),
            Lit::Long(v) => write!(f, "{v}"),
            Lit::Double(v) => write!(f, "{v:?}"),
            Lit::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Const(l) => write!(f, "{l}"),
            Node::Prop(p) => f.write_str(p),
            Node::Negate(n) => write!(f, "(- {n})"),
            Node::Not(n) => write!(f, "(NOT {n})"),
            Node::BoolCast(n) => write!(f, "{n}"),
            Node::And(v) | Node::Or(v) => {
                let sep = if matches!(self, Node::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                f.write_str("(")?;
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_str(")")
            }
            Node::Cmp(op, l, r) => {
                let sym = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                };
                write!(f, "({l} {sym} {r})")
            }
            Node::In { prop, list, negated } => {
                let items: Vec<String> = list.iter().map(|s| Lit::Str(s.clone()).to_string()).collect();
                let kw = if *negated { "NOT IN" } else { "IN" };
                write!(f, "{prop} {kw} ({})", items.join(", "))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Decimal(String),
    Float(String),
    Str(String),
    Id(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Not => "NOT",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Between => "BETWEEN",
            Tok::In => "IN",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Null => "NULL",
            Tok::Is => "IS",
            Tok::Decimal(s) | Tok::Float(s) | Tok::Id(s) => return write!(f, "\"{s}\""),
            Tok::Str(s) => return write!(f, "{}", Lit::Str(s.clone())),
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Eof => return f.write_str("<EOF>"),
        };
        write!(f, "\"{s}\"")
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offset in the source.
    pos: usize,
}

fn error_at(src: &str, pos: usize, message: impl Into<String>) -> FilterError {
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    FilterError {
        line,
        column,
        message: message.into(),
    }
}

fn keyword(word: &str) -> Option<Tok> {
    const KEYWORDS: [(&str, Tok); 9] = [
        ("NOT", Tok::Not),
        ("AND", Tok::And),
        ("OR", Tok::Or),
        ("BETWEEN", Tok::Between),
        ("IN", Tok::In),
        ("TRUE", Tok::True),
        ("FALSE", Tok::False),
        ("NULL", Tok::Null),
        ("IS", Tok::Is),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, t)| t.clone())
}

fn is_id_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_id_part(b: u8) -> bool {
    is_id_start(b) || b.is_ascii_digit()
}

/// Length of a complete exponent (`E[+-]?digits`) at `s[i..]`, or 0.
fn exponent_len(s: &[u8], i: usize) -> usize {
    if !matches!(s.get(i), Some(b'e' | b'E')) {
        return 0;
    }
    let mut j = i + 1;
    if matches!(s.get(j), Some(b'+' | b'-')) {
        j += 1;
    }
    let digits = s[j.min(s.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        0
    } else {
        j + digits - i
    }
}

/// A number token starting at `i` (a digit, or `.` followed by a digit): the longest match of
/// DECIMAL_LITERAL / FLOATING_POINT_LITERAL. Returns the token and its length.
fn lex_number(s: &[u8], i: usize) -> (Tok, usize) {
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut j = i + digits;
    let text = |end: usize| String::from_utf8_lossy(&s[i..end]).into_owned();
    if s.get(j) == Some(&b'.') {
        j += 1;
        j += s[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        j += exponent_len(s, j);
        return (Tok::Float(text(j)), j - i);
    }
    let e = exponent_len(s, j);
    if e > 0 {
        return (Tok::Float(text(j + e)), j + e - i);
    }
    if s[i] == b'0' {
        // "0" is a literal of its own; "01" lexes as "0" "1" (a parse error later).
        return (Tok::Decimal("0".into()), 1);
    }
    if matches!(s.get(j), Some(b'l' | b'L')) {
        j += 1;
    }
    (Tok::Decimal(text(j)), j - i)
}

fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let s = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let start = i;
        let tok = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                i += 1;
                continue;
            }
            b'-' if s.get(i + 1) == Some(&b'-') => {
                // A line comment must end with a line break (as in the Java grammar).
                match s[i..].iter().position(|&c| c == b'\n' || c == b'\r') {
                    Some(n) => {
                        i += n + 1;
                        continue;
                    }
                    None => return Err(error_at(src, start, "Unterminated line comment (no line break)")),
                }
            }
            b'/' if s.get(i + 1) == Some(&b'*') => match src[i + 2..].find("*/") {
                Some(n) => {
                    i += 2 + n + 2;
                    continue;
                }
                None => return Err(error_at(src, start, "Unterminated comment")),
            },
            b'\'' => {
                let mut j = i + 1;
                let mut value = String::new();
                loop {
                    match src[j..].find('\'') {
                        None => return Err(error_at(src, start, "Unterminated string literal")),
                        Some(n) => {
                            value.push_str(&src[j..j + n]);
                            j += n + 1;
                            if s.get(j) == Some(&b'\'') {
                                value.push('\'');
                                j += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                i = j;
                Tok::Str(value)
            }
            b'0'..=b'9' => {
                let (t, n) = lex_number(s, i);
                i += n;
                t
            }
            b'.' if s.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (t, n) = lex_number(s, i);
                i += n;
                t
            }
            b if is_id_start(b) => {
                let n = s[i..].iter().take_while(|&&c| is_id_part(c)).count();
                let word = &src[i..i + n];
                i += n;
                keyword(word).unwrap_or_else(|| Tok::Id(word.to_string()))
            }
            b'=' => {
                i += 1;
                Tok::Eq
            }
            b'<' => match s.get(i + 1) {
                Some(b'>') => {
                    i += 2;
                    Tok::Ne
                }
                Some(b'=') => {
                    i += 2;
                    Tok::Le
                }
                _ => {
                    i += 1;
                    Tok::Lt
                }
            },
            b'>' => {
                if s.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Ge
                } else {
                    i += 1;
                    Tok::Gt
                }
            }
            b'(' | b')' | b',' | b'+' | b'-' => {
                i += 1;
                match b {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    b'+' => Tok::Plus,
                    _ => Tok::Minus,
                }
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or('?');
                return Err(error_at(
                    src,
                    start,
                    format!("Lexical error: unexpected character {c:?}"),
                ));
            }
        };
        out.push(Token { tok, pos: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: s.len(),
    });
    Ok(out)
}

// --------------------------------------------------------------------------------------- parser

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

type PResult = Result<Node, FilterError>;

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.tokens[self.at.min(self.tokens.len() - 1)].clone()
    }

    fn peek2(&self) -> Tok {
        self.tokens[(self.at + 1).min(self.tokens.len() - 1)].tok.clone()
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn err(&self, pos: usize, message: impl Into<String>) -> FilterError {
        error_at(self.src, pos, message)
    }

    fn unexpected(&self, t: Token) -> FilterError {
        self.err(t.pos, format!("Encountered {}", t.tok))
    }

    fn expect(&mut self, want: Tok) -> Result<Token, FilterError> {
        let t = self.bump();
        if t.tok == want {
            Ok(t)
        } else {
            Err(self.err(t.pos, format!("Encountered {}, expected {want}", t.tok)))
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(pos, format!("Expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// `asBooleanExpression`: boolean expressions pass, a property becomes a boolean cast.
    fn as_boolean(&self, n: Node, pos: usize) -> PResult {
        if n.is_boolean() {
            Ok(n)
        } else if matches!(n, Node::Prop(_)) {
            Ok(Node::BoolCast(Box::new(n)))
        } else {
            Err(self.err(pos, format!("Expression will not result in a boolean value: {n}")))
        }
    }

    fn or(&mut self) -> PResult {
        let mut left = self.and()?;
        while self.peek().tok == Tok::Or {
            let op = self.bump();
            let right = self.and()?;
            left = Node::or(self.as_boolean(left, op.pos)?, self.as_boolean(right, op.pos)?);
        }
        Ok(left)
    }

    fn and(&mut self) -> PResult {
        let mut left = self.equality()?;
        while self.peek().tok == Tok::And {
            let op = self.bump();
            let right = self.equality()?;
            left = Node::and(self.as_boolean(left, op.pos)?, self.as_boolean(right, op.pos)?);
        }
        Ok(left)
    }

    fn equality(&mut self) -> PResult {
        let depth = self.depth;
        let mut left = self.comparison()?;
        loop {
            let op = self.peek();
            left = match op.tok {
                Tok::Eq | Tok::Ne => {
                    self.bump();
                    let right = self.comparison()?;
                    let eq = self.equal(left, right, op.pos)?;
                    if op.tok == Tok::Ne {
                        Node::not(eq)
                    } else {
                        eq
                    }
                }
                Tok::Is => {
                    self.bump();
                    let negated = self.peek().tok == Tok::Not;
                    if negated {
                        self.bump();
                    }
                    self.expect(Tok::Null)?;
                    let is_null = Node::cmp(CmpOp::Eq, left, Node::Const(Lit::Null));
                    if negated {
                        Node::not(is_null)
                    } else {
                        is_null
                    }
                }
                _ => break,
            };
            // Each link of an `=` chain nests the tree one level deeper.
            self.enter(op.pos)?;
        }
        self.depth = depth;
        Ok(left)
    }

    /// `createEqual`: no NULL literal operand; a boolean literal only against a boolean literal
    /// when both sides are constants.
    fn equal(&self, left: Node, right: Node, pos: usize) -> PResult {
        for n in [&left, &right] {
            if matches!(n, Node::Const(Lit::Null)) {
                return Err(self.err(pos, "'NULL' cannot be compared."));
            }
        }
        if let (Node::Const(l), Node::Const(r)) = (&left, &right) {
            if matches!(l, Lit::Bool(_)) && !matches!(r, Lit::Bool(_)) {
                return Err(self.err(pos, format!("'{l}' cannot be compared with '{r}'")));
            }
        }
        Ok(Node::cmp(CmpOp::Eq, left, right))
    }

    /// `checkLessThanOperand`: only numbers, properties and negations may be ordered.
    fn orderable(&self, n: &Node, pos: usize) -> Result<(), FilterError> {
        let ok = match n {
            Node::Const(l) => matches!(l, Lit::Int(_) | Lit::Long(_) | Lit::Double(_)),
            other => !other.is_boolean(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.err(pos, format!("Value '{n}' cannot be compared.")))
        }
    }

    fn ordered(&self, op: CmpOp, left: Node, right: Node, pos: usize) -> PResult {
        self.orderable(&left, pos)?;
        self.orderable(&right, pos)?;
        Ok(Node::cmp(op, left, right))
    }

    fn comparison(&mut self) -> PResult {
        let mut left = self.unary()?;
        loop {
            let op = self.peek();
            let cmp = match op.tok {
                Tok::Gt => Some(CmpOp::Gt),
                Tok::Ge => Some(CmpOp::Ge),
                Tok::Lt => Some(CmpOp::Lt),
                Tok::Le => Some(CmpOp::Le),
                _ => None,
            };
            if let Some(cmp) = cmp {
                self.bump();
                let right = self.unary()?;
                left = self.ordered(cmp, left, right, op.pos)?;
                continue;
            }
            let negated = op.tok == Tok::Not && matches!(self.peek2(), Tok::Between | Tok::In);
            if negated {
                self.bump();
            }
            let kw = self.peek();
            left = match kw.tok {
                Tok::Between => {
                    self.bump();
                    let low = self.unary()?;
                    self.expect(Tok::And)?;
                    let high = self.unary()?;
                    self.between(left, low, high, negated, kw.pos)?
                }
                Tok::In => {
                    self.bump();
                    let list = self.string_list()?;
                    match left {
                        Node::Prop(prop) => Node::In { prop, list, negated },
                        other => {
                            return Err(self.err(
                                kw.pos,
                                format!("Expected a property for In expression, got: {other}"),
                            ))
                        }
                    }
                }
                _ => break,
            };
        }
        Ok(left)
    }

    fn between(&self, value: Node, low: Node, high: Node, negated: bool, pos: usize) -> PResult {
        if negated {
            let lt = self.ordered(CmpOp::Lt, value.clone(), low, pos)?;
            let gt = self.ordered(CmpOp::Gt, value, high, pos)?;
            return Ok(Node::or(lt, gt));
        }
        if let (Node::Const(l), Node::Const(h)) = (&low, &high) {
            if matches!(l, Lit::Null) || matches!(h, Lit::Null) {
                return Err(self.err(pos, "Illegal values of between, values can not be null!"));
            }
            let order = eval::compare(&eval::lit_value(h), &eval::lit_value(l))
                .map_err(|e| self.err(pos, format!("Illegal values of between: {e}")))?;
            if order.is_lt() {
                return Err(self.err(
                    pos,
                    format!("Illegal values of between, left value({l}) must less than or equal to right value({h})"),
                ));
            }
        }
        let ge = self.ordered(CmpOp::Ge, value.clone(), low, pos)?;
        let le = self.ordered(CmpOp::Le, value, high, pos)?;
        Ok(Node::and(ge, le))
    }

    fn string_list(&mut self) -> Result<Vec<String>, FilterError> {
        self.expect(Tok::LParen)?;
        let mut list = Vec::new();
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Str(s) => list.push(s),
                other => {
                    return Err(self.err(t.pos, format!("Encountered {other}, expected a string literal")))
                }
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => {}
                Tok::RParen => return Ok(list),
                other => return Err(self.err(t.pos, format!("Encountered {other}, expected \",\" or \")\""))),
            }
        }
    }

    fn unary(&mut self) -> PResult {
        let t = self.peek();
        self.enter(t.pos)?;
        let n = match t.tok {
            Tok::Plus => {
                self.bump();
                self.unary()
            }
            Tok::Minus => {
                self.bump();
                self.unary().map(|n| Node::Negate(Box::new(n)))
            }
            Tok::Not => {
                self.bump();
                let operand = self.unary()?;
                self.as_boolean(operand, t.pos).map(Node::not)
            }
            _ => self.primary(),
        };
        self.depth -= 1;
        n
    }

    fn primary(&mut self) -> PResult {
        let t = self.bump();
        Ok(match t.tok {
            Tok::Str(s) => Node::Const(Lit::Str(s)),
            Tok::Decimal(text) => Node::Const(self.decimal(&text, t.pos)?),
            Tok::Float(text) => Node::Const(self.float(&text, t.pos)?),
            Tok::True => Node::Const(Lit::Bool(true)),
            Tok::False => Node::Const(Lit::Bool(false)),
            Tok::Null => Node::Const(Lit::Null),
            Tok::Id(name) => Node::Prop(name),
            Tok::LParen => {
                let n = self.or()?;
                self.expect(Tok::RParen)?;
                n
            }
            _ => return Err(self.unexpected(t)),
        })
    }

    /// `ConstantExpression.createFromDecimal`: a Long, narrowed to Integer when it fits.
    fn decimal(&self, text: &str, pos: usize) -> Result<Lit, FilterError> {
        let digits = text.trim_end_matches(['l', 'L']);
        let v: i64 = digits.parse().map_err(|_| {
            self.err(
                pos,
                format!("For input string: \"{digits}\" (out of the Long range)"),
            )
        })?;
        Ok(match i32::try_from(v) {
            Ok(i) => Lit::Int(i),
            Err(_) => Lit::Long(v),
        })
    }

    /// `ConstantExpression.createFloat`, including its bounds check: Java rejects values above
    /// `Double.MAX_VALUE` and below `Double.MIN_VALUE` (the smallest positive double, so `0.0`
    /// too).
    fn float(&self, text: &str, pos: usize) -> Result<Lit, FilterError> {
        let v: f64 = text
            .parse()
            .map_err(|_| self.err(pos, format!("Bad floating point literal {text}")))?;
        if v > f64::MAX {
            return Err(self.err(pos, format!("{text} is greater than {:e}", f64::MAX)));
        }
        if v < f64::from_bits(1) {
            return Err(self.err(pos, format!("{text} is less than 4.9E-324")));
        }
        Ok(Lit::Double(v))
    }
}
