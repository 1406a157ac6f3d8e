//! SentencePiece BPE encoding, exactly as `sentencepiece` (the C++ library behind the Python package) does it,
//! read straight from a `.model` file:
//!
//! 1. normalization: the precompiled character map (here `nmt_nfkc`: NFKC plus whitespace clean-up) by
//!    longest-prefix lookup in its Darts double-array trie, leading/trailing/repeated whitespace removed,
//!    spaces written as `▁`; every normalized byte remembers the original byte it came from;
//! 2. BPE: start from characters and repeatedly merge the adjacent pair whose concatenation is the vocabulary
//!    piece with the highest score (ties: leftmost);
//! 3. characters outside the vocabulary become their UTF-8 bytes, one byte piece (`<0xE3>`) each: byte
//!    fallback, which the golfers require (a model without it is refused), so encoding never yields `<unk>`.
//!
//! Strings that look like control tokens (`<s>`) are plain text: control pieces are never merge targets.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Range;

use golf_core::protobuf::{Fields, Value};

pub(crate) const SPACE_SYMBOL: &str = "\u{2581}";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenizeError {
    #[error("not a SentencePiece model: {0}")]
    Malformed(&'static str),
    #[error("unsupported SentencePiece model: {0}")]
    Unsupported(&'static str),
    #[error("not a usable byte-level BPE tokenizer.json: {0}")]
    BadTokenizerJson(String),
    /// Without byte fallback, text outside the pieces becomes `<unk>`, which a language model cannot price: the
    /// bytes it stands for would be lost or charged by a made-up rule.
    #[error(
        "this SentencePiece model has no byte fallback, so text outside its pieces would become <unk> and could not \
         be scored; a golfer needs a tokenizer that can spell every byte, such as the official Parameter Golf sp1024"
    )]
    NoByteFallback,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

#[derive(Clone, Debug)]
pub struct Piece {
    pub text: String,
    pub score: f32,
    pub kind: PieceKind,
}

/// One token, aligned to the normalized text and to the bytes of the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: u32,
    pub norm: Range<usize>,
    /// As SentencePiece reports it (`begin`/`end`): may be empty (a piece inside an expanded character), and
    /// removed whitespace at the very start and end belongs to no token.
    pub orig: Range<usize>,
}

/// The normalizer's precompiled map: a Darts double-array trie over UTF-8 input and a pool of replacements.
#[derive(Clone, Debug)]
struct CharsMap {
    trie: Vec<u32>,
    pool: Vec<u8>,
}

impl CharsMap {
    fn parse(blob: &[u8]) -> Result<CharsMap, TokenizeError> {
        let bad = TokenizeError::Malformed("precompiled_charsmap");
        let size = u32::from_le_bytes(blob.get(..4).ok_or(bad)?.try_into().unwrap()) as usize;
        let trie_bytes = blob.get(4..4 + size).ok_or(TokenizeError::Malformed("precompiled_charsmap trie"))?;
        let trie = trie_bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        Ok(CharsMap { trie, pool: blob[4 + size..].to_vec() })
    }

    /// The longest trie key that prefixes `input`: (its length, offset of its replacement in the pool).
    fn longest_prefix(&self, input: &[u8]) -> Option<(usize, usize)> {
        let unit = |pos: usize| self.trie.get(pos).copied().unwrap_or(0);
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let mut best = None;
        let mut pos = offset(unit(0));
        for (i, &byte) in input.iter().enumerate() {
            pos ^= byte as usize;
            let u = unit(pos);
            if u & ((1 << 31) | 0xff) != byte as u32 {
                break;
            }
            pos ^= offset(u);
            if (u >> 8) & 1 == 1 {
                best = Some((i + 1, (unit(pos) & ((1 << 31) - 1)) as usize));
            }
        }
        best
    }

    fn replacement(&self, at: usize) -> &[u8] {
        let rest = &self.pool[at.min(self.pool.len())..];
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    }
}

