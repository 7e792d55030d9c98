//! The RouterOS API wire format (reference `mikrotik.md` §8.1–8.3).
//!
//! A *word* is a length prefix followed by that many bytes; a *sentence* is a run of words ended by a
//! zero-length word (a single `0x00`). Lengths use 1 to 5 bytes:
//!
//! | length                    | bytes | encoding              |
//! |---------------------------|-------|-----------------------|
//! | `< 0x80`                  | 1     | `len`                 |
//! | `< 0x4000`                | 2     | `len \| 0x8000`       |
//! | `< 0x20_0000`             | 3     | `len \| 0xC0_0000`    |
//! | `< 0x1000_0000`           | 4     | `len \| 0xE000_0000`  |
//! | otherwise (≤ `u32::MAX`)  | 5     | `0xF0` + 4-byte len   |
//!
//! First bytes `0xF1..=0xFF` are reserved control bytes: the stream is broken and the connection must be
//! dropped. Nothing here panics on hostile input; the [`Decoder`] caps word size, words per sentence and
//! bytes per sentence.

use std::fmt;

/// Default cap on one word (16 MiB).
pub const DEFAULT_MAX_WORD_LEN: usize = 16 * 1024 * 1024;
/// Default cap on the number of words in one sentence.
pub const DEFAULT_MAX_WORDS: usize = 4096;
/// Default cap on the total payload bytes of one sentence (32 MiB).
pub const DEFAULT_MAX_SENTENCE_LEN: usize = 32 * 1024 * 1024;

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A length prefix started with a reserved control byte (`0xF1..=0xFF`).
    #[error("reserved control byte 0x{0:02X} in the API stream")]
    ControlByte(u8),
    /// A word announced more bytes than the decoder accepts.
    #[error("API word of {len} bytes exceeds the limit of {max} bytes")]
    WordTooLong {
        /// Announced length.
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// A sentence has more words than the decoder accepts.
    #[error("API sentence has more than {max} words")]
    TooManyWords {
        /// Configured limit.
        max: usize,
    },
    /// A sentence carries more bytes than the decoder accepts.
    #[error("API sentence exceeds {max} bytes")]
    SentenceTooLong {
        /// Configured limit.
        max: usize,
    },
    /// A word too long for the 5-byte length prefix (more than `u32::MAX` bytes).
    #[error("cannot encode a word of {0} bytes (the API limit is 4 GiB)")]
    Unencodable(usize),
    /// A sentence without any word where a reply or command was expected.
    #[error("empty API sentence")]
    EmptySentence,
    /// The first word of a reply is not one of `!re`, `!done`, `!trap`, `!fatal`, `!empty`.
    #[error("unknown reply word {0:?}")]
    UnknownReply(String),
    /// The first word of a command does not start with `/`.
    #[error("not an API command: {0:?}")]
    NotACommand(String),
}

/// One API word (raw bytes; RouterOS itself is byte-oriented).
pub type Word = Vec<u8>;
/// One API sentence, without its terminating zero-length word.
pub type Sentence = Vec<Word>;

/// Append the length prefix for a word of `len` bytes to `out`.
pub fn encode_length(len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let n = u32::try_from(len).map_err(|_| CodecError::Unencodable(len))?;
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x4000 {
        out.extend_from_slice(&((n | 0x8000) as u16).to_be_bytes());
    } else if n < 0x20_0000 {
        out.extend_from_slice(&(n | 0xC0_0000).to_be_bytes()[1..]);
    } else if n < 0x1000_0000 {
        out.extend_from_slice(&(n | 0xE000_0000).to_be_bytes());
    } else {
        out.push(0xF0);
        out.extend_from_slice(&n.to_be_bytes());
    }
    Ok(())
}

/// Decode a length prefix at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed; `Ok(Some((len, consumed)))` gives the word length and the
/// number of prefix bytes.
pub fn decode_length(buf: &[u8]) -> Result<Option<(u32, usize)>, CodecError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    let size = match first {
        0x00..=0x7F => 1,
        0x80..=0xBF => 2,
        0xC0..=0xDF => 3,
        0xE0..=0xEF => 4,
        0xF0 => 5,
        other => return Err(CodecError::ControlByte(other)),
    };
    let Some(prefix) = buf.get(..size) else { return Ok(None) };
    let len = match size {
        1 => u32::from(first),
        2 => u32::from(u16::from_be_bytes([prefix[0], prefix[1]])) & 0x3FFF,
        3 => u32::from_be_bytes([0, prefix[0], prefix[1], prefix[2]]) & 0x1F_FFFF,
        4 => u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) & 0x0FFF_FFFF,
        _ => u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]),
    };
    Ok(Some((len, size)))
}

