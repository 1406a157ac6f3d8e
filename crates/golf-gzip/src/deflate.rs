//! A bit-exact port of zlib 1.2.13's DEFLATE encoder at level 9 (`deflate_slow` + `trees.c`), raw stream.
//!
//! Why our own: flate2's pure-Rust backends (zlib-rs follows zlib-ng; miniz_oxide) choose different matches
//! and blocks, so their streams differ from `zlib.compressobj(9, DEFLATED, -15)` (8,569 vs 8,537 bytes on
//! FineWeb's first documents). Scoring must equal real zlib to the bit, natively and in wasm, so we replicate
//! its algorithm: same hash, same lazy matching, same block splitting, same Huffman tree construction.
//!
//! The encoder owns its input and can pause between symbols ([`Deflater::advance`]); pausing does not change
//! the output, so the page can compress a large text in bounded steps.

// Index loops are kept as zlib writes them, so the port can be read side by side with trees.c.
#![allow(clippy::needless_range_loop)]

const WSIZE: usize = 32 * 1024;
const W_MASK: usize = WSIZE - 1;
const WINDOW_SIZE: usize = 2 * WSIZE;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
const MIN_LOOKAHEAD: usize = MAX_MATCH + MIN_MATCH + 1;
const MAX_DIST: usize = WSIZE - MIN_LOOKAHEAD;
const WIN_INIT: usize = MAX_MATCH;
// memLevel 8: hash_bits = memLevel + 7, lit_bufsize = 1 << (memLevel + 6).
const HASH_BITS: u32 = 15;
const HASH_MASK: u32 = (1 << HASH_BITS) - 1;
const HASH_SHIFT: u32 = HASH_BITS.div_ceil(MIN_MATCH as u32);
const LIT_BUFSIZE: usize = 1 << 14;
/// A block is flushed when it holds `lit_bufsize - 1` symbols (zlib >= 1.2.12's `sym_end`).
const SYM_LIMIT: usize = LIT_BUFSIZE - 1;
const TOO_FAR: usize = 4096;
// configuration_table[9]: good_length, max_lazy, nice_length, max_chain.
const GOOD_MATCH: usize = 32;
const MAX_LAZY: usize = 258;
const NICE_MATCH: usize = 258;
const MAX_CHAIN: usize = 4096;

const LENGTH_CODES: usize = 29;
const LITERALS: usize = 256;
const L_CODES: usize = LITERALS + 1 + LENGTH_CODES;
const D_CODES: usize = 30;
const BL_CODES: usize = 19;
const HEAP_SIZE: usize = 2 * L_CODES + 1;
const MAX_BITS: usize = 15;
const MAX_BL_BITS: usize = 7;
const END_BLOCK: usize = 256;
const REP_3_6: usize = 16;
const REPZ_3_10: usize = 17;
const REPZ_11_138: usize = 18;

pub(crate) const EXTRA_LBITS: [u8; LENGTH_CODES] =
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
pub(crate) const EXTRA_DBITS: [u8; D_CODES] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const EXTRA_BLBITS: [u8; BL_CODES] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
pub(crate) const BL_ORDER: [usize; BL_CODES] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// The static tables zlib builds in `tr_static_init`.
struct Tables {
    length_code: [u8; 256],
    dist_code: [u8; 512],
    base_length: [u16; LENGTH_CODES],
    base_dist: [u16; D_CODES],
    static_ltree: [(u16, u16); L_CODES + 2],
    static_dtree: [(u16, u16); D_CODES],
}

