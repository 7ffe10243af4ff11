//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/` (replacing what is
//! there), from three sources:
//!
//! * the golden frames captured from the Java servers (`conformance/golden/**/*.frame`);
//! * the hex goldens of the protocol crate's tests (every string literal made only of hex digits
//!   in `crates/rmq-protocol/src/{command,message}/tests.rs`), and the SQL92 expressions of the
//!   broker's filter tests (every string literal there that compiles);
//! * a few inputs made with the real encoders: both header types, IPv6 hosts, a zlib body.
//!
//! Each blob goes to every target whose decoder accepts it. Run by `scripts/fuzz --seed` (a plain build: the
//! instrumented ones need libFuzzer's runtime, which only the targets link).

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use rmq_filter::compile;
use rmq_protocol::message::{
    body_crc, decode_batch, decode_messages_raw, encode_batch, encode_message, encode_properties,
    encode_property_map, offset_msg_id, sys_flag, zlib_compress, BatchEntry, MessageExt,
};
use rmq_protocol::{frame, LanguageCode, RemotingCommand, SerializeType};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Seeds per target, by file name.
#[derive(Default)]
struct Corpus {
    targets: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
}

impl Corpus {
    fn add(&mut self, target: &'static str, name: &str, bytes: Vec<u8>) {
        self.targets
            .entry(target)
            .or_default()
            .insert(name.to_owned(), bytes);
    }

    /// Offers `bytes` to every decoder; `name` says where it came from.
    fn offer(&mut self, name: &str, bytes: &[u8]) {
        if let Ok(Some((cmd, used))) = RemotingCommand::decode(bytes) {
            self.add("command", name, bytes.to_vec());
            // The command target also wraps its input as a bare header.
            let header = &bytes[frame::PREAMBLE_BYTES..frame::PREAMBLE_BYTES + header_len(bytes)];
            self.add("command", &format!("{name}.header"), header.to_vec());
            let mut chunked = vec![7u8];
            chunked.extend_from_slice(&bytes[..used]);
            self.add("frame", name, chunked);
            for key in ["i", "properties"] {
                if let Some(p) = cmd.ext(key) {
                    self.add("properties", &format!("{name}.{key}"), p.as_bytes().to_vec());
                }
            }
            if !cmd.body.is_empty() {
                self.offer(&format!("{name}.body"), &cmd.body.clone());
            }
        }
        if let Ok(msgs) = decode_messages_raw(bytes) {
            if !msgs.is_empty() {
                self.add("message", name, bytes.to_vec());
                for (i, m) in msgs.iter().enumerate() {
                    let props = encode_property_map(&m.properties);
                    self.add("properties", &format!("{name}.{i}"), props.into_bytes());
                }
            }
        }
        if let Ok(entries) = decode_batch(bytes) {
            if !entries.is_empty() {
                self.add("batch", name, bytes.to_vec());
                for (i, e) in entries.iter().enumerate() {
                    let props = e.properties.clone().into_bytes();
                    self.add("properties", &format!("{name}.{i}"), props);
                }
            }
        }
    }

    fn write(&self, dir: &Path) -> Result<()> {
        for (target, seeds) in &self.targets {
            let d = dir.join(target);
            if d.exists() {
                fs::remove_dir_all(&d)?;
            }
            fs::create_dir_all(&d)?;
            for (name, bytes) in seeds {
                fs::write(d.join(name), bytes)?;
            }
            println!("{target}: {} seeds", seeds.len());
        }
        Ok(())
    }
}

fn header_len(frame_bytes: &[u8]) -> usize {
    match frame::peek(frame_bytes) {
        Ok(Some(layout)) => layout.header_bytes,
        _ => 0,
    }
}

/// Every `*.frame` file under `dir`, sorted.
fn frames_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            frames_under(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "frame") {
            out.push(p);
        }
    }
    Ok(())
}

/// The contents of the plain string literals of a Rust source file (escapes left as written).
fn string_literals(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        // Skip char literals like '"' and comments' quotes are rare enough to ignore.
        if c == '"' && prev != '\'' && prev != 'r' && prev != '#' {
            let mut lit = String::new();
            let mut escaped = false;
            for c in chars.by_ref() {
                if escaped {
                    lit.push(c);
                    escaped = false;
                } else if c == '\\' {
                    lit.push(c);
                    escaped = true;
                } else if c == '"' {
                    break;
                } else {
                    lit.push(c);
                }
            }
            out.push(lit);
            prev = '"';
        } else {
            prev = c;
        }
    }
    out
}

