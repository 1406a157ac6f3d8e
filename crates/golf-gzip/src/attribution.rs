//! Charges every bit of a raw DEFLATE stream to the bytes it encodes, by decoding the stream.
//!
//! - a literal's code goes to its byte;
//! - a match's length code, length extra bits, distance code and distance extra bits go to the bytes it copies;
//! - a block's header (type bits, Huffman table description, or a stored block's alignment and LEN/NLEN) is
//!   spread evenly over that block's bytes;
//! - the end-of-block code, and the final padding to a byte boundary, go to the block's last byte
//!   (an empty block's bits go to the last byte before it).
//!
//! Costs are kept in fixed point ([`golf_core::UNITS_PER_BIT`]), so the per-token and per-byte bits add up to
//! 8 x the stream's length exactly.

use golf_core::{Units, UNITS_PER_BIT};

use crate::deflate::{BL_ORDER, EXTRA_DBITS, EXTRA_LBITS};

const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];

/// How a run of bytes was coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// A Huffman-coded literal byte.
    Literal,
    /// A copy of `length` bytes from `distance` bytes back.
    Match { length: u16, distance: u16 },
    /// A byte in a stored (uncompressed) block.
    Stored,
}

/// One coded symbol with everything it is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub start: u32,
    pub end: u32,
    pub coding: Coding,
    /// The symbol's own bits (codes and extra bits).
    pub code_bits: u32,
    /// Everything charged, in fixed point: code bits + share of the block header + end-of-block and padding.
    pub units: Units,
}

/// A block as decoded: where its bits and bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub start: u32,
    pub end: u32,
    pub header_bits: u32,
    pub end_bits: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Stored,
    Fixed,
    Dynamic,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InflateError {
    #[error("malformed DEFLATE stream at bit {0}: {1}")]
    Malformed(u64, &'static str),
    #[error("the stream decodes to {got} bytes that differ from the {want}-byte text at byte {at}")]
    Mismatch { got: usize, want: usize, at: usize },
    #[error("the stream decodes to more than {0} bytes")]
    TooLong(usize),
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: u64,
}

impl BitReader<'_> {
    fn peek(&self, n: u32) -> u32 {
        // Reads up to 32 bits LSB-first; bits past the end read as zero (the caller checks `pos`).
        let byte = (self.pos >> 3) as usize;
        let mut word = 0u64;
        for i in 0..5 {
            if let Some(&b) = self.data.get(byte + i) {
                word |= (b as u64) << (8 * i);
            }
        }
        ((word >> (self.pos & 7)) & ((1u64 << n) - 1)) as u32
    }

    fn bits(&mut self, n: u32) -> Result<u32, InflateError> {
        let v = self.peek(n);
        self.pos += n as u64;
        if self.pos > self.data.len() as u64 * 8 {
            return Err(InflateError::Malformed(self.pos, "unexpected end of stream"));
        }
        Ok(v)
    }
}

/// A canonical Huffman decoding table indexed by the next `max_len` bits.
struct Decoder {
    table: Vec<(u16, u8)>,
    max_len: u32,
}

impl Decoder {
    /// A code from its lengths, refused where zlib refuses it (inftrees.c), so that exactly the streams zlib
    /// decodes decode here: over-subscribed, or incomplete, except a literal/length or distance code (`lenient`)
    /// whose longest length is 1 (a single code). A code with no lengths at all is kept: using it is the error.
    fn new(lens: &[u8], lenient: bool) -> Result<Decoder, &'static str> {
        let max_len = *lens.iter().max().unwrap_or(&0) as u32;
        if max_len == 0 {
            return Ok(Decoder { table: vec![(0, 0)], max_len: 0 });
        }
        let mut bl_count = [0u32; 16];
        lens.iter().for_each(|&l| bl_count[l as usize] += 1);
        bl_count[0] = 0;
        let mut left = 1i64;
        for &count in &bl_count[1..] {
            left = 2 * left - count as i64;
            if left < 0 {
                return Err("oversubscribed Huffman code");
            }
        }
        if left > 0 && !(lenient && max_len == 1) {
            return Err("incomplete Huffman code");
        }
        let mut next = [0u32; 16];
        let mut code = 0;
        for bits in 1..16 {
            code = (code + bl_count[bits - 1]) << 1;
            next[bits] = code;
        }
        let mut table = vec![(0u16, 0u8); 1 << max_len];
        for (sym, &len) in lens.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let len = len as u32;
            let c = next[len as usize];
            next[len as usize] += 1;
            if c >= 1 << len {
                return Err("oversubscribed Huffman code");
            }
            let rev = (c.reverse_bits() >> (32 - len)) as usize;
            let mut i = rev;
            while i < table.len() {
                table[i] = (sym as u16, len as u8);
                i += 1 << len;
            }
        }
        Ok(Decoder { table, max_len })
    }

    fn decode(&self, r: &mut BitReader) -> Result<u16, InflateError> {
        let (sym, len) = self.table[r.peek(self.max_len) as usize];
        if len == 0 {
            return Err(InflateError::Malformed(r.pos, "invalid Huffman code"));
        }
        r.bits(len as u32)?;
        Ok(sym)
    }
}