impl Tables {
    fn new() -> Tables {
        let mut t = Tables {
            length_code: [0; 256],
            dist_code: [0; 512],
            base_length: [0; LENGTH_CODES],
            base_dist: [0; D_CODES],
            static_ltree: [(0, 0); L_CODES + 2],
            static_dtree: [(0, 0); D_CODES],
        };
        let mut length = 0usize;
        for code in 0..LENGTH_CODES - 1 {
            t.base_length[code] = length as u16;
            for _ in 0..1 << EXTRA_LBITS[code] {
                t.length_code[length] = code as u8;
                length += 1;
            }
        }
        // Length 258 (index 255) gets its own code, 28, overwriting code 27's last entry.
        t.length_code[length - 1] = (LENGTH_CODES - 1) as u8;
        let mut dist = 0usize;
        for code in 0..16 {
            t.base_dist[code] = dist as u16;
            for _ in 0..1 << EXTRA_DBITS[code] {
                t.dist_code[dist] = code as u8;
                dist += 1;
            }
        }
        dist >>= 7;
        for code in 16..D_CODES {
            t.base_dist[code] = (dist << 7) as u16;
            for _ in 0..1 << (EXTRA_DBITS[code] - 7) {
                t.dist_code[256 + dist] = code as u8;
                dist += 1;
            }
        }
        let mut bl_count = [0u16; MAX_BITS + 1];
        let mut lens = [0u16; L_CODES + 2];
        for (n, l) in lens.iter_mut().enumerate() {
            *l = match n {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
            bl_count[*l as usize] += 1;
        }
        let codes = gen_codes(&lens, L_CODES + 1, &bl_count);
        for n in 0..L_CODES + 2 {
            t.static_ltree[n] = (codes[n], lens[n]);
        }
        for n in 0..D_CODES {
            t.static_dtree[n] = (bi_reverse(n as u32, 5) as u16, 5);
        }
        t
    }

    fn d_code(&self, dist: usize) -> usize {
        if dist < 256 {
            self.dist_code[dist] as usize
        } else {
            self.dist_code[256 + (dist >> 7)] as usize
        }
    }
}

fn bi_reverse(code: u32, len: usize) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Canonical codes from code lengths (`gen_codes`).
fn gen_codes(lens: &[u16], max_code: usize, bl_count: &[u16; MAX_BITS + 1]) -> Vec<u16> {
    let mut next_code = [0u32; MAX_BITS + 1];
    let mut code = 0u32;
    for bits in 1..=MAX_BITS {
        code = (code + bl_count[bits - 1] as u32) << 1;
        next_code[bits] = code;
    }
    let mut codes = vec![0u16; lens.len()];
    for n in 0..=max_code {
        let len = lens[n] as usize;
        if len != 0 {
            codes[n] = bi_reverse(next_code[len], len) as u16;
            next_code[len] += 1;
        }
    }
    codes
}

/// A dynamic tree (`ct_data[]` + its `tree_desc`). zlib keeps freq/code and dad/len in unions; we keep both.
struct Tree {
    freq: Vec<u32>,
    code: Vec<u16>,
    len: Vec<u16>,
    dad: Vec<u16>,
    max_code: usize,
}

impl Tree {
    fn new(size: usize) -> Tree {
        Tree { freq: vec![0; size], code: vec![0; size], len: vec![0; size], dad: vec![0; size], max_code: 0 }
    }
}

struct StaticDesc<'a> {
    stree: Option<&'a [(u16, u16)]>,
    extra: &'a [u8],
    base: usize,
    elems: usize,
    max_length: usize,
}

/// Scratch shared by the three trees of a block (`heap`, `depth`, `bl_count`, `opt_len`, `static_len`).
struct TreeBuilder {
    heap: [usize; HEAP_SIZE],
    heap_len: usize,
    heap_max: usize,
    depth: [u8; HEAP_SIZE],
    bl_count: [u16; MAX_BITS + 1],
    opt_len: u64,
    static_len: u64,
}

impl TreeBuilder {
    fn smaller(&self, tree: &Tree, n: usize, m: usize) -> bool {
        tree.freq[n] < tree.freq[m] || (tree.freq[n] == tree.freq[m] && self.depth[n] <= self.depth[m])
    }

    fn pqdownheap(&mut self, tree: &Tree, mut k: usize) {
        let v = self.heap[k];
        let mut j = k << 1;
        while j <= self.heap_len {
            if j < self.heap_len && self.smaller(tree, self.heap[j + 1], self.heap[j]) {
                j += 1;
            }
            if self.smaller(tree, v, self.heap[j]) {
                break;
            }
            self.heap[k] = self.heap[j];
            k = j;
            j <<= 1;
        }
        self.heap[k] = v;
    }