/// Append one word (prefix + bytes) to `out`.
pub fn encode_word(word: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_length(word.len(), out)?;
    out.extend_from_slice(word);
    Ok(())
}

/// Encode a whole sentence, including the terminating zero-length word.
///
/// Words must not be empty: an empty word would end the sentence early on the wire.
pub fn encode_sentence<W: AsRef<[u8]>>(words: &[W]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(words.iter().map(|w| w.as_ref().len() + 1).sum::<usize>() + 1);
    for word in words {
        encode_word(word.as_ref(), &mut out)?;
    }
    out.push(0);
    Ok(out)
}

/// Decode the first complete sentence of `bytes` with the default limits.
///
/// Returns the sentence and the number of bytes it used, or `Ok(None)` when `bytes` ends mid-sentence.
pub fn decode_sentence(bytes: &[u8]) -> Result<Option<(Sentence, usize)>, CodecError> {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    match decoder.next_sentence()? {
        Some(sentence) => Ok(Some((sentence, decoder.consumed_total))),
        None => Ok(None),
    }
}

/// Limits applied by the [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted word, in bytes.
    pub max_word_len: usize,
    /// Most words accepted in one sentence.
    pub max_words: usize,
    /// Most payload bytes accepted in one sentence (sum of its word lengths).
    pub max_sentence_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_word_len: DEFAULT_MAX_WORD_LEN,
            max_words: DEFAULT_MAX_WORDS,
            max_sentence_len: DEFAULT_MAX_SENTENCE_LEN,
        }
    }
}

/// Incremental sentence decoder: feed bytes as they arrive, take sentences as they complete.
///
/// After an error the decoder stays failed (every later call returns the same error): the stream is out of
/// sync and the connection should be closed.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    words: Sentence,
    sentence_len: usize,
    failed: Option<CodecError>,
    consumed_total: usize,
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with explicit limits.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder { limits, ..Self::default() }
    }

    /// Append received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Take the next complete sentence, if one is buffered.
    pub fn next_sentence(&mut self) -> Result<Option<Sentence>, CodecError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.step() {
            Ok(found) => {
                self.compact();
                Ok(found)
            }
            Err(err) => {
                self.failed = Some(err.clone());
                self.buf = Vec::new();
                self.pos = 0;
                self.words = Vec::new();
                Err(err)
            }
        }
    }

    /// Feed `data` and return every sentence completed by it.
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<Sentence>, CodecError> {
        self.feed(data);
        let mut out = Vec::new();
        while let Some(sentence) = self.next_sentence()? {
            out.push(sentence);
        }
        Ok(out)
    }

    /// True when no partial sentence is buffered.
    pub fn is_idle(&self) -> bool {
        self.words.is_empty() && self.pos == self.buf.len()
    }

    /// Bytes received but not yet part of a returned sentence or completed word.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn step(&mut self) -> Result<Option<Sentence>, CodecError> {
        loop {
            let avail = &self.buf[self.pos..];
            let Some((len, prefix)) = decode_length(avail)? else { return Ok(None) };
            if len == 0 {
                self.pos += prefix;
                self.consumed_total += prefix;
                self.sentence_len = 0;
                return Ok(Some(std::mem::take(&mut self.words)));
            }
            let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
            if len_usize > self.limits.max_word_len {
                return Err(CodecError::WordTooLong { len: u64::from(len), max: self.limits.max_word_len });
            }
            if self.words.len() >= self.limits.max_words {
                return Err(CodecError::TooManyWords { max: self.limits.max_words });
            }
            if self.sentence_len.saturating_add(len_usize) > self.limits.max_sentence_len {
                return Err(CodecError::SentenceTooLong { max: self.limits.max_sentence_len });
            }
            let Some(word) = avail.get(prefix..prefix + len_usize) else { return Ok(None) };
            self.words.push(word.to_vec());
            self.pos += prefix + len_usize;
            self.consumed_total += prefix + len_usize;
            self.sentence_len += len_usize;
        }
    }

    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= 64 * 1024 || self.pos > self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