/// What decoding a stream yields: the charged symbols in order and the blocks.
#[derive(Clone, Debug, Default)]
pub struct Attribution {
    pub charges: Vec<Charge>,
    pub blocks: Vec<Block>,
    /// 8 x the stream's length.
    pub total_bits: u64,
}

/// Decodes `stream`, checks it reproduces `text`, and charges every bit to the bytes of `text`.
pub fn attribute(stream: &[u8], text: &[u8]) -> Result<Attribution, InflateError> {
    let (out, attribution) = decode(stream, text.len())?;
    if out != text {
        let at = out.iter().zip(text).position(|(a, b)| a != b).unwrap_or(out.len().min(text.len()));
        return Err(InflateError::Mismatch { got: out.len(), want: text.len(), at });
    }
    Ok(attribution)
}

/// Decodes a raw DEFLATE stream of at most `limit` bytes (a shared link's text, say: the limit keeps a small
/// hostile stream from expanding without bound).
pub fn inflate(stream: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    decode(stream, limit).map(|(out, _)| out)
}

fn decode(stream: &[u8], limit: usize) -> Result<(Vec<u8>, Attribution), InflateError> {
    let mut r = BitReader { data: stream, pos: 0 };
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(1 << 20));
    let mut charges: Vec<Charge> = Vec::new();
    let mut blocks = Vec::new();
    // Bits of empty blocks that had no earlier byte to go to.
    let mut orphan_units: Units = 0;
    let malformed = |pos, why| InflateError::Malformed(pos, why);
    loop {
        let block_bit_start = r.pos;
        let block_out_start = out.len();
        let first_charge = charges.len();
        let last = r.bits(1)? == 1;
        let btype = r.bits(2)?;
        let kind;
        let mut end_bits = 0;
        let header_bits;
        match btype {
            0 => {
                kind = BlockKind::Stored;
                r.pos = r.pos.div_ceil(8) * 8;
                let len = r.bits(16)?;
                let nlen = r.bits(16)?;
                if len != !nlen & 0xffff {
                    return Err(malformed(r.pos, "stored block LEN/NLEN mismatch"));
                }
                header_bits = (r.pos - block_bit_start) as u32;
                let at = (r.pos / 8) as usize;
                let bytes = stream.get(at..at + len as usize).ok_or(malformed(r.pos, "stored block past the end"))?;
                if out.len() + bytes.len() > limit {
                    return Err(InflateError::TooLong(limit));
                }
                for i in 0..bytes.len() {
                    let start = (out.len() + i) as u32;
                    charges.push(Charge { start, end: start + 1, coding: Coding::Stored, code_bits: 8, units: 0 });
                }
                out.extend_from_slice(bytes);
                r.pos += 8 * len as u64;
            }
            1 | 2 => {
                let (lit, dist) = if btype == 1 {
                    kind = BlockKind::Fixed;
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    // 32 distance codes, as zlib builds them: 30 and 31 are refused when used.
                    (Decoder::new(&l, true), Decoder::new(&[5u8; 32], true))
                } else {
                    kind = BlockKind::Dynamic;
                    let (l, d) = read_dynamic_lengths(&mut r)?;
                    (Decoder::new(&l, true), Decoder::new(&d, true))
                };
                let lit = lit.map_err(|w| malformed(r.pos, w))?;
                let dist = dist.map_err(|w| malformed(r.pos, w))?;
                header_bits = (r.pos - block_bit_start) as u32;
                loop {
                    let sym_start = r.pos;
                    let sym = lit.decode(&mut r)? as usize;
                    let start = out.len() as u32;
                    if sym < 256 {
                        if out.len() == limit {
                            return Err(InflateError::TooLong(limit));
                        }
                        out.push(sym as u8);
                        let bits = (r.pos - sym_start) as u32;
                        charges.push(Charge {
                            start,
                            end: start + 1,
                            coding: Coding::Literal,
                            code_bits: bits,
                            units: 0,
                        });
                    } else if sym == 256 {
                        end_bits = (r.pos - sym_start) as u32;
                        break;
                    } else {
                        let code = sym - 257;
                        if code >= 29 {
                            return Err(malformed(r.pos, "invalid length code"));
                        }
                        let length = LENGTH_BASE[code] as usize + r.bits(EXTRA_LBITS[code] as u32)? as usize;
                        let dcode = dist.decode(&mut r)? as usize;
                        if dcode >= 30 {
                            return Err(malformed(r.pos, "invalid distance code"));
                        }
                        let distance = DIST_BASE[dcode] as usize + r.bits(EXTRA_DBITS[dcode] as u32)? as usize;
                        if distance > out.len() {
                            return Err(malformed(r.pos, "distance before the start of the text"));
                        }
                        if out.len() + length > limit {
                            return Err(InflateError::TooLong(limit));
                        }
                        let from = out.len() - distance;
                        for i in 0..length {
                            let b = out[from + i];
                            out.push(b);
                        }
                        let bits = (r.pos - sym_start) as u32;
                        let coding = Coding::Match { length: length as u16, distance: distance as u16 };
                        charges.push(Charge { start, end: start + length as u32, coding, code_bits: bits, units: 0 });
                    }
                }
            }
            _ => return Err(malformed(r.pos, "reserved block type 3")),
        }
        // Charge the block: own codes, an even share of the header, the end-of-block code at the end.
        let n_bytes = out.len() - block_out_start;
        let header_units = header_bits as Units * UNITS_PER_BIT;
        let base = header_units.div_euclid(n_bytes.max(1) as i64);
        let rem = header_units.rem_euclid(n_bytes.max(1) as i64) as usize;
        for c in &mut charges[first_charge..] {
            let (a, b) = (c.start as usize - block_out_start, c.end as usize - block_out_start);
            let extra = rem.min(b).saturating_sub(a) as i64;
            c.units = c.code_bits as Units * UNITS_PER_BIT + base * (b - a) as i64 + extra;
        }
        let mut tail_units = end_bits as Units * UNITS_PER_BIT;
        if n_bytes == 0 {
            tail_units += header_units;
        }
        if last {
            let padding = (stream.len() as u64 * 8).checked_sub(r.pos).ok_or(malformed(r.pos, "past the end"))?;
            if padding >= 8 {
                return Err(malformed(r.pos, "data after the final block"));
            }
            tail_units += padding as Units * UNITS_PER_BIT;
        }
        match charges.last_mut() {
            Some(c) => c.units += tail_units + std::mem::take(&mut orphan_units),
            None => orphan_units += tail_units,
        }
        blocks.push(Block { kind, start: block_out_start as u32, end: out.len() as u32, header_bits, end_bits });
        if last {
            break;
        }
    }
    Ok((out, Attribution { charges, blocks, total_bits: stream.len() as u64 * 8 }))
}