    fn build_tree(&mut self, tree: &mut Tree, desc: &StaticDesc) {
        let elems = desc.elems;
        let mut max_code: isize = -1;
        self.heap_len = 0;
        self.heap_max = HEAP_SIZE;
        for n in 0..elems {
            if tree.freq[n] != 0 {
                self.heap_len += 1;
                self.heap[self.heap_len] = n;
                max_code = n as isize;
                self.depth[n] = 0;
            } else {
                tree.len[n] = 0;
            }
        }
        // The pkzip format needs at least one distance code and at least two codes of some kind.
        while self.heap_len < 2 {
            let node = if max_code < 2 {
                max_code += 1;
                max_code as usize
            } else {
                0
            };
            self.heap_len += 1;
            self.heap[self.heap_len] = node;
            tree.freq[node] = 1;
            self.depth[node] = 0;
            self.opt_len = self.opt_len.wrapping_sub(1);
            if let Some(stree) = desc.stree {
                self.static_len = self.static_len.wrapping_sub(stree[node].1 as u64);
            }
        }
        tree.max_code = max_code as usize;
        for n in (1..=self.heap_len / 2).rev() {
            self.pqdownheap(tree, n);
        }
        let mut node = elems;
        loop {
            let n = self.heap[1];
            self.heap[1] = self.heap[self.heap_len];
            self.heap_len -= 1;
            self.pqdownheap(tree, 1);
            let m = self.heap[1];
            self.heap_max -= 1;
            self.heap[self.heap_max] = n;
            self.heap_max -= 1;
            self.heap[self.heap_max] = m;
            tree.freq[node] = tree.freq[n] + tree.freq[m];
            self.depth[node] = self.depth[n].max(self.depth[m]) + 1;
            tree.dad[n] = node as u16;
            tree.dad[m] = node as u16;
            self.heap[1] = node;
            node += 1;
            self.pqdownheap(tree, 1);
            if self.heap_len < 2 {
                break;
            }
        }
        self.heap_max -= 1;
        self.heap[self.heap_max] = self.heap[1];
        self.gen_bitlen(tree, desc);
        let codes = gen_codes(&tree.len, tree.max_code, &self.bl_count);
        tree.code[..=tree.max_code].copy_from_slice(&codes[..=tree.max_code]);
    }

    fn gen_bitlen(&mut self, tree: &mut Tree, desc: &StaticDesc) {
        let max_code = tree.max_code;
        let max_length = desc.max_length;
        self.bl_count = [0; MAX_BITS + 1];
        tree.len[self.heap[self.heap_max]] = 0;
        let mut overflow = 0i32;
        let mut h = self.heap_max + 1;
        while h < HEAP_SIZE {
            let n = self.heap[h];
            let mut bits = tree.len[tree.dad[n] as usize] as usize + 1;
            if bits > max_length {
                bits = max_length;
                overflow += 1;
            }
            tree.len[n] = bits as u16;
            h += 1;
            if n > max_code {
                continue;
            }
            self.bl_count[bits] += 1;
            let xbits = if n >= desc.base { desc.extra[n - desc.base] as u64 } else { 0 };
            let f = tree.freq[n] as u64;
            self.opt_len = self.opt_len.wrapping_add(f * (bits as u64 + xbits));
            if let Some(stree) = desc.stree {
                self.static_len = self.static_len.wrapping_add(f * (stree[n].1 as u64 + xbits));
            }
        }
        if overflow == 0 {
            return;
        }
        loop {
            let mut bits = max_length - 1;
            while self.bl_count[bits] == 0 {
                bits -= 1;
            }
            self.bl_count[bits] -= 1;
            self.bl_count[bits + 1] += 2;
            self.bl_count[max_length] -= 1;
            overflow -= 2;
            if overflow <= 0 {
                break;
            }
        }
        let mut h = HEAP_SIZE;
        for bits in (1..=max_length).rev() {
            let mut n = self.bl_count[bits];
            while n != 0 {
                h -= 1;
                let m = self.heap[h];
                if m > max_code {
                    continue;
                }
                if tree.len[m] as usize != bits {
                    let delta = (bits as u64).wrapping_sub(tree.len[m] as u64);
                    self.opt_len = self.opt_len.wrapping_add(delta.wrapping_mul(tree.freq[m] as u64));
                    tree.len[m] = bits as u16;
                }
                n -= 1;
            }
        }
    }
}

