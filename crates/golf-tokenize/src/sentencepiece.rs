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
//! Strings that look like control tokens (`<s>`) are plain text: control pieces are never merge targets. Only a
//! lone character that is itself a control piece's text becomes that piece, as in SentencePiece (its `PieceToId`
//! finds control pieces first); the piece spells nothing, so the side channel restores the character.
//!
//! A model is a stranger's file: [`SentencePiece::from_model_bytes`] checks all that encoding relies on (pieces,
//! scores, byte pieces, special pieces, the normalizer's trie and replacements), so that a model it accepts encodes
//! any text without a panic, in time and memory linear in the text.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::ops::Range;

use golf_core::protobuf::{Fields, Value};

pub(crate) const SPACE_SYMBOL: &str = "\u{2581}";

/// The longest normal piece accepted, in characters: SentencePiece's trainer makes none longer (its
/// `max_sentencepiece_length` stops at 512), and BPE's lookups cost up to this much per merge.
const MAX_PIECE_CHARS: usize = 512;
/// The largest normalizer trie accepted: `nmt_nfkc`'s is 175 KiB.
const MAX_TRIE_BYTES: usize = 1 << 20;
/// The longest normalization rule (in bytes of text it matches): `nmt_nfkc`'s is 12. A lookup never walks further,
/// so normalizing costs at most this many steps per byte of text.
const MAX_RULE_BYTES: usize = 64;
/// How much longer than the text it matches a rule's replacement may be, once its spaces are `▁`: `nmt_nfkc`'s
/// most is 11 (U+FDFA, 3 bytes, spelled out in 33, 37 with its spaces). This bounds the normalized text, and so
/// the memory a text takes, to 16 times the text: a model cannot make that much worse than the official one.
const MAX_RULE_GROWTH: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenizeError {
    #[error("not a SentencePiece model: {0}")]
    Malformed(String),
    #[error("unsupported SentencePiece model: {0}")]
    Unsupported(String),
    /// The normalizer's precompiled character map: what a text goes through before it is tokenized.
    #[error("unusable SentencePiece model: its normalizer's character map (precompiled_charsmap) {0}")]
    Normalizer(String),
    #[error("not a usable byte-level BPE tokenizer.json: {0}")]
    BadTokenizerJson(String),
    /// Without byte fallback, text outside the pieces becomes `<unk>`, which a language model cannot price: the
    /// bytes it stands for would be lost or charged by a made-up rule.
    #[error(
        "this SentencePiece model has no byte fallback, so text outside its pieces would become <unk> and could not \
         be scored; a golfer needs a tokenizer that can spell every byte, such as the official Parameter Golf sp1024"
    )]
    NoByteFallback,
    /// A byte-level vocabulary without a token for a byte this text holds (SmolLM2 has none for eleven control
    /// characters): the text cannot be spelled, so it is not scored.
    #[error(
        "this golfer's tokenizer has no token for the byte 0x{byte:02X} ({}, at byte {offset} of the text), so it \
         cannot spell this text; remove that character to score it",
        byte_kind(*byte)
    )]
    Unspellable { byte: u8, offset: usize },
}

fn byte_kind(byte: u8) -> &'static str {
    match byte {
        0..=0x1F | 0x7F => "a control character",
        0x80..=0xBF => "inside a character",
        _ => "the start of a character",
    }
}

fn malformed(what: String) -> TokenizeError {
    TokenizeError::Malformed(what)
}