#[derive(Clone, Debug)]
pub struct SentencePiece {
    pieces: Vec<Piece>,
    /// Normal, user-defined and unused pieces: the merge targets.
    index: HashMap<String, u32>,
    reserved: HashMap<String, u32>,
    unk_id: u32,
    bos_id: Option<u32>,
    /// The piece of each byte (byte fallback).
    byte_ids: [u32; 256],
    charsmap: Option<CharsMap>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

impl SentencePiece {
    /// Reads a `.model` file (a serialized `ModelProto`).
    pub fn from_model_bytes(bytes: &[u8]) -> Result<SentencePiece, TokenizeError> {
        let malformed = |_| TokenizeError::Malformed("bad protobuf");
        let mut pieces = Vec::new();
        let (mut charsmap, mut add_dummy_prefix, mut remove_extra, mut escape) = (None, true, true, true);
        let mut model_type = 1u64;
        for field in Fields::new(bytes) {
            match field.map_err(malformed)? {
                (1, Value::Bytes(msg)) => {
                    let mut piece = Piece { text: String::new(), score: 0.0, kind: PieceKind::Normal };
                    for f in Fields::new(msg) {
                        match f.map_err(malformed)? {
                            (1, Value::Bytes(s)) => {
                                piece.text =
                                    String::from_utf8(s.to_vec()).map_err(|_| TokenizeError::Malformed("piece"))?
                            }
                            (2, Value::Fixed32(bits)) => piece.score = f32::from_bits(bits),
                            (3, Value::Varint(k)) => {
                                piece.kind = match k {
                                    1 => PieceKind::Normal,
                                    2 => PieceKind::Unknown,
                                    3 => PieceKind::Control,
                                    4 => PieceKind::UserDefined,
                                    5 => PieceKind::Unused,
                                    6 => PieceKind::Byte,
                                    _ => return Err(TokenizeError::Malformed("piece type")),
                                }
                            }
                            _ => {}
                        }
                    }
                    pieces.push(piece);
                }
                (2, Value::Bytes(trainer)) => {
                    for f in Fields::new(trainer) {
                        if let (3, Value::Varint(t)) = f.map_err(malformed)? {
                            model_type = t;
                        }
                    }
                }
                (3, Value::Bytes(norm)) => {
                    for f in Fields::new(norm) {
                        match f.map_err(malformed)? {
                            (2, Value::Bytes(blob)) if !blob.is_empty() => charsmap = Some(CharsMap::parse(blob)?),
                            (3, Value::Varint(v)) => add_dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => remove_extra = v != 0,
                            (5, Value::Varint(v)) => escape = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model_type != 2 {
            return Err(TokenizeError::Unsupported("only BPE models (model_type 2) are implemented"));
        }
        let mut index = HashMap::new();
        let mut reserved = HashMap::new();
        let mut unk_id = None;
        let mut bos_id = None;
        let mut byte_ids = [u32::MAX; 256];
        for (i, p) in pieces.iter().enumerate() {
            let i = i as u32;
            match p.kind {
                PieceKind::Normal | PieceKind::UserDefined | PieceKind::Unused => {
                    index.insert(p.text.clone(), i);
                }
                _ => {
                    reserved.insert(p.text.clone(), i);
                }
            }
            match p.kind {
                PieceKind::Unknown => unk_id = Some(i),
                PieceKind::Control if p.text == "<s>" => bos_id = Some(i),
                PieceKind::Byte => {
                    let hex = p.text.strip_prefix("<0x").and_then(|h| h.strip_suffix('>'));
                    let b = hex
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or(TokenizeError::Malformed("byte piece"))?;
                    byte_ids[b as usize] = i;
                }
                PieceKind::UserDefined => return Err(TokenizeError::Unsupported("user-defined symbols")),
                PieceKind::Unused => return Err(TokenizeError::Unsupported("unused pieces")),
                _ => {}
            }
        }
        if byte_ids.contains(&u32::MAX) {
            return Err(TokenizeError::NoByteFallback);
        }
        Ok(SentencePiece {
            pieces,
            index,
            reserved,
            unk_id: unk_id.ok_or(TokenizeError::Malformed("no <unk> piece"))?,
            bos_id,
            byte_ids,
            charsmap,
            add_dummy_prefix,
            remove_extra_whitespaces: remove_extra,
            escape_whitespaces: escape,
        })
    }

    pub(crate) fn add_dummy_prefix(&self) -> bool {
        self.add_dummy_prefix
    }

    /// How a space looks in the normalized text and the pieces: `▁`, or a plain space without escaping.
    pub(crate) fn space(&self) -> &'static str {
        if self.escape_whitespaces {
            SPACE_SYMBOL
        } else {
            " "
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn piece(&self, id: u32) -> &Piece {
        &self.pieces[id as usize]
    }

    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// Looks a piece up as SentencePiece's `PieceToId` does.
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.reserved.get(piece).or_else(|| self.index.get(piece)).copied().unwrap_or(self.unk_id)
    }

    /// One normalization step: the replacement for the longest rule prefixing `input`, or its first character.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a [u8], usize) {
        if let Some((len, at)) = self.charsmap.as_ref().and_then(|m| m.longest_prefix(input.as_bytes())) {
            return (self.charsmap.as_ref().unwrap().replacement(at), len);
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (&input.as_bytes()[..len], len)
    }

    /// The normalized text and, for each of its bytes (plus one past the end), the original byte offset.
    pub fn normalize(&self, text: &str) -> (String, Vec<usize>) {
        let mut out: Vec<u8> = Vec::with_capacity(text.len() + 8);
        let mut to_orig = Vec::with_capacity(text.len() + 8);
        let mut input = text;
        let mut consumed = 0usize;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (rep, n) = self.normalize_prefix(input);
                if rep != b" " {
                    break;
                }
                input = &input[n..];
                consumed += n;
            }
        }
        if input.is_empty() {
            return (String::new(), vec![consumed]);
        }
        let space: &[u8] = if self.escape_whitespaces { SPACE_SYMBOL.as_bytes() } else { b" " };
        if self.add_dummy_prefix {
            out.extend_from_slice(space);
            to_orig.extend(std::iter::repeat_n(consumed, space.len()));
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut rep, n) = self.normalize_prefix(input);
            while prev_space && rep.first() == Some(&b' ') {
                rep = &rep[1..];
            }
            if !rep.is_empty() {
                for &b in rep {
                    if self.escape_whitespaces && b == b' ' {
                        out.extend_from_slice(SPACE_SYMBOL.as_bytes());
                        to_orig.extend(std::iter::repeat_n(consumed, SPACE_SYMBOL.len()));
                    } else {
                        out.push(b);
                        to_orig.push(consumed);
                    }
                }
                prev_space = rep.last() == Some(&b' ');
            }
            consumed += n;
            input = &input[n..];
            if !self.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                let len = out.len() - space.len();
                consumed = to_orig[len];
                out.truncate(len);
                to_orig.truncate(len);
            }
        }
        to_orig.push(consumed);
        // The map's replacements are UTF-8 and cuts happen between them, so this cannot fail.
        (String::from_utf8(out).expect("normalized text is UTF-8"), to_orig)
    }

    /// Token ids with their normalized and original byte ranges.
    pub fn encode(&self, text: &str) -> Vec<Token> {
        let (norm, to_orig) = self.normalize(text);
        let pieces = self.bpe(&norm);
        let mut tokens: Vec<Token> = Vec::with_capacity(pieces.len());
        for r in pieces {
            let id = self.piece_to_id(&norm[r.clone()]);
            if id == self.unk_id {
                // Byte fallback: one token per UTF-8 byte of the character the vocabulary lacks.
                for (k, &b) in norm.as_bytes()[r.clone()].iter().enumerate() {
                    let at = r.start + k;
                    tokens.push(Token {
                        id: self.byte_ids[b as usize],
                        norm: at..at + 1,
                        orig: to_orig[at]..to_orig[at + 1],
                    });
                }
                continue;
            }
            tokens.push(Token { id, orig: to_orig[r.start]..to_orig[r.end], norm: r });
        }
        tokens
    }

    pub fn encode_ids(&self, text: &str) -> Vec<u32> {
        self.encode(text).into_iter().map(|t| t.id).collect()
    }

    /// BPE over the characters of normalized text: byte ranges of the final pieces.
    fn bpe(&self, norm: &str) -> Vec<Range<usize>> {
        struct Symbol {
            start: usize,
            len: usize,
            prev: Option<usize>,
            next: Option<usize>,
        }
        #[derive(PartialEq)]
        struct Pair {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Pair {}
        impl Ord for Pair {
            fn cmp(&self, o: &Self) -> Ordering {
                // Highest score first; on a tie, the leftmost pair.
                self.score.total_cmp(&o.score).then(o.left.cmp(&self.left))
            }
        }
        impl PartialOrd for Pair {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        let mut symbols: Vec<Symbol> = Vec::new();
        for (i, (start, ch)) in norm.char_indices().enumerate() {
            symbols.push(Symbol { start, len: ch.len_utf8(), prev: i.checked_sub(1), next: Some(i + 1) });
        }
        if let Some(last) = symbols.last_mut() {
            last.next = None;
        }
        let mut agenda = BinaryHeap::new();
        let try_pair =
            |symbols: &[Symbol], agenda: &mut BinaryHeap<Pair>, left: Option<usize>, right: Option<usize>| {
                let (Some(l), Some(r)) = (left, right) else {
                    return;
                };
                let size = symbols[l].len + symbols[r].len;
                if let Some(&id) = self.index.get(&norm[symbols[l].start..symbols[l].start + size]) {
                    agenda.push(Pair { score: self.pieces[id as usize].score, left: l, right: r, size });
                }
            };
        for i in 1..symbols.len() {
            try_pair(&symbols, &mut agenda, Some(i - 1), Some(i));
        }
        while let Some(top) = agenda.pop() {
            let (l, r) = (top.left, top.right);
            // Stale: one side was merged away or grew since this pair was queued.
            if symbols[l].len == 0 || symbols[r].len == 0 || symbols[l].len + symbols[r].len != top.size {
                continue;
            }
            symbols[l].len += symbols[r].len;
            symbols[r].len = 0;
            symbols[l].next = symbols[r].next;
            if let Some(n) = symbols[r].next {
                symbols[n].prev = Some(l);
            }
            try_pair(&symbols, &mut agenda, symbols[l].prev, Some(l));
            try_pair(&symbols, &mut agenda, Some(l), symbols[l].next);
        }
        let mut out = Vec::new();
        let mut at = if symbols.is_empty() { None } else { Some(0) };
        while let Some(i) = at {
            out.push(symbols[i].start..symbols[i].start + symbols[i].len);
            at = symbols[i].next;
        }
        out
    }

    /// Parameter Golf's byte count for `id` after `prev` (`eval_val`): the piece's UTF-8 length without a
    /// leading `▁`, plus one for that `▁` unless `prev` is a boundary (control, unknown or unused) token.
    pub fn golf_bytes(&self, prev: u32, id: u32) -> u32 {
        let p = &self.pieces[id as usize];
        let boundary = |k: PieceKind| matches!(k, PieceKind::Control | PieceKind::Unknown | PieceKind::Unused);
        if boundary(p.kind) {
            return 0;
        }
        if p.kind == PieceKind::Byte {
            return 1;
        }
        match p.text.strip_prefix(SPACE_SYMBOL) {
            Some(rest) => rest.len() as u32 + u32::from(!boundary(self.pieces[prev as usize].kind)),
            None => p.text.len() as u32,
        }
    }
}