/// LSB-first bit packing, as zlib's `send_bits`.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    fn send(&mut self, value: u32, len: u32) {
        self.acc |= (value as u64) << self.nbits;
        self.nbits += len;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    /// Pads with zero bits to a byte boundary (`bi_windup`).
    fn windup(&mut self) {
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
        }
        self.acc = 0;
        self.nbits = 0;
    }
}

/// zlib's deflate state for one raw level-9 stream over an input it owns.
pub struct Deflater {
    input: Vec<u8>,
    next_in: usize,
    window: Vec<u8>,
    prev: Vec<u16>,
    head: Vec<u16>,
    ins_h: u32,
    strstart: usize,
    block_start: isize,
    lookahead: usize,
    insert: usize,
    high_water: usize,
    match_length: usize,
    prev_length: usize,
    match_available: bool,
    match_start: usize,
    prev_match: usize,
    /// The block's symbols: (distance, literal or length - 3); distance 0 = literal.
    syms: Vec<(u16, u8)>,
    ltree: Tree,
    dtree: Tree,
    bltree: Tree,
    builder: TreeBuilder,
    tables: Tables,
    bits: BitWriter,
    /// Bits up to the end of the final end-of-block code, before padding to a byte.
    exact_bits: u64,
    finished: bool,
}

impl Deflater {
    pub fn new(input: Vec<u8>) -> Deflater {
        let mut d = Deflater {
            input,
            next_in: 0,
            window: vec![0; WINDOW_SIZE],
            prev: vec![0; WSIZE],
            head: vec![0; 1 << HASH_BITS],
            ins_h: 0,
            strstart: 0,
            block_start: 0,
            lookahead: 0,
            insert: 0,
            high_water: 0,
            match_length: MIN_MATCH - 1,
            prev_length: MIN_MATCH - 1,
            match_available: false,
            match_start: 0,
            prev_match: 0,
            syms: Vec::with_capacity(SYM_LIMIT),
            ltree: Tree::new(HEAP_SIZE),
            dtree: Tree::new(2 * D_CODES + 1),
            bltree: Tree::new(2 * BL_CODES + 1),
            builder: TreeBuilder {
                heap: [0; HEAP_SIZE],
                heap_len: 0,
                heap_max: 0,
                depth: [0; HEAP_SIZE],
                bl_count: [0; MAX_BITS + 1],
                opt_len: 0,
                static_len: 0,
            },
            tables: Tables::new(),
            bits: BitWriter { out: Vec::new(), acc: 0, nbits: 0 },
            exact_bits: 0,
            finished: false,
        };
        d.init_block();
        d
    }

    /// Starts a new stream over `input`, reusing this one's buffers (as `deflateReset`): the output is the
    /// same as a fresh [`Deflater::new`]'s. Bytes past the new data are re-zeroed before any probe reads them.
    pub fn reset(&mut self, input: Vec<u8>) {
        self.input = input;
        self.next_in = 0;
        self.head.fill(0);
        self.ins_h = 0;
        self.strstart = 0;
        self.block_start = 0;
        self.lookahead = 0;
        self.insert = 0;
        self.high_water = 0;
        self.match_length = MIN_MATCH - 1;
        self.prev_length = MIN_MATCH - 1;
        self.match_available = false;
        self.match_start = 0;
        self.prev_match = 0;
        self.bits = BitWriter { out: std::mem::take(&mut self.bits.out), acc: 0, nbits: 0 };
        self.bits.out.clear();
        self.exact_bits = 0;
        self.finished = false;
        self.init_block();
    }

