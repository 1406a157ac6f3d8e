//! Exact bit accounting.
//!
//! Bits are summed in fixed point (units of 2^-24 bit) so totals do not depend on summation order and
//! a golfer whose costs are whole bits (gzip) adds up to its compressed size exactly, per byte included.

use crate::contract::Span;

/// Fixed-point bit count: `UNITS_PER_BIT` units make one bit. Signed: the marginal gzip method can go negative.
pub type Units = i64;

/// 2^24 units per bit: fine enough for model log-probabilities (6e-8 bit), coarse enough that 2^29 bits
/// (a 64 MB text at 8 bits/byte) still convert to f64 without rounding.
pub const UNITS_PER_BIT: i64 = 1 << 24;

/// Bits to fixed point, rounding to the nearest unit.
pub fn to_units(bits: f64) -> Units {
    (bits * UNITS_PER_BIT as f64).round() as Units
}

/// Fixed point to bits; exact while |units| < 2^53.
pub fn to_bits(units: Units) -> f64 {
    units as f64 / UNITS_PER_BIT as f64
}

/// Totals over a scored text.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub bytes: u64,
    pub bits: f64,
    pub bpb: f64,
}

impl Summary {
    /// Sums span bits in fixed point (order-independent) and divides by the byte count.
    pub fn of(spans: &[Span], bytes: u64) -> Summary {
        let units: Units = spans.iter().map(|s| to_units(s.bits)).sum();
        let bits = to_bits(units);
        let bpb = if bytes == 0 { 0.0 } else { bits / bytes as f64 };
        Summary { bytes, bits, bpb }
    }
}

/// Splits `units` over `n` parts as evenly as fixed point allows: the first `units mod n` parts get one
/// unit more. The parts add up to `units` exactly.
pub fn spread(units: Units, n: usize) -> impl Iterator<Item = Units> {
    let n_i = n.max(1) as i64;
    let base = units.div_euclid(n_i);
    let rem = units.rem_euclid(n_i) as usize;
    (0..n).map(move |i| base + i64::from(i < rem))
}

/// Per-byte bits for a heatmap: each span's bits spread evenly over its bytes. The bytes of a span add up
/// to the span's bits (rounded to 2^-24 bit), so the per-byte total equals [`Summary::of`] exactly.
pub fn per_byte_bits(spans: &[Span], len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    for s in spans {
        for (slot, b) in out[s.start as usize..s.end as usize].iter_mut().zip(byte_bits(s)) {
            *slot = b;
        }
    }
    out
}

/// The bits of each byte of one span, in order, as [`per_byte_bits`] gives them: a writer that streams spans
/// can stream their per-byte bits without a vector the size of the text.
pub fn byte_bits(span: &Span) -> impl Iterator<Item = f64> {
    spread(to_units(span.bits), (span.end - span.start) as usize).map(to_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, end: u32, bits: f64) -> Span {
        Span { start, end, bits, token: None }
    }

    #[test]
    fn spread_adds_up_exactly() {
        for (u, n) in [(10i64, 3usize), (7, 7), (1, 5), (-11, 4), (UNITS_PER_BIT * 13, 9)] {
            let parts: Vec<_> = spread(u, n).collect();
            assert_eq!(parts.iter().sum::<i64>(), u);
            let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            assert!(hi - lo <= 1, "{parts:?}");
        }
    }

    #[test]
    fn per_byte_sums_to_summary() {
        let spans = [span(0, 3, 13.0), span(3, 4, 2.5), span(4, 11, 1.0 / 3.0)];
        let per_byte = per_byte_bits(&spans, 11);
        let total: f64 = per_byte.iter().sum();
        assert_eq!(total, Summary::of(&spans, 11).bits);
        assert!((per_byte[0] - 13.0 / 3.0).abs() < 1e-6);
        assert_eq!(per_byte[3], 2.5);
    }

    #[test]
    fn summary_bpb() {
        let s = Summary::of(&[span(0, 4, 8.0), span(4, 8, 8.0)], 8);
        assert_eq!((s.bits, s.bpb), (16.0, 2.0));
    }
}