/// The kind of a reply sentence (its first word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// `!re`: one row of data.
    Re,
    /// `!done`: the command finished (may carry `=ret=`).
    Done,
    /// `!trap`: the command failed (`=message=`, optional `=category=`); `!done` still follows.
    Trap,
    /// `!fatal`: the router closes the connection.
    Fatal,
    /// `!empty`: RouterOS 7.18+, the command produced no data; `!done` follows.
    Empty,
}

impl ReplyKind {
    /// The reply word, e.g. `"!done"`.
    pub fn word(self) -> &'static str {
        match self {
            ReplyKind::Re => "!re",
            ReplyKind::Done => "!done",
            ReplyKind::Trap => "!trap",
            ReplyKind::Fatal => "!fatal",
            ReplyKind::Empty => "!empty",
        }
    }

    /// Parse a reply word.
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "!re" => ReplyKind::Re,
            "!done" => ReplyKind::Done,
            "!trap" => ReplyKind::Trap,
            "!fatal" => ReplyKind::Fatal,
            "!empty" => ReplyKind::Empty,
            _ => return None,
        })
    }
}

impl fmt::Display for ReplyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A parsed reply sentence.
///
/// `!fatal` carries its reason as a bare word (`!fatal` / `not logged in`); it is stored as the attribute
/// `("message", reason)` so every error kind reads the same way. Other bare words are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Reply kind.
    pub kind: ReplyKind,
    /// The `.tag=` of the command this answers, if the command was tagged.
    pub tag: Option<String>,
    /// `=key=value` attribute words, in order.
    pub attrs: Vec<(String, String)>,
}

impl Reply {
    /// A reply without attributes.
    pub fn new(kind: ReplyKind, tag: Option<String>) -> Self {
        Reply { kind, tag, attrs: Vec::new() }
    }

    /// Parse a decoded sentence (bytes are read as UTF-8, invalid sequences replaced).
    pub fn parse<W: AsRef<[u8]>>(words: &[W]) -> Result<Reply, CodecError> {
        let Some((first, rest)) = words.split_first() else { return Err(CodecError::EmptySentence) };
        let first = String::from_utf8_lossy(first.as_ref());
        let kind = ReplyKind::from_word(&first).ok_or_else(|| CodecError::UnknownReply(first.into_owned()))?;
        let mut reply = Reply::new(kind, None);
        for word in rest {
            let word = String::from_utf8_lossy(word.as_ref());
            if let Some(tag) = word.strip_prefix(".tag=") {
                reply.tag = Some(tag.to_owned());
            } else if let Some((key, value)) = split_attribute(&word) {
                reply.attrs.push((key.to_owned(), value.to_owned()));
            } else if kind == ReplyKind::Fatal {
                reply.attrs.push(("message".to_owned(), word.into_owned()));
            }
        }
        Ok(reply)
    }

    /// The first value of attribute `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Add an attribute (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.push((key.into(), value.into()));
        self
    }

    /// The words of this reply (`!fatal` puts its `message` back as a bare word).
    pub fn to_words(&self) -> Vec<String> {
        let mut words = vec![self.kind.word().to_owned()];
        for (key, value) in &self.attrs {
            if self.kind == ReplyKind::Fatal && key == "message" {
                words.push(value.clone());
            } else {
                words.push(format!("={key}={value}"));
            }
        }
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}"));
        }
        words
    }

    /// The encoded sentence.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        encode_sentence(&self.to_words())
    }
}

/// A parsed command sentence, as the router (or the simulator) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Command path, e.g. `/ip/address/print`.
    pub path: String,
    /// `=key=value` attribute words, in order.
    pub attrs: Vec<(String, String)>,
    /// Query words without their leading `?` (`interface=bridge`, `-disabled`, `#|`, `=name=x`), in order.
    pub queries: Vec<String>,
    /// `.tag=` value.
    pub tag: Option<String>,
}

impl Request {
    /// A request for `path` without arguments.
    pub fn new(path: impl Into<String>) -> Self {
        Request { path: path.into(), ..Self::default() }
    }