/// Hex digits and whitespace only (at least four bytes' worth) → the bytes.
fn unhex(lit: &str) -> Option<Vec<u8>> {
    let digits: String = lit.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() < 8 || digits.len() % 2 == 1 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

fn message(born: SocketAddr, store: SocketAddr, sys_flag: i32, body: &[u8]) -> MessageExt {
    let properties: HashMap<String, String> = [
        ("TAGS", "TagA"),
        ("KEYS", "k1 k2"),
        ("UNIQ_KEY", "7F00000100002A9F0000000000001000"),
        ("WAIT", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    MessageExt {
        store_size: 0,
        body_crc: body_crc(body),
        queue_id: 3,
        flag: 0,
        queue_offset: 42,
        commit_log_offset: 4096,
        sys_flag,
        born_timestamp: 1_700_000_000_000,
        born_host: born,
        store_timestamp: 1_700_000_000_005,
        store_host: store,
        reconsume_times: 1,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        topic: "TopicTest".to_owned(),
        properties,
        msg_id: offset_msg_id(store, 4096),
    }
}

/// Inputs made with the encoders, for shapes the goldens lack.
fn encoded(corpus: &mut Corpus) -> Result<()> {
    for ty in [SerializeType::Json, SerializeType::RocketMq] {
        let mut cmd = RemotingCommand::request(310)
            .with_serialize_type(ty)
            .with_opaque(9)
            .with_remark("remark")
            .with_ext("a", "group")
            .with_ext("b", "TopicTest")
            .with_ext("i", "TAGS\u{1}TagA\u{2}KEYS\u{1}k1")
            .with_body(Bytes::from_static(b"Hello"));
        cmd.language = LanguageCode::Java;
        let mut out = BytesMut::new();
        cmd.encode(&mut out)?;
        corpus.offer(&format!("encoded-{}.frame", ty.name()), &out);
    }

    let v4 = SocketAddr::from((Ipv4Addr::new(192, 168, 0, 10), 54321));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 10911));
    let mut out = BytesMut::new();
    encode_message(&message(v4, v4, 0, b"Hi"), &mut out);
    encode_message(&message(v6, v4, 0, b"Hi"), &mut out);
    encode_message(&message(v4, v6, 0, b""), &mut out);
    corpus.offer("encoded-hosts.records", &out);

    let plain = b"a body long enough to be worth compressing, a body long enough".repeat(8);
    let zlib = zlib_compress(&plain, 5);
    let mut out = BytesMut::new();
    encode_message(&message(v4, v4, sys_flag::COMPRESSED, &zlib), &mut out);
    encode_message(
        &message(v4, v4, sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB, &zlib),
        &mut out,
    );
    corpus.offer("encoded-zlib.records", &out);

    let entries: Vec<BatchEntry> = (0..3)
        .map(|i| BatchEntry {
            flag: i,
            body: Bytes::from(format!("body-{i}")),
            properties: encode_properties(&[("KEYS", format!("k{i}")), ("WAIT", "true".to_owned())]),
        })
        .collect();
    let mut out = BytesMut::new();
    encode_batch(&entries, &mut out);
    corpus.offer("encoded.batch", &out);
    Ok(())
}

fn main() -> Result<()> {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz_dir.parent().ok_or("fuzz/ has no parent")?.to_path_buf();
    let mut corpus = Corpus::default();

    let mut frames = Vec::new();
    frames_under(&root.join("conformance/golden"), &mut frames)?;
    let mut stream = vec![5u8];
    for path in &frames {
        let bytes = fs::read(path)?;
        let name = path
            .strip_prefix(root.join("conformance/golden"))?
            .to_string_lossy()
            .replace('/', "-");
        corpus.offer(&format!("golden-{name}"), &bytes);
        stream.extend_from_slice(&bytes);
    }
    // All golden frames back to back, as one connection's byte stream.
    corpus.add("frame", "golden-stream", stream);

    for file in ["command/tests.rs", "message/tests.rs"] {
        let src = fs::read_to_string(root.join("crates/rmq-protocol/src").join(file))?;
        let stem = file.trim_end_matches("/tests.rs");
        for (i, bytes) in string_literals(&src).iter().filter_map(|l| unhex(l)).enumerate() {
            corpus.offer(&format!("test-{stem}-{i}"), &bytes);
        }
    }

    let props = "a\u{1}5\u{2}color\u{1}red\u{2}n\u{1}10\u{2}d\u{1}2.5\u{2}s\u{1}it's\u{2}TAGS\u{1}TagA";
    let src = fs::read_to_string(root.join("crates/rmq-filter/src/tests.rs"))?;
    let mut n = 0;
    for lit in string_literals(&src) {
        if lit.contains('\\') || compile(&lit).is_err() {
            continue;
        }
        let mut seed = lit.into_bytes();
        seed.push(0);
        seed.extend_from_slice(props.as_bytes());
        corpus.add("sql92", &format!("test-filter-{n}"), seed);
        n += 1;
    }

    encoded(&mut corpus)?;
    corpus.write(&fuzz_dir.join("corpus"))
}