/// Reads a dynamic block's code-length code and the literal/length and distance code lengths.
fn read_dynamic_lengths(r: &mut BitReader) -> Result<(Vec<u8>, Vec<u8>), InflateError> {
    let hlit = r.bits(5)? as usize + 257;
    let hdist = r.bits(5)? as usize + 1;
    let hclen = r.bits(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(InflateError::Malformed(r.pos, "too many length or distance codes"));
    }
    let mut cl = [0u8; 19];
    for &i in &BL_ORDER[..hclen] {
        cl[i] = r.bits(3)? as u8;
    }
    let cl = Decoder::new(&cl, false).map_err(|w| InflateError::Malformed(r.pos, w))?;
    let mut lens = Vec::with_capacity(hlit + hdist);
    while lens.len() < hlit + hdist {
        let sym = cl.decode(r)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                (*lens.last().ok_or(InflateError::Malformed(r.pos, "repeat with no previous length"))?, 3 + r.bits(2)?)
            }
            17 => (0, 3 + r.bits(3)?),
            _ => (0, 11 + r.bits(7)?),
        };
        lens.extend(std::iter::repeat_n(value, repeat as usize));
    }
    if lens.len() != hlit + hdist {
        return Err(InflateError::Malformed(r.pos, "code lengths overrun"));
    }
    let dist = lens.split_off(hlit);
    Ok((lens, dist))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::Deflater;

    fn check(text: &[u8]) -> Attribution {
        let stream = Deflater::new(text.to_vec()).finish();
        let a = attribute(&stream, text).expect("decodes");
        let total: Units = a.charges.iter().map(|c| c.units).sum();
        assert_eq!(total, stream.len() as i64 * 8 * UNITS_PER_BIT);
        assert!(a.charges.iter().all(|c| c.units >= 0));
        // Charges tile the text.
        let mut at = 0;
        for c in &a.charges {
            assert_eq!(c.start, at);
            at = c.end;
        }
        assert_eq!(at as usize, text.len());
        // An independent decoder agrees the stream is the text.
        let mut back = Vec::new();
        use std::io::Read;
        flate2::read::DeflateDecoder::new(&stream[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, text);
        a
    }

    #[test]
    fn one_byte() {
        let a = check(b"a");
        assert_eq!(a.charges.len(), 1);
        assert_eq!(a.total_bits, 24);
        assert_eq!(a.blocks[0].kind, BlockKind::Fixed);
    }

    #[test]
    fn repeats_become_matches() {
        let text = b"abcabcabcabcabcabcabcabc the end".repeat(20);
        let a = check(&text);
        assert!(a.charges.iter().any(|c| matches!(c.coding, Coding::Match { .. })));
    }

    #[test]
    fn random_bytes_are_stored() {
        let mut x = 12345u64;
        let text: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let a = check(&text);
        assert!(a.blocks.iter().any(|b| b.kind == BlockKind::Stored));
    }

    #[test]
    fn many_blocks_of_text() {
        // Random lowercase words: mostly literals, so 16,383-symbol blocks fill up several times.
        let mut x = 99u64;
        let mut text = Vec::new();
        while text.len() < 200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push(if x.is_multiple_of(6) { b' ' } else { b'a' + (x >> 8) as u8 % 26 });
        }
        let a = check(&text);
        assert!(a.blocks.len() > 2, "{} blocks", a.blocks.len());
        assert!(a.blocks.iter().any(|b| b.kind == BlockKind::Dynamic));
    }

    #[test]
    fn inflate_round_trips_and_refuses_to_grow_past_its_limit() {
        let text = "the cat sat on the mat; the cat sat on the hat. ".repeat(40);
        let stream = crate::deflate::Deflater::new(text.as_bytes().to_vec()).finish();
        assert_eq!(inflate(&stream, text.len()).unwrap(), text.as_bytes());
        assert!(matches!(inflate(&stream, text.len() - 1), Err(InflateError::TooLong(_))));
    }

    /// zlib's verdict on a raw stream: the bytes, and whether input was left after the final block.
    fn zlib_inflate(stream: &[u8], limit: usize) -> Option<(Vec<u8>, bool)> {
        let mut z = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(limit + 1);
        match z.decompress_vec(stream, &mut out, flate2::FlushDecompress::Finish) {
            Ok(flate2::Status::StreamEnd) if out.len() <= limit => Some((out, (z.total_in() as usize) < stream.len())),
            _ => None,
        }
    }

    #[test]
    fn every_one_bit_corruption_is_judged_as_zlib_judges_it() {
        // Dynamic, fixed and stored blocks; each bit flipped in turn. Incomplete and over-subscribed codes, too
        // many codes, bad repeats and distances: what zlib refuses is refused, what it decodes decodes the same.
        let dynamic =
            b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of \
            foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light";
        assert!(check(dynamic).blocks.iter().any(|b| b.kind == BlockKind::Dynamic));
        let texts: [&[u8]; 3] = [dynamic, b"ab", &[0x9b, 0x01, 0xff, 0x7e, 0x00, 0x42, 0xc3, 0x11]];
        let mut compared = 0;
        for text in texts {
            let stream = Deflater::new(text.to_vec()).finish();
            for bit in 0..stream.len() * 8 {
                let mut s = stream.clone();
                s[bit / 8] ^= 1 << (bit % 8);
                let ours = inflate(&s, 4096);
                match zlib_inflate(&s, 4096) {
                    Some((bytes, false)) => assert_eq!(ours.as_ref(), Ok(&bytes), "bit {bit} of {text:?}"),
                    Some((_, true)) => assert!(
                        matches!(ours, Err(InflateError::Malformed(_, "data after the final block"))),
                        "bit {bit} of {text:?}: {ours:?}"
                    ),
                    None => assert!(ours.is_err(), "bit {bit} of {text:?}: zlib refuses what ours decodes"),
                }
                compared += 1;
            }
        }
        assert!(compared > 800, "{compared} streams compared");
    }

    #[test]
    fn corrupted_stream_is_an_error() {
        let text = b"hello hello hello world".to_vec();
        let mut stream = Deflater::new(text.clone()).finish();
        stream[1] ^= 0x10;
        assert!(attribute(&stream, &text).is_err());
    }
}