    /// Parse a decoded sentence.
    pub fn parse<W: AsRef<[u8]>>(words: &[W]) -> Result<Request, CodecError> {
        let Some((first, rest)) = words.split_first() else { return Err(CodecError::EmptySentence) };
        let path = String::from_utf8_lossy(first.as_ref()).into_owned();
        if !path.starts_with('/') {
            return Err(CodecError::NotACommand(path));
        }
        let mut req = Request::new(path);
        for word in rest {
            let word = String::from_utf8_lossy(word.as_ref());
            if let Some(tag) = word.strip_prefix(".tag=") {
                req.tag = Some(tag.to_owned());
            } else if let Some(query) = word.strip_prefix('?') {
                req.queries.push(query.to_owned());
            } else if let Some((key, value)) = split_attribute(&word) {
                req.attrs.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(req)
    }

    /// The first value of attribute `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The words of this request.
    pub fn to_words(&self) -> Vec<String> {
        let mut words = Vec::with_capacity(2 + self.attrs.len() + self.queries.len());
        words.push(self.path.clone());
        words.extend(self.attrs.iter().map(|(k, v)| format!("={k}={v}")));
        words.extend(self.queries.iter().map(|q| format!("?{q}")));
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}"));
        }
        words
    }
}

/// Split an attribute word `=key=value` into `(key, value)`. The value may be empty and may contain `=`;
/// `=key` without a second `=` reads as an empty value.
pub fn split_attribute(word: &str) -> Option<(&str, &str)> {
    let body = word.strip_prefix('=')?;
    match body.split_once('=') {
        Some((key, value)) if !key.is_empty() => Some((key, value)),
        Some(_) => None,
        None if !body.is_empty() => Some((body, "")),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc_len(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_length(len, &mut out).unwrap();
        out
    }

    #[test]
    fn length_prefix_boundaries_match_the_reference() {
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x80, 0x80]),
            (0x3FFF, &[0xBF, 0xFF]),
            (0x4000, &[0xC0, 0x40, 0x00]),
            (0x1F_FFFF, &[0xDF, 0xFF, 0xFF]),
            (0x20_0000, &[0xE0, 0x20, 0x00, 0x00]),
            (0x0FFF_FFFF, &[0xEF, 0xFF, 0xFF, 0xFF]),
            (0x1000_0000, &[0xF0, 0x10, 0x00, 0x00, 0x00]),
            (0xFFFF_FFFF, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for &(len, bytes) in cases {
            assert_eq!(enc_len(len), bytes, "encoding {len:#x}");
            let (decoded, used) = decode_length(bytes).unwrap().unwrap();
            assert_eq!(decoded as usize, len, "decoding {bytes:02x?}");
            assert_eq!(used, bytes.len());
            // one byte short is "need more", never an error or a wrong answer
            assert_eq!(decode_length(&bytes[..bytes.len() - 1]).unwrap(), None);
        }
    }

    #[test]
    fn prefix_sizes_switch_exactly_at_the_boundaries() {
        for (len, size) in [(0x7F, 1), (0x80, 2), (0x3FFF, 2), (0x4000, 3), (0x1F_FFFF, 3), (0x20_0000, 4)] {
            assert_eq!(enc_len(len).len(), size, "{len:#x}");
        }
        for (len, size) in [(0x0FFF_FFFF, 4), (0x1000_0000, 5)] {
            assert_eq!(enc_len(len).len(), size, "{len:#x}");
        }
    }

    #[test]
    fn words_at_each_boundary_round_trip() {
        // Whole words (not just prefixes) for every size up to 3-byte prefixes and the first 4-byte one.
        for len in [1usize, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1F_FFFF, 0x20_0000] {
            let word = vec![b'x'; len];
            let bytes = encode_sentence(std::slice::from_ref(&word)).unwrap();
            let (sentence, used) = decode_sentence(&bytes).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(sentence, vec![word]);
        }
    }

    #[test]
    fn reserved_control_bytes_are_errors() {
        for byte in 0xF1..=0xFFu8 {
            assert_eq!(decode_length(&[byte]), Err(CodecError::ControlByte(byte)));
            let mut d = Decoder::new();
            assert_eq!(d.decode(&[0x03, b'a', b'b', b'c', byte, 1, 2]), Err(CodecError::ControlByte(byte)));
            // stays failed
            assert_eq!(d.decode(&[0x00]), Err(CodecError::ControlByte(byte)));
        }
    }

    #[test]
    fn login_example_from_the_reference() {
        let expected: Vec<u8> = vec![
            0x06, 0x2f, 0x6c, 0x6f, 0x67, 0x69, 0x6e, 0x0b, 0x3d, 0x6e, 0x61, 0x6d, 0x65, 0x3d, 0x61, 0x64, 0x6d, 0x69,
            0x6e, 0x10, 0x3d, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x3d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74,
            0x00,
        ];
        let words = ["/login", "=name=admin", "=password=secret"];
        assert_eq!(encode_sentence(&words).unwrap(), expected);
        let (sentence, used) = decode_sentence(&expected).unwrap().unwrap();
        assert_eq!(used, expected.len());
        let req = Request::parse(&sentence).unwrap();
        assert_eq!(req.path, "/login");
        assert_eq!(req.get("name"), Some("admin"));
        assert_eq!(req.get("password"), Some("secret"));
        assert_eq!(req.tag, None);
    }

    fn reply(words: &[&str]) -> Reply {
        let bytes = encode_sentence(words).unwrap();
        let (sentence, _) = decode_sentence(&bytes).unwrap().unwrap();
        Reply::parse(&sentence).unwrap()
    }

    #[test]
    fn reply_examples_from_the_reference() {
        let r = reply(&["!done", "=ret=856780b7411eefd3abadee2058c149a3"]);
        assert_eq!(r.kind, ReplyKind::Done);
        assert_eq!(r.get("ret"), Some("856780b7411eefd3abadee2058c149a3"));

        let r = reply(&["!re", "=.id=*1", "=disabled=yes", "=name=ether1", "=mtu=1500", ".tag=2"]);
        assert_eq!(r.kind, ReplyKind::Re);
        assert_eq!(r.tag.as_deref(), Some("2"));
        assert_eq!(r.get(".id"), Some("*1"));
        assert_eq!(r.attrs.len(), 4);

        let r = reply(&["!trap", "=category=0", "=message=no such command prefix", ".tag=7"]);
        assert_eq!(r.kind, ReplyKind::Trap);
        assert_eq!(r.get("category"), Some("0"));
        assert_eq!(r.get("message"), Some("no such command prefix"));

        let r = reply(&["!fatal", "not logged in"]);
        assert_eq!(r.kind, ReplyKind::Fatal);
        assert_eq!(r.get("message"), Some("not logged in"));
        assert_eq!(r.to_words(), vec!["!fatal", "not logged in"]);

        let r = reply(&["!empty", ".tag=4"]);
        assert_eq!(r, Reply::new(ReplyKind::Empty, Some("4".into())));

        // values may be empty and may contain '='
        let r = reply(&["!re", "=comment=", "=script=:put a=b"]);
        assert_eq!(r.attrs, vec![("comment".into(), "".into()), ("script".into(), ":put a=b".into())]);

        assert!(matches!(Reply::parse(&[b"!bogus".to_vec()]), Err(CodecError::UnknownReply(_))));
        assert_eq!(Reply::parse::<Vec<u8>>(&[]), Err(CodecError::EmptySentence));
    }

    #[test]
    fn request_round_trips_through_words() {
        let req = Request {
            path: "/ip/address/print".into(),
            attrs: vec![(".proplist".into(), "address,.id".into())],
            queries: vec!["interface=bridge".into(), "-disabled".into(), "#|".into()],
            tag: Some("12".into()),
        };
        let bytes = encode_sentence(&req.to_words()).unwrap();
        let (sentence, _) = decode_sentence(&bytes).unwrap().unwrap();
        assert_eq!(Request::parse(&sentence).unwrap(), req);
        assert!(matches!(Request::parse(&[b"!done".to_vec()]), Err(CodecError::NotACommand(_))));
    }

    #[test]
    fn limits_are_enforced_before_buffering() {
        let limits = Limits { max_word_len: 10, max_words: 3, max_sentence_len: 25 };
        // oversized word: rejected from the prefix alone
        let mut d = Decoder::with_limits(limits);
        assert_eq!(d.decode(&[0x0B]), Err(CodecError::WordTooLong { len: 11, max: 10 }));
        // a 5-byte prefix announcing 4 GiB
        let mut d = Decoder::with_limits(limits);
        assert!(matches!(d.decode(&[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]), Err(CodecError::WordTooLong { .. })));
        // too many words
        let mut d = Decoder::with_limits(limits);
        let bytes = encode_sentence(&["a", "b", "c", "d"]).unwrap();
        assert_eq!(d.decode(&bytes), Err(CodecError::TooManyWords { max: 3 }));
        // too many bytes in a sentence
        let mut d = Decoder::with_limits(limits);
        let bytes = encode_sentence(&["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"]).unwrap();
        assert_eq!(d.decode(&bytes), Err(CodecError::SentenceTooLong { max: 25 }));
        // exactly at the limits is fine
        let mut d = Decoder::with_limits(limits);
        let bytes = encode_sentence(&["aaaaaaaaaa", "bbbbbbbbbb", "ccccc"]).unwrap();
        assert_eq!(d.decode(&bytes).unwrap().len(), 1);
        assert!(d.is_idle());
    }

    #[test]
    fn default_limit_rejects_a_word_over_16_mib() {
        let mut d = Decoder::new();
        let mut prefix = Vec::new();
        encode_length(DEFAULT_MAX_WORD_LEN + 1, &mut prefix).unwrap();
        assert!(matches!(d.decode(&prefix), Err(CodecError::WordTooLong { .. })));
        let mut d = Decoder::new();
        let mut prefix = Vec::new();
        encode_length(DEFAULT_MAX_WORD_LEN, &mut prefix).unwrap();
        assert_eq!(d.decode(&prefix).unwrap(), Vec::<Sentence>::new());
        assert!(!d.is_idle());
    }

    #[test]
    fn several_sentences_in_one_chunk_and_split_prefixes() {
        let mut bytes = encode_sentence(&["!re", "=a=1"]).unwrap();
        bytes.extend(encode_sentence(&[vec![b'z'; 300]]).unwrap());
        bytes.extend(encode_sentence(&["!done"]).unwrap());
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for byte in &bytes {
            got.extend(d.decode(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[1][0].len(), 300);
        assert!(d.is_idle());
        assert_eq!(d.buffered(), 0);
    }

    fn word_strategy() -> impl Strategy<Value = Word> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 1..200),
            1 => proptest::collection::vec(any::<u8>(), 0x3F00..0x4100),
        ]
    }

    fn sentences_strategy() -> impl Strategy<Value = Vec<Sentence>> {
        proptest::collection::vec(proptest::collection::vec(word_strategy(), 0..8), 1..5)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut d = Decoder::with_limits(Limits { max_word_len: 1024, max_words: 16, max_sentence_len: 2048 });
            let _ = d.decode(&data);
            let _ = d.next_sentence();
            let mut d = Decoder::new();
            for chunk in data.chunks(7) {
                if let Ok(sentences) = d.decode(chunk) {
                    for s in sentences {
                        let _ = Reply::parse(&s);
                        let _ = Request::parse(&s);
                    }
                }
            }
            let _ = decode_length(&data);
            let _ = decode_sentence(&data);
        }

        #[test]
        fn encode_then_decode_round_trips(sentences in sentences_strategy()) {
            let mut bytes = Vec::new();
            for s in &sentences {
                bytes.extend(encode_sentence(s).unwrap());
            }
            let mut d = Decoder::new();
            let decoded = d.decode(&bytes).unwrap();
            prop_assert_eq!(decoded, sentences);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn chunked_feeding_equals_all_at_once(
            sentences in sentences_strategy(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut bytes = Vec::new();
            for s in &sentences {
                bytes.extend(encode_sentence(s).unwrap());
            }
            let whole = Decoder::new().decode(&bytes).unwrap();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut d = Decoder::new();
            let mut chunked = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain(std::iter::once(bytes.len())) {
                chunked.extend(d.decode(&bytes[start..p]).unwrap());
                start = p;
            }
            prop_assert_eq!(chunked, whole);
        }

        #[test]
        fn chunked_garbage_fails_or_matches_whole(data in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
            let whole = Decoder::new().decode(&data);
            let p = cut.index(data.len() + 1);
            let mut d = Decoder::new();
            let chunked = d.decode(&data[..p]).and_then(|mut first| {
                first.extend(d.decode(&data[p..])?);
                Ok(first)
            });
            prop_assert_eq!(chunked, whole);
        }
    }
}