    /// Takes the input back (to reuse its allocation).
    pub fn take_input(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.input)
    }

    /// Input bytes read so far, for progress.
    pub fn consumed(&self) -> usize {
        self.next_in
    }

    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// Compresses until at least `budget` more input bytes have been read (or the end); returns true when the
    /// stream is complete. Pausing happens between symbols and leaves the output unchanged.
    pub fn advance(&mut self, budget: usize) -> bool {
        let stop = self.next_in.saturating_add(budget);
        self.deflate_slow(stop);
        self.finished
    }

    /// Compresses everything and returns the raw DEFLATE stream.
    pub fn finish(self) -> Vec<u8> {
        self.finished_state().bits.out
    }

    /// Compresses everything and returns the finished state (for [`Deflater::exact_bits`]).
    pub fn finished_state(mut self) -> Deflater {
        while !self.advance(usize::MAX) {}
        self
    }

    /// The text being compressed.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// The finished stream (after [`Deflater::advance`] returned true).
    pub fn output(&self) -> &[u8] {
        assert!(self.finished, "output before the stream finished");
        &self.bits.out
    }

    /// The stream's length in bits without the final padding: a finer size than whole bytes.
    pub fn exact_bits(&self) -> u64 {
        assert!(self.finished, "exact_bits before the stream finished");
        self.exact_bits
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn update_hash(h: u32, c: u8) -> u32 {
        ((h << HASH_SHIFT) ^ c as u32) & HASH_MASK
    }

    /// INSERT_STRING: returns the previous head of the hash chain.
    #[inline(always)]
    fn insert_string(&mut self, s: usize) -> usize {
        self.ins_h = Self::update_hash(self.ins_h, self.window[s + MIN_MATCH - 1]);
        let head = self.head[self.ins_h as usize];
        self.prev[s & W_MASK] = head;
        self.head[self.ins_h as usize] = s as u16;
        head as usize
    }

    fn slide_hash(&mut self) {
        for m in self.head.iter_mut().chain(self.prev.iter_mut()) {
            *m = if *m as usize >= WSIZE { *m - WSIZE as u16 } else { 0 };
        }
    }

    fn fill_window(&mut self) {
        loop {
            let mut more = WINDOW_SIZE - self.lookahead - self.strstart;
            if self.strstart >= WSIZE + MAX_DIST {
                self.window.copy_within(WSIZE..WSIZE + WSIZE - more, 0);
                self.match_start -= WSIZE;
                self.strstart -= WSIZE;
                self.block_start -= WSIZE as isize;
                if self.insert > self.strstart {
                    self.insert = self.strstart;
                }
                self.slide_hash();
                more += WSIZE;
            }
            let avail = self.input.len() - self.next_in;
            if avail == 0 {
                break;
            }
            let n = avail.min(more);
            let at = self.strstart + self.lookahead;
            self.window[at..at + n].copy_from_slice(&self.input[self.next_in..self.next_in + n]);
            self.next_in += n;
            self.lookahead += n;
            if self.lookahead + self.insert >= MIN_MATCH {
                let mut s = self.strstart - self.insert;
                self.ins_h = self.window[s] as u32;
                self.ins_h = Self::update_hash(self.ins_h, self.window[s + 1]);
                while self.insert > 0 {
                    self.ins_h = Self::update_hash(self.ins_h, self.window[s + MIN_MATCH - 1]);
                    self.prev[s & W_MASK] = self.head[self.ins_h as usize];
                    self.head[self.ins_h as usize] = s as u16;
                    s += 1;
                    self.insert -= 1;
                    if self.lookahead + self.insert < MIN_MATCH {
                        break;
                    }
                }
            }
            if self.lookahead >= MIN_LOOKAHEAD || self.next_in == self.input.len() {
                break;
            }
        }
        // Zero the bytes just past the data once, as zlib does, so match probes read the same values.
        if self.high_water < WINDOW_SIZE {
            let curr = self.strstart + self.lookahead;
            if self.high_water < curr {
                let init = (WINDOW_SIZE - curr).min(WIN_INIT);
                self.window[curr..curr + init].fill(0);
                self.high_water = curr + init;
            } else if self.high_water < curr + WIN_INIT {
                let init = (curr + WIN_INIT - self.high_water).min(WINDOW_SIZE - self.high_water);
                self.window[self.high_water..self.high_water + init].fill(0);
                self.high_water += init;
            }
        }
    }

    fn longest_match(&mut self, mut cur_match: usize) -> usize {
        let mut chain_length = MAX_CHAIN;
        let scan = self.strstart;
        let mut best_len = self.prev_length;
        let nice_match = NICE_MATCH.min(self.lookahead);
        let limit = self.strstart.saturating_sub(MAX_DIST);
        if self.prev_length >= GOOD_MATCH {
            chain_length >>= 2;
        }
        let w = &self.window[..];
        let target = &w[scan..scan + MAX_MATCH];
        let mut scan_end1 = w[scan + best_len - 1];
        let mut scan_end = w[scan + best_len];
        loop {
            let m = cur_match;
            if w[m + best_len] == scan_end
                && w[m + best_len - 1] == scan_end1
                && w[m] == w[scan]
                && w[m + 1] == w[scan + 1]
            {
                let len = 2 + common_prefix(&target[2..], &w[m + 2..m + MAX_MATCH]);
                if len > best_len {
                    self.match_start = cur_match;
                    best_len = len;
                    if len >= nice_match {
                        break;
                    }
                    scan_end1 = w[scan + best_len - 1];
                    scan_end = w[scan + best_len];
                }
            }
            cur_match = self.prev[cur_match & W_MASK] as usize;
            if cur_match <= limit {
                break;
            }
            chain_length -= 1;
            if chain_length == 0 {
                break;
            }
        }
        best_len.min(self.lookahead)
    }

    fn tally_lit(&mut self, c: u8) -> bool {
        self.syms.push((0, c));
        self.ltree.freq[c as usize] += 1;
        self.syms.len() == SYM_LIMIT
    }

    fn tally_dist(&mut self, dist: usize, lc: usize) -> bool {
        self.syms.push((dist as u16, lc as u8));
        let dist = dist - 1;
        self.ltree.freq[self.tables.length_code[lc] as usize + LITERALS + 1] += 1;
        self.dtree.freq[self.tables.d_code(dist)] += 1;
        self.syms.len() == SYM_LIMIT
    }

    /// `deflate_slow` with Z_FINISH semantics (all input is present), pausing once `next_in >= stop`.
    fn deflate_slow(&mut self, stop: usize) {
        if self.finished {
            return;
        }
        loop {
            if self.next_in >= stop && self.next_in < self.input.len() {
                return;
            }
            if self.lookahead < MIN_LOOKAHEAD {
                self.fill_window();
                if self.lookahead == 0 {
                    break;
                }
            }
            let mut hash_head = 0;
            if self.lookahead >= MIN_MATCH {
                hash_head = self.insert_string(self.strstart);
            }
            self.prev_length = self.match_length;
            self.prev_match = self.match_start;
            self.match_length = MIN_MATCH - 1;
            if hash_head != 0 && self.prev_length < MAX_LAZY && self.strstart - hash_head <= MAX_DIST {
                self.match_length = self.longest_match(hash_head);
                if self.match_length == MIN_MATCH && self.strstart - self.match_start > TOO_FAR {
                    self.match_length = MIN_MATCH - 1;
                }
            }
            if self.prev_length >= MIN_MATCH && self.match_length <= self.prev_length {
                let max_insert = self.strstart + self.lookahead - MIN_MATCH;
                let bflush = self.tally_dist(self.strstart - 1 - self.prev_match, self.prev_length - MIN_MATCH);
                self.lookahead -= self.prev_length - 1;
                self.prev_length -= 2;
                loop {
                    self.strstart += 1;
                    if self.strstart <= max_insert {
                        self.insert_string(self.strstart);
                    }
                    self.prev_length -= 1;
                    if self.prev_length == 0 {
                        break;
                    }
                }
                self.match_available = false;
                self.match_length = MIN_MATCH - 1;
                self.strstart += 1;
                if bflush {
                    self.flush_block(false);
                }
            } else if self.match_available {
                let c = self.window[self.strstart - 1];
                if self.tally_lit(c) {
                    self.flush_block(false);
                }
                self.strstart += 1;
                self.lookahead -= 1;
            } else {
                self.match_available = true;
                self.strstart += 1;
                self.lookahead -= 1;
            }
        }
        if self.match_available {
            let c = self.window[self.strstart - 1];
            self.tally_lit(c);
            self.match_available = false;
        }
        self.insert = self.strstart.min(MIN_MATCH - 1);
        self.flush_block(true);
        self.finished = true;
    }

    fn init_block(&mut self) {
        self.ltree.freq[..L_CODES].fill(0);
        self.dtree.freq[..D_CODES].fill(0);
        self.bltree.freq[..BL_CODES].fill(0);
        self.ltree.freq[END_BLOCK] = 1;
        self.builder.opt_len = 0;
        self.builder.static_len = 0;
        self.syms.clear();
    }

    /// FLUSH_BLOCK_ONLY + `_tr_flush_block`: choose stored, static or dynamic Huffman, whichever is smallest.
    fn flush_block(&mut self, last: bool) {
        let stored_len = (self.strstart as isize - self.block_start) as usize;
        let has_buf = self.block_start >= 0;
        let (l_desc, d_desc, bl_desc) = (
            StaticDesc {
                stree: Some(&self.tables.static_ltree),
                extra: &EXTRA_LBITS,
                base: LITERALS + 1,
                elems: L_CODES,
                max_length: MAX_BITS,
            },
            StaticDesc {
                stree: Some(&self.tables.static_dtree),
                extra: &EXTRA_DBITS,
                base: 0,
                elems: D_CODES,
                max_length: MAX_BITS,
            },
            StaticDesc { stree: None, extra: &EXTRA_BLBITS, base: 0, elems: BL_CODES, max_length: MAX_BL_BITS },
        );
        self.builder.build_tree(&mut self.ltree, &l_desc);
        self.builder.build_tree(&mut self.dtree, &d_desc);
        // build_bl_tree
        scan_tree(&self.ltree, &mut self.bltree);
        scan_tree(&self.dtree, &mut self.bltree);
        self.builder.build_tree(&mut self.bltree, &bl_desc);
        let mut max_blindex = BL_CODES - 1;
        while max_blindex >= 3 && self.bltree.len[BL_ORDER[max_blindex]] == 0 {
            max_blindex -= 1;
        }
        self.builder.opt_len = self.builder.opt_len.wrapping_add(3 * (max_blindex as u64 + 1) + 5 + 5 + 4);

        let mut opt_lenb = (self.builder.opt_len.wrapping_add(3 + 7)) >> 3;
        let static_lenb = (self.builder.static_len.wrapping_add(3 + 7)) >> 3;
        if static_lenb <= opt_lenb {
            opt_lenb = static_lenb;
        }
        let last_bit = last as u32;
        if stored_len as u64 + 4 <= opt_lenb && has_buf {
            self.bits.send(last_bit, 3);
            self.bits.windup();
            let start = self.block_start as usize;
            self.bits.out.extend_from_slice(&(stored_len as u16).to_le_bytes());
            self.bits.out.extend_from_slice(&(!(stored_len as u16)).to_le_bytes());
            self.bits.out.extend_from_slice(&self.window[start..start + stored_len]);
        } else if static_lenb == opt_lenb {
            self.bits.send((1 << 1) + last_bit, 3);
            let (lt, dt) = (self.tables.static_ltree, self.tables.static_dtree);
            self.compress_block(|n| lt[n], |n| dt[n]);
        } else {
            self.bits.send((2 << 1) + last_bit, 3);
            self.send_all_trees(self.ltree.max_code + 1, self.dtree.max_code + 1, max_blindex + 1);
            let lt: Vec<(u16, u16)> = (0..L_CODES).map(|n| (self.ltree.code[n], self.ltree.len[n])).collect();
            let dt: Vec<(u16, u16)> = (0..D_CODES).map(|n| (self.dtree.code[n], self.dtree.len[n])).collect();
            self.compress_block(|n| lt[n], |n| dt[n]);
        }
        self.init_block();
        if last {
            self.exact_bits = self.bits.out.len() as u64 * 8 + self.bits.nbits as u64;
            self.bits.windup();
        }
        self.block_start = self.strstart as isize;
    }

    fn compress_block(&mut self, ltree: impl Fn(usize) -> (u16, u16), dtree: impl Fn(usize) -> (u16, u16)) {
        let send = |bits: &mut BitWriter, (code, len): (u16, u16)| bits.send(code as u32, len as u32);
        for &(dist, lc) in &self.syms {
            if dist == 0 {
                send(&mut self.bits, ltree(lc as usize));
            } else {
                let lc = lc as usize;
                let code = self.tables.length_code[lc] as usize;
                send(&mut self.bits, ltree(code + LITERALS + 1));
                let extra = EXTRA_LBITS[code] as u32;
                if extra != 0 {
                    self.bits.send((lc - self.tables.base_length[code] as usize) as u32, extra);
                }
                let dist = dist as usize - 1;
                let code = self.tables.d_code(dist);
                send(&mut self.bits, dtree(code));
                let extra = EXTRA_DBITS[code] as u32;
                if extra != 0 {
                    self.bits.send((dist - self.tables.base_dist[code] as usize) as u32, extra);
                }
            }
        }
        send(&mut self.bits, ltree(END_BLOCK));
    }

    fn send_all_trees(&mut self, lcodes: usize, dcodes: usize, blcodes: usize) {
        self.bits.send((lcodes - 257) as u32, 5);
        self.bits.send((dcodes - 1) as u32, 5);
        self.bits.send((blcodes - 4) as u32, 4);
        for &i in &BL_ORDER[..blcodes] {
            self.bits.send(self.bltree.len[i] as u32, 3);
        }
        send_tree(&mut self.bits, &self.ltree, lcodes - 1, &self.bltree);
        send_tree(&mut self.bits, &self.dtree, dcodes - 1, &self.bltree);
    }
}