/// A piece's text for a message: quoted, escaped, cut short.
fn quote(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
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

/// The normalizer's precompiled map: a Darts double-array trie over UTF-8 input and a pool of replacements,
/// checked when loaded (see [`CharsMap::check`]) so that a lookup is bounded and always lands on a character
/// boundary with a UTF-8 replacement.
#[derive(Clone, Debug)]
struct CharsMap {
    trie: Vec<u32>,
    /// NUL-terminated replacements, back to back.
    pool: String,
    /// The node a lookup starts from.
    root: usize,
}

/// A unit's parts, as Darts-clone packs them.
fn unit_offset(u: u32) -> usize {
    ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize
}

/// How many more continuation bytes a UTF-8 character needs after `b`, given `pending` still needed before it;
/// `None` where no valid UTF-8 text has `b` here (so no lookup can take that path).
fn utf8_step(pending: u8, b: u8) -> Option<u8> {
    match (pending, b) {
        (1.., 0x80..=0xbf) => Some(pending - 1),
        (1.., _) => None,
        (0, 0x00..=0x7f) => Some(0),
        (0, 0xc2..=0xdf) => Some(1),
        (0, 0xe0..=0xef) => Some(2),
        (0, 0xf0..=0xf4) => Some(3),
        (0, _) => None,
    }
}

impl CharsMap {
    fn parse(blob: &[u8]) -> Result<CharsMap, TokenizeError> {
        let bad = |what: String| TokenizeError::Normalizer(what);
        let (size, rest) =
            blob.split_first_chunk::<4>().ok_or_else(|| bad("is shorter than its 4-byte header".into()))?;
        let size = u32::from_le_bytes(*size) as usize;
        if size > rest.len() {
            return Err(bad(format!("says its trie takes {size} bytes, but only {} follow", rest.len())));
        }
        if size == 0 || !size.is_multiple_of(4) {
            return Err(bad(format!("has a trie of {size} bytes, not a whole number of 4-byte units")));
        }
        if size > MAX_TRIE_BYTES {
            return Err(bad(format!(
                "has a trie of {} KiB; the largest accepted is {} KiB (the usual nmt_nfkc one takes 175 KiB)",
                size >> 10,
                MAX_TRIE_BYTES >> 10
            )));
        }
        let (trie, pool) = rest.split_at(size);
        let (units, _) = trie.as_chunks::<4>();
        let trie: Vec<u32> = units.iter().map(|u| u32::from_le_bytes(*u)).collect();
        let pool = String::from_utf8(pool.to_vec()).map_err(|e| {
            bad(format!("has replacements that are not UTF-8 text (at byte {} of them)", e.utf8_error().valid_up_to()))
        })?;
        let root = trie.first().map_or(0, |&u| unit_offset(u));
        let map = CharsMap { trie, pool, root };
        map.check()?;
        Ok(map)
    }

    /// The child of node `node` along byte `b`: the next node, and whether a rule's key ends there.
    fn child(&self, node: usize, b: u8) -> Option<(usize, bool)> {
        let at = node ^ b as usize;
        let u = *self.trie.get(at)?;
        // A value unit has bit 31 set, so it never passes for a child.
        (u & ((1 << 31) | 0xff) == u32::from(b)).then_some((at ^ unit_offset(u), (u >> 8) & 1 == 1))
    }

    /// Where in the pool the replacement of the rule ending at `node` starts.
    fn value(&self, node: usize) -> Option<usize> {
        self.trie.get(node).map(|&u| (u & ((1 << 31) - 1)) as usize)
    }

    /// The replacement of the rule ending at `node` (checked at load: in the pool, on a character boundary).
    fn replacement(&self, node: usize) -> Option<&str> {
        let rest = self.pool.get(self.value(node)?..)?;
        rest.split('\0').next()
    }

    /// The longest rule whose key prefixes `input`: its length and replacement. Never walks more than
    /// [`MAX_RULE_BYTES`], whatever the trie holds.
    fn longest_prefix<'a>(&'a self, input: &str) -> Option<(usize, &'a str)> {
        let mut node = self.root;
        let mut best = None;
        for (i, &b) in input.as_bytes().iter().take(MAX_RULE_BYTES).enumerate() {
            let Some((next, leaf)) = self.child(node, b) else {
                break;
            };
            node = next;
            if leaf && input.is_char_boundary(i + 1) {
                if let Some(rep) = self.replacement(node) {
                    best = Some((i + 1, rep));
                }
            }
        }
        best
    }

    /// Every transition the trie holds, grouped by the node it leaves: (node, byte, next node, whether a key ends
    /// there). A unit at index `i` with label `b` can only be reached from node `i ^ b`, so there is at most one
    /// per unit, and one pass over the units finds them all.
    fn transitions(&self, nodes: usize) -> (Vec<u32>, Vec<(u8, usize, bool)>) {
        let mut from = Vec::new();
        for (i, &u) in self.trie.iter().enumerate() {
            // A value unit (bit 31) is nobody's child.
            if u & (1 << 31) == 0 {
                let b = (u & 0xff) as u8;
                from.push((i ^ b as usize, b, i ^ unit_offset(u), (u >> 8) & 1 == 1));
            }
        }
        // Counting sort by the node they leave: `start[n]..start[n + 1]` are node n's.
        let mut start = vec![0u32; nodes + 1];
        for &(node, ..) in &from {
            if let Some(c) = start.get_mut(node + 1) {
                *c += 1;
            }
        }
        for n in 1..start.len() {
            start[n] += start[n - 1];
        }
        let mut fill = start.clone();
        let mut edges = vec![(0u8, 0usize, false); from.len()];
        for (node, b, next, leaf) in from {
            if let Some(slot) = fill.get_mut(node) {
                if let Some(e) = edges.get_mut(*slot as usize) {
                    *e = (b, next, leaf);
                }
                *slot += 1;
            }
        }
        (start, edges)
    }

    /// Walks every path that UTF-8 text can take through the trie and refuses a trie with a path longer than
    /// [`MAX_RULE_BYTES`] (a loop is one), a key that ends inside a character, a replacement outside the pool or
    /// starting inside a character, or one more than [`MAX_RULE_GROWTH`] times longer than the text it matches.
    /// A state is a node and how many continuation bytes the character being read still needs (0 to 3), so this
    /// takes time and memory linear in the trie.
    fn check(&self) -> Result<(), TokenizeError> {
        let bad = |what: String| TokenizeError::Normalizer(what);
        // A node past the last 256-unit block has no child in the trie.
        let nodes = self.trie.len().div_ceil(256) * 256;
        let index = |node: usize, pending: u8| (node < nodes).then(|| node * 4 + pending as usize);
        let Some(root) = index(self.root, 0) else {
            return Ok(());
        };
        let (start, edges) = self.transitions(nodes);
        let out_of = |state: usize| {
            let node = state / 4;
            let range = start.get(node).zip(start.get(node + 1)).map_or(0..0, |(&a, &b)| a as usize..b as usize);
            let pending = (state % 4) as u8;
            edges.get(range).unwrap_or_default().iter().filter_map(move |&(b, next, leaf)| {
                let next_pending = utf8_step(pending, b)?;
                Some((next, next_pending, leaf))
            })
        };

        // Breadth first: the shortest key that reaches each state, and every rule checked where it ends.
        let mut shortest = vec![u8::MAX; nodes * 4];
        shortest[root] = 0;
        let mut queue = VecDeque::from([root]);
        while let Some(state) = queue.pop_front() {
            let key = usize::from(shortest[state]) + 1;
            for (next, next_pending, leaf) in out_of(state) {
                if leaf {
                    if next_pending != 0 {
                        return Err(bad("has a rule whose key ends inside a UTF-8 character".into()));
                    }
                    let at = self.value(next).filter(|&at| self.pool.is_char_boundary(at));
                    let Some(rep) = at.and_then(|_| self.replacement(next)) else {
                        return Err(bad("has a rule whose replacement starts outside its pool of replacements, or \
                                        inside a character"
                            .into()));
                    };
                    // Counted as normalized text: a space may become `▁`, three bytes.
                    let grown = rep.len() + 2 * rep.bytes().filter(|&b| b == b' ').count();
                    if grown > MAX_RULE_GROWTH * key {
                        return Err(bad(format!(
                            "has a rule that makes {grown} bytes of {key}; the most accepted is {MAX_RULE_GROWTH} \
                             times the text it replaces"
                        )));
                    }
                }
                if let Some(i) = index(next, next_pending).filter(|&i| shortest[i] == u8::MAX) {
                    if key > MAX_RULE_BYTES {
                        return Err(bad(format!("has a rule longer than {MAX_RULE_BYTES} bytes")));
                    }
                    // key <= MAX_RULE_BYTES < u8::MAX, so this fits.
                    shortest[i] = key as u8;
                    queue.push_back(i);
                }
            }
        }

        // Depth first: the longest path below each state, with the states on the current path marked. A lookup
        // walks at most that far from the root.
        const NEW: u8 = 0;
        const ON_PATH: u8 = 1;
        // DONE + h: done, and the longest path below is h bytes.
        const DONE: u8 = 2;
        let mut state = vec![NEW; nodes * 4];
        state[root] = ON_PATH;
        let too_long = || bad(format!("has a rule longer than {MAX_RULE_BYTES} bytes, or a loop"));
        // (state, transitions left to try, longest path below found so far)
        let mut stack = vec![(root, out_of(root), 0usize)];
        while let Some((_, todo, below)) = stack.last_mut() {
            let mut descend = None;
            for (next, next_pending, _) in todo.by_ref() {
                let further = match index(next, next_pending).map(|i| (i, state[i])) {
                    None => 0,
                    Some((i, NEW)) => {
                        descend = Some(i);
                        break;
                    }
                    Some((_, ON_PATH)) => return Err(too_long()),
                    Some((_, done)) => usize::from(done - DONE),
                };
                *below = (*below).max(further + 1);
            }
            let depth = stack.len() - 1;
            if let Some(i) = descend {
                if depth + 1 > MAX_RULE_BYTES {
                    return Err(too_long());
                }
                state[i] = ON_PATH;
                stack.push((i, out_of(i), 0));
                continue;
            }
            let Some((i, _, below)) = stack.pop() else {
                break;
            };
            if depth + below > MAX_RULE_BYTES {
                return Err(too_long());
            }
            // below <= MAX_RULE_BYTES, so this fits.
            state[i] = DONE + below as u8;
            if let Some((_, _, parent)) = stack.last_mut() {
                *parent = (*parent).max(below + 1);
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct SentencePiece {
    pieces: Vec<Piece>,
    /// Normal pieces: the merge targets.
    index: HashMap<String, u32>,
    /// Control, unknown and byte pieces: never merged, but `PieceToId` finds them first.
    reserved: HashMap<String, u32>,
    /// The longest normal piece, in bytes: a pair longer than this is no piece.
    max_piece_bytes: usize,
    unk_id: u32,
    bos_id: Option<u32>,
    /// The piece of each byte (byte fallback).
    byte_ids: [u32; 256],
    charsmap: Option<CharsMap>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

/// What a `.model` file says, read but not yet checked.
struct Spec {
    pieces: Vec<Piece>,
    model_type: u64,
    byte_fallback: bool,
    whitespace_as_suffix: bool,
    /// `trainer_spec` `unk_id`, `bos_id`, `eos_id`, `pad_id`, as written.
    special_ids: [(&'static str, Option<u64>); 4],
    bos_piece: String,
    charsmap: Option<Vec<u8>>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

impl Spec {
    fn read(bytes: &[u8]) -> Result<Spec, TokenizeError> {
        fn broken(what: &str) -> impl FnOnce(()) -> TokenizeError + '_ {
            move |()| malformed(format!("{what} is not a well-formed protobuf message"))
        }
        // The defaults are the proto's.
        let mut spec = Spec {
            pieces: Vec::new(),
            model_type: 1,
            byte_fallback: false,
            whitespace_as_suffix: false,
            special_ids: [("unk_id", None), ("bos_id", None), ("eos_id", None), ("pad_id", None)],
            bos_piece: "<s>".into(),
            charsmap: None,
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        for field in Fields::new(bytes) {
            match field.map_err(broken("the file"))? {
                (1, Value::Bytes(msg)) => {
                    let id = spec.pieces.len();
                    let mut piece = Piece { text: String::new(), score: 0.0, kind: PieceKind::Normal };
                    for f in Fields::new(msg) {
                        match f.map_err(broken(&format!("piece {id}")))? {
                            (1, Value::Bytes(s)) => {
                                piece.text = String::from_utf8(s.to_vec())
                                    .map_err(|_| malformed(format!("piece {id} is not UTF-8 text")))?
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
                                    _ => {
                                        return Err(malformed(format!("piece {id} has type {k}, which is none of 1-6")))
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    spec.pieces.push(piece);
                }
                (2, Value::Bytes(trainer)) => {
                    for f in Fields::new(trainer) {
                        match f.map_err(broken("trainer_spec"))? {
                            (3, Value::Varint(t)) => spec.model_type = t,
                            (24, Value::Varint(v)) => spec.whitespace_as_suffix = v != 0,
                            (35, Value::Varint(v)) => spec.byte_fallback = v != 0,
                            (n @ 40..=43, Value::Varint(v)) => {
                                if let Some(slot) = spec.special_ids.get_mut(n as usize - 40) {
                                    slot.1 = Some(v);
                                }
                            }
                            (46, Value::Bytes(s)) => spec.bos_piece = String::from_utf8_lossy(s).into_owned(),
                            _ => {}
                        }
                    }
                }
                (3, Value::Bytes(norm)) => {
                    for f in Fields::new(norm) {
                        match f.map_err(broken("normalizer_spec"))? {
                            (2, Value::Bytes(blob)) => spec.charsmap = Some(blob.to_vec()),
                            (3, Value::Varint(v)) => spec.add_dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => spec.remove_extra_whitespaces = v != 0,
                            (5, Value::Varint(v)) => spec.escape_whitespaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(spec)
    }
}

impl SentencePiece {
    /// Reads a `.model` file (a serialized `ModelProto`) and checks everything encoding relies on, so that a model
    /// this accepts encodes any text without panicking, in time and memory linear in the text.
    pub fn from_model_bytes(bytes: &[u8]) -> Result<SentencePiece, TokenizeError> {
        let spec = Spec::read(bytes)?;
        let n = spec.pieces.len();
        if n == 0 {
            return Err(malformed("it holds no pieces".into()));
        }
        if u32::try_from(n).is_err() {
            return Err(malformed(format!("it holds {n} pieces, more than token ids can number")));
        }
        if spec.model_type != 2 {
            let name = match spec.model_type {
                1 => "unigram",
                3 => "word",
                4 => "char",
                _ => "unknown",
            };
            return Err(TokenizeError::Unsupported(format!(
                "its model type is {} ({name}); only BPE models (type 2) are implemented",
                spec.model_type
            )));
        }
        if spec.whitespace_as_suffix {
            return Err(TokenizeError::Unsupported(
                "it puts the whitespace symbol after words \
                 (treat_whitespace_as_suffix), which is not implemented"
                    .into(),
            ));
        }
        for (name, id) in spec.special_ids {
            // -1 (written as 2^64 - 1) means none.
            if let Some(v) = id.filter(|&v| v != u64::MAX && v >= n as u64) {
                return Err(malformed(format!("its trainer_spec {name} is {}, but it has {n} pieces", v as i64)));
            }
        }
        let mut index = HashMap::new();
        let mut reserved = HashMap::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut unk_id = None;
        let mut byte_ids = [u32::MAX; 256];
        let mut max_piece_bytes = 0;
        for (i, p) in spec.pieces.iter().enumerate() {
            let what = || format!("piece {i} ({})", quote(&p.text));
            if p.text.is_empty() {
                return Err(malformed(format!("piece {i} is empty")));
            }
            if let Some(first) = seen.insert(&p.text, i) {
                return Err(malformed(format!("{} repeats piece {first}", what())));
            }
            if !p.score.is_finite() {
                return Err(malformed(format!("{} has the score {}, not a finite number", what(), p.score)));
            }
            let id = i as u32;
            match p.kind {
                PieceKind::Normal => {
                    if p.text.chars().count() > MAX_PIECE_CHARS {
                        return Err(malformed(format!(
                            "{} is longer than {MAX_PIECE_CHARS} characters, the most SentencePiece trains",
                            what()
                        )));
                    }
                    max_piece_bytes = max_piece_bytes.max(p.text.len());
                    index.insert(p.text.clone(), id);
                }
                PieceKind::Unknown => {
                    if let Some(first) = unk_id.replace(id) {
                        return Err(malformed(format!("{} is a second <unk> piece, after piece {first}", what())));
                    }
                    reserved.insert(p.text.clone(), id);
                }
                PieceKind::Control => {
                    reserved.insert(p.text.clone(), id);
                }
                PieceKind::Byte => {
                    // Exactly as SentencePiece writes them, `<0x0A>`: then no two pieces are the same byte.
                    let byte = crate::restore::byte_of(&p.text).filter(|b| p.text == format!("<0x{b:02X}>"));
                    let Some(b) = byte else {
                        return Err(malformed(format!("{} is a byte piece but not written <0x00> to <0xFF>", what())));
                    };
                    byte_ids[b as usize] = id;
                    reserved.insert(p.text.clone(), id);
                }
                PieceKind::UserDefined => {
                    return Err(TokenizeError::Unsupported(format!(
                        "{} is a user-defined symbol, which is not implemented",
                        what()
                    )))
                }
                PieceKind::Unused => {
                    return Err(TokenizeError::Unsupported(format!(
                        "{} is an unused piece, which is not implemented",
                        what()
                    )))
                }
            }
        }
        // SentencePiece itself refuses byte pieces without the trainer's flag, and without it would not use them.
        if !spec.byte_fallback || byte_ids.contains(&u32::MAX) {
            return Err(TokenizeError::NoByteFallback);
        }
        let unk_id = unk_id.ok_or_else(|| malformed("it has no <unk> piece".into()))?;
        // As SentencePiece's `bos_id()`: the trainer's bos_piece, if that is a control piece.
        let bos_id = reserved
            .get(&spec.bos_piece)
            .copied()
            .filter(|&id| spec.pieces.get(id as usize).is_some_and(|p| p.kind == PieceKind::Control));
        let charsmap = match spec.charsmap.as_deref() {
            Some(blob) if !blob.is_empty() => Some(CharsMap::parse(blob)?),
            _ => None,
        };
        Ok(SentencePiece {
            pieces: spec.pieces,
            index,
            reserved,
            max_piece_bytes,
            unk_id,
            bos_id,
            byte_ids,
            charsmap,
            add_dummy_prefix: spec.add_dummy_prefix,
            remove_extra_whitespaces: spec.remove_extra_whitespaces,
            escape_whitespaces: spec.escape_whitespaces,
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

    /// The piece with id `id`, if there is one.
    pub fn piece(&self, id: u32) -> Option<&Piece> {
        self.pieces.get(id as usize)
    }

    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// The text of token ids `ids`, as SentencePiece's `DecodeIds` gives it: `▁` as a space, a byte piece as its
    /// byte, `<unk>` as ` ⁇ `, control pieces as nothing, and the space of the dummy prefix (where the model adds
    /// one) dropped from the start. Bytes, not a string: byte pieces may end mid-character. An id outside the
    /// vocabulary is `None`.
    pub fn decode(&self, ids: &[u32]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let piece = self.piece(id)?;
            match piece.kind {
                PieceKind::Control => {}
                PieceKind::Unknown => out.extend_from_slice(" \u{2047} ".as_bytes()),
                PieceKind::Byte => out.extend(crate::restore::byte_of(&piece.text)),
                _ => {
                    let text = if self.escape_whitespaces {
                        piece.text.replace(SPACE_SYMBOL, " ")
                    } else {
                        piece.text.clone()
                    };
                    if out.is_empty() && self.add_dummy_prefix {
                        out.extend_from_slice(text.strip_prefix(' ').unwrap_or(&text).as_bytes());
                    } else {
                        out.extend_from_slice(text.as_bytes());
                    }
                }
            }
        }
        Some(out)
    }

    /// Looks a piece up as SentencePiece's `PieceToId` does: control, unknown and byte pieces first.
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.reserved.get(piece).or_else(|| self.index.get(piece)).copied().unwrap_or(self.unk_id)
    }

    /// One normalization step: the replacement for the longest rule prefixing `input`, or its first character;
    /// and how many bytes of `input` that consumes (at least one, on a character boundary, unless `input` is empty).
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        if let Some((len, rep)) = self.charsmap.as_ref().and_then(|m| m.longest_prefix(input)) {
            return (rep, len);
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (input.get(..len).unwrap_or(""), len)
    }

    /// The normalized text and, for each of its bytes (plus one past the end), the original byte offset.
    pub fn normalize(&self, text: &str) -> (String, Vec<usize>) {
        let mut out = String::with_capacity(text.len() + 8);
        let mut to_orig = Vec::with_capacity(text.len() + 8);
        let mut input = text;
        let mut consumed = 0usize;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (rep, n) = self.normalize_prefix(input);
                if rep != " " {
                    break;
                }
                input = input.get(n..).unwrap_or("");
                consumed += n;
            }
        }
        if input.is_empty() {
            return (String::new(), vec![consumed]);
        }
        let space = self.space();
        if self.add_dummy_prefix {
            out.push_str(space);
            to_orig.extend(std::iter::repeat_n(consumed, space.len()));
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut rep, n) = self.normalize_prefix(input);
            if prev_space {
                rep = rep.trim_start_matches(' ');
            }
            if !rep.is_empty() {
                for c in rep.chars() {
                    if self.escape_whitespaces && c == ' ' {
                        out.push_str(SPACE_SYMBOL);
                        to_orig.extend(std::iter::repeat_n(consumed, SPACE_SYMBOL.len()));
                    } else {
                        out.push(c);
                        to_orig.extend(std::iter::repeat_n(consumed, c.len_utf8()));
                    }
                }
                prev_space = rep.ends_with(' ');
            }
            consumed += n;
            input = input.get(n..).unwrap_or("");
            if !self.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while let Some(kept) = out.strip_suffix(space) {
                let len = kept.len();
                consumed = to_orig.get(len).copied().unwrap_or(consumed);
                out.truncate(len);
                to_orig.truncate(len);
            }
        }
        to_orig.push(consumed);
        (out, to_orig)
    }

    /// Token ids with their normalized and original byte ranges.
    ///
    /// As in SentencePiece, a lone character that is a control piece's text becomes that control piece (its
    /// `PieceToId` finds control pieces first); the view shows no text for it, so the side channel restores it.
    pub fn encode(&self, text: &str) -> Vec<Token> {
        let (norm, to_orig) = self.normalize(text);
        let orig = |at: usize| to_orig.get(at).copied().unwrap_or(text.len());
        let pieces = self.bpe(&norm);
        let mut tokens: Vec<Token> = Vec::with_capacity(pieces.len());
        for r in pieces {
            let piece = norm.get(r.clone()).unwrap_or("");
            let id = self.piece_to_id(piece);
            if id == self.unk_id {
                // Byte fallback: one token per UTF-8 byte of the character the vocabulary lacks.
                for (k, b) in piece.bytes().enumerate() {
                    let at = r.start + k;
                    tokens.push(Token {
                        id: self.byte_ids[b as usize],
                        norm: at..at + 1,
                        orig: orig(at)..orig(at + 1),
                    });
                }
                continue;
            }
            tokens.push(Token { id, orig: orig(r.start)..orig(r.end), norm: r });
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
                let (Some(ls), Some(rs)) = (symbols.get(l), symbols.get(r)) else {
                    return;
                };
                let size = ls.len + rs.len;
                // No piece is longer, so there is no need to hash the pair.
                if size > self.max_piece_bytes {
                    return;
                }
                let Some(&id) = norm.get(ls.start..ls.start + size).and_then(|s| self.index.get(s)) else {
                    return;
                };
                if let Some(p) = self.pieces.get(id as usize) {
                    agenda.push(Pair { score: p.score, left: l, right: r, size });
                }
            };
        for i in 1..symbols.len() {
            try_pair(&symbols, &mut agenda, Some(i - 1), Some(i));
        }
        while let Some(top) = agenda.pop() {
            let (l, r) = (top.left, top.right);
            let (Some(ls), Some(rs)) = (symbols.get(l), symbols.get(r)) else {
                continue;
            };
            // Stale: one side was merged away or grew since this pair was queued.
            if ls.len == 0 || rs.len == 0 || ls.len + rs.len != top.size {
                continue;
            }
            let (right_len, right_next) = (rs.len, rs.next);
            symbols[l].len += right_len;
            symbols[l].next = right_next;
            symbols[r].len = 0;
            if let Some(n) = right_next.and_then(|n| symbols.get_mut(n)) {
                n.prev = Some(l);
            }
            let prev = symbols[l].prev;
            try_pair(&symbols, &mut agenda, prev, Some(l));
            try_pair(&symbols, &mut agenda, Some(l), right_next);
        }
        let mut out = Vec::new();
        let mut at = if symbols.is_empty() { None } else { Some(0) };
        while let Some(s) = at.and_then(|i| symbols.get(i)) {
            out.push(s.start..s.start + s.len);
            at = s.next;
        }
        out
    }

    /// Parameter Golf's byte count for `id` after `prev` (`eval_val`): the piece's UTF-8 length without a
    /// leading `▁`, plus one for that `▁` unless `prev` is a boundary (control, unknown or unused) token. An id
    /// outside the vocabulary counts nothing.
    pub fn golf_bytes(&self, prev: u32, id: u32) -> u32 {
        let Some(p) = self.piece(id) else {
            return 0;
        };
        let boundary = |k: PieceKind| matches!(k, PieceKind::Control | PieceKind::Unknown | PieceKind::Unused);
        if boundary(p.kind) {
            return 0;
        }
        if p.kind == PieceKind::Byte {
            return 1;
        }
        match p.text.strip_prefix(SPACE_SYMBOL) {
            Some(rest) => rest.len() as u32 + u32::from(!self.piece(prev).is_some_and(|q| boundary(q.kind))),
            None => p.text.len() as u32,
        }
    }
}
