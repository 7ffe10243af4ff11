//! A pre-pass that turns fastjson's non-standard JSON into standard JSON
//! (docs/protocol/name-server.md#fastjson): bare object keys (`{0:"a"}` → `{"0":"a"}`) and object- or
//! array-valued keys (`{{"topic":"T"}:1}` → `{"{\"topic\":\"T\"}":1}`). Everything else is copied verbatim.

use crate::WireError;

/// Nesting limit of the pre-pass (serde_json's own limit is 128).
const MAX_DEPTH: usize = 128;

struct Pass<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
}

fn err(msg: &str, pos: usize) -> WireError {
    WireError::BadBody(format!("{msg} at byte {pos}"))
}

impl Pass<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, out: &mut String) -> Result<(), WireError> {
        self.skip_ws();
        if self.peek() != Some(b) {
            return Err(err(&format!("expected '{}'", b as char), self.pos));
        }
        self.pos += 1;
        out.push(b as char);
        Ok(())
    }

    fn value(&mut self, out: &mut String) -> Result<(), WireError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.container(out, b'}', true),
            Some(b'[') => self.container(out, b']', false),
            Some(b'"') => self.string(out),
            Some(_) => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(err("unexpected character", self.pos));
                }
                out.push_str(tok);
                Ok(())
            }
            None => Err(err("unexpected end", self.pos)),
        }
    }

    /// A bare token (number, literal, or an unquoted key): up to a delimiter.
    fn token(&mut self) -> &str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b',' | b':' | b'}' | b']' | b'{' | b'[' | b'"' | b' ' | b'\t' | b'\n' | b'\r'
            ) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn string(&mut self, out: &mut String) -> Result<(), WireError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => return Err(err("unterminated string", start)),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        let end = self.pos.min(self.s.len());
        out.push_str(self.s.get(start..end).ok_or_else(|| err("bad string", start))?);
        Ok(())
    }

    fn key(&mut self, out: &mut String) -> Result<(), WireError> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.string(out),
            Some(b'{' | b'[') => {
                let mut inner = String::new();
                self.value(&mut inner)?;
                out.push_str(&serde_json::Value::String(inner).to_string());
                Ok(())
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(err("expected an object key", self.pos));
                }
                out.push_str(&serde_json::Value::String(tok.to_owned()).to_string());
                Ok(())
            }
        }
    }

    fn container(&mut self, out: &mut String, close: u8, is_object: bool) -> Result<(), WireError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err("nesting too deep", self.pos));
        }
        let open = self.peek().ok_or_else(|| err("unexpected end", self.pos))?;
        out.push(char::from(open));
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            out.push(close as char);
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if is_object {
                self.key(out)?;
                self.expect(b':', out)?;
            }
            self.value(out)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    out.push(',');
                }
                Some(b) if b == close => {
                    self.pos += 1;
                    out.push(close as char);
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(err("expected ',' or a closing bracket", self.pos)),
            }
        }
    }
}

/// Rewrites fastjson output as standard JSON.
pub fn normalize(input: &[u8]) -> Result<String, WireError> {
    let s = std::str::from_utf8(input).map_err(|_| WireError::Utf8("JSON body"))?;
    let mut p = Pass { s, pos: 0, depth: 0 };
    let mut out = String::with_capacity(s.len() + 16);
    p.value(&mut out)?;
    p.skip_ws();
    if p.pos < s.len() {
        return Err(err("trailing characters", p.pos));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_bare_and_object_keys() {
        assert_eq!(normalize(br#"{0:"a", 1 : "b"}"#).unwrap(), r#"{"0":"a","1":"b"}"#);
        assert_eq!(
            normalize(br#"{"t":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}"#).unwrap(),
            r#"{"t":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":5}}"#
        );
        assert_eq!(
            normalize(br#"[1, "x\"}", true, null, {}]"#).unwrap(),
            r#"[1,"x\"}",true,null,{}]"#
        );
        assert_eq!(normalize("{\"é\":\"ü\"}".as_bytes()).unwrap(), "{\"é\":\"ü\"}");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            &b"{"[..],
            b"{\"a\"",
            b"{\"a\":}",
            b"[1,",
            b"\"abc",
            b"{}x",
            b"",
            b"{:1}",
            b"\"\\",
        ] {
            assert!(normalize(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(10_000);
        assert!(normalize(deep.as_bytes()).is_err());
    }
}