/// Length of the common prefix of two equally long slices, eight bytes at a time.
#[inline(always)]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x =
            u64::from_le_bytes(a[i..i + 8].try_into().unwrap()) ^ u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The run-length walk over a tree's code lengths that `scan_tree` and `send_tree` share: calls `emit` with
/// (code length, repeat count, previous length, min_count) for each run, grouped exactly as zlib groups them.
fn walk_lengths(tree: &Tree, max_code: usize, mut emit: impl FnMut(usize, usize, isize, usize)) {
    let mut prevlen: isize = -1;
    let mut nextlen = tree.len[0] as usize;
    let mut count = 0usize;
    let (mut max_count, mut min_count) = if nextlen == 0 { (138, 3) } else { (7, 4) };
    for n in 0..=max_code {
        let curlen = nextlen;
        // zlib writes a 0xffff guard at max_code + 1; a sentinel read does the same without touching the tree.
        nextlen = if n < max_code { tree.len[n + 1] as usize } else { 0xffff };
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        }
        emit(curlen, count, prevlen, min_count);
        count = 0;
        prevlen = curlen as isize;
        (max_count, min_count) = if nextlen == 0 {
            (138, 3)
        } else if curlen == nextlen {
            (6, 3)
        } else {
            (7, 4)
        };
    }
}

