//! SentencePiece `.model` files built in the tests: a protobuf writer for `ModelProto` and a small Darts-clone
//! double-array builder for the normalizer's character map, so each test makes exactly the model it needs (a bad
//! one included) instead of committing binaries.

#![allow(dead_code)] // each test file uses part of it

pub const NORMAL: u64 = 1;
pub const UNKNOWN: u64 = 2;
pub const CONTROL: u64 = 3;
pub const USER_DEFINED: u64 = 4;
pub const UNUSED: u64 = 5;
pub const BYTE: u64 = 6;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint(out, field << 3 | wire);
}

pub fn put_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

pub fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn put_f32(out: &mut Vec<u8>, field: u64, v: f32) {
    key(out, field, 5);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

#[derive(Clone, Debug)]
pub struct Piece {
    pub text: Vec<u8>,
    pub score: f32,
    pub kind: u64,
}

pub fn piece(text: &str, score: f32, kind: u64) -> Piece {
    Piece { text: text.as_bytes().to_vec(), score, kind }
}

/// What goes into a `.model` file; `Model::new` is a minimal valid BPE model with byte fallback.
#[derive(Clone, Debug)]
pub struct Model {
    pub pieces: Vec<Piece>,
    pub model_type: u64,
    pub byte_fallback: bool,
    /// Extra `trainer_spec` fields, written as given.
    pub trainer_extra: Vec<u8>,
    pub charsmap: Option<Vec<u8>>,
    pub add_dummy_prefix: Option<bool>,
    pub remove_extra_whitespaces: Option<bool>,
    pub escape_whitespaces: Option<bool>,
}

impl Model {
    /// `<unk>`, `<s>`, `</s>`, the 256 byte pieces, then `normal` pieces with falling scores (earlier merges
    /// first, as SentencePiece's BPE trainer writes them).
    pub fn new(normal: &[&str]) -> Model {
        let mut pieces = vec![piece("<unk>", 0.0, UNKNOWN), piece("<s>", 0.0, CONTROL), piece("</s>", 0.0, CONTROL)];
        pieces.extend((0..=255u8).map(|b| piece(&format!("<0x{b:02X}>"), 0.0, BYTE)));
        pieces.extend(normal.iter().enumerate().map(|(i, t)| piece(t, -(i as f32), NORMAL)));
        Model {
            pieces,
            model_type: 2,
            byte_fallback: true,
            trainer_extra: Vec::new(),
            charsmap: None,
            add_dummy_prefix: None,
            remove_extra_whitespaces: None,
            escape_whitespaces: None,
        }
    }

    pub fn with_piece(mut self, p: Piece) -> Model {
        self.pieces.push(p);
        self
    }

    pub fn flags(mut self, add_dummy_prefix: bool, remove_extra_whitespaces: bool, escape_whitespaces: bool) -> Model {
        self.add_dummy_prefix = Some(add_dummy_prefix);
        self.remove_extra_whitespaces = Some(remove_extra_whitespaces);
        self.escape_whitespaces = Some(escape_whitespaces);
        self
    }

    pub fn with_charsmap(mut self, blob: Vec<u8>) -> Model {
        self.charsmap = Some(blob);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            let mut msg = Vec::new();
            put_bytes(&mut msg, 1, &p.text);
            put_f32(&mut msg, 2, p.score);
            put_varint(&mut msg, 3, p.kind);
            put_bytes(&mut out, 1, &msg);
        }
        let mut trainer = Vec::new();
        put_varint(&mut trainer, 3, self.model_type);
        put_varint(&mut trainer, 35, u64::from(self.byte_fallback));
        trainer.extend_from_slice(&self.trainer_extra);
        put_bytes(&mut out, 2, &trainer);
        let mut norm = Vec::new();
        put_bytes(&mut norm, 1, b"test");
        if let Some(blob) = &self.charsmap {
            put_bytes(&mut norm, 2, blob);
        }
        for (field, v) in [(3, self.add_dummy_prefix), (4, self.remove_extra_whitespaces), (5, self.escape_whitespaces)]
        {
            if let Some(v) = v {
                put_varint(&mut norm, field, u64::from(v));
            }
        }
        put_bytes(&mut out, 3, &norm);
        out
    }
}

/// A trie as a graph (so a test can make one that loops): each node's value (an offset into the pool) if a key
/// ends there, and its children.
#[derive(Clone, Debug, Default)]
pub struct Trie {
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub value: Option<u32>,
    pub children: Vec<(u8, usize)>,
}

impl Trie {
    /// The trie of `keys` (node 0 is the root), each key ending at a node with the value given.
    pub fn of(keys: &[(&[u8], u32)]) -> Trie {
        let mut t = Trie { nodes: vec![Node::default()] };
        for &(key, value) in keys {
            let mut at = 0;
            for &b in key {
                at = match t.nodes[at].children.iter().find(|(c, _)| *c == b) {
                    Some(&(_, next)) => next,
                    None => {
                        t.nodes.push(Node::default());
                        let next = t.nodes.len() - 1;
                        t.nodes[at].children.push((b, next));
                        next
                    }
                };
            }
            t.nodes[at].value = Some(value);
        }
        t
    }

    /// Darts-clone units: node n's children live in block n + 1 (the unit for label c at base ^ c, the value at
    /// base ^ 0), unit 0 points at the root's block, and every unused unit has a label no lookup can match.
    pub fn units(&self) -> Vec<u32> {
        let base = |n: usize| 256 * (n + 1);
        let mut units: Vec<u32> = (0..base(self.nodes.len())).map(|i| (i as u32 & 0xff) ^ 1).collect();
        let link = |at: usize, to: usize| {
            let offset = at ^ base(to);
            assert!(offset < 1 << 21, "test trie too big for short offsets");
            (offset as u32) << 10
        };
        units[0] = link(0, 0);
        for (n, node) in self.nodes.iter().enumerate() {
            if let Some(v) = node.value {
                units[base(n)] = 1 << 31 | v;
            }
            for &(c, to) in &node.children {
                assert_ne!(c, 0, "the value sits at label 0");
                let at = base(n) ^ c as usize;
                let leaf = u32::from(self.nodes[to].value.is_some());
                units[at] = u32::from(c) | leaf << 8 | link(at, to);
            }
        }
        units
    }
}

/// A precompiled_charsmap blob: the trie's size, its units, then the pool, as SentencePiece writes it.
pub fn charsmap_blob(units: &[u32], pool: &[u8]) -> Vec<u8> {
    let mut out = ((units.len() * 4) as u32).to_le_bytes().to_vec();
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out.extend_from_slice(pool);
    out
}

/// The charsmap of normalization rules (key -> replacement).
pub fn charsmap(rules: &[(&str, &str)]) -> Vec<u8> {
    let mut pool = Vec::new();
    let mut keys = Vec::new();
    for (key, rep) in rules {
        keys.push((key.as_bytes(), pool.len() as u32));
        pool.extend_from_slice(rep.as_bytes());
        pool.push(0);
    }
    charsmap_blob(&Trie::of(&keys).units(), &pool)
}