/// Counts the code-length symbols a tree will need (`scan_tree`).
fn scan_tree(tree: &Tree, bl: &mut Tree) {
    walk_lengths(tree, tree.max_code, |curlen, count, prevlen, min_count| {
        if count < min_count {
            bl.freq[curlen] += count as u32;
        } else if curlen != 0 {
            if curlen as isize != prevlen {
                bl.freq[curlen] += 1;
            }
            bl.freq[REP_3_6] += 1;
        } else if count <= 10 {
            bl.freq[REPZ_3_10] += 1;
        } else {
            bl.freq[REPZ_11_138] += 1;
        }
    });
}

/// Sends a tree's code lengths with the code-length code (`send_tree`).
fn send_tree(bits: &mut BitWriter, tree: &Tree, max_code: usize, bl: &Tree) {
    let code = |bits: &mut BitWriter, n: usize| bits.send(bl.code[n] as u32, bl.len[n] as u32);
    walk_lengths(tree, max_code, |curlen, mut count, prevlen, min_count| {
        if count < min_count {
            for _ in 0..count {
                code(bits, curlen);
            }
        } else if curlen != 0 {
            if curlen as isize != prevlen {
                code(bits, curlen);
                count -= 1;
            }
            code(bits, REP_3_6);
            bits.send((count - 3) as u32, 2);
        } else if count <= 10 {
            code(bits, REPZ_3_10);
            bits.send((count - 3) as u32, 3);
        } else {
            code(bits, REPZ_11_138);
            bits.send((count - 11) as u32, 7);
        }
    });
}
