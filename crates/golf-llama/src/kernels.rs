//! Matrix-vector products over quantized rows, with float32 activations: y[r] = row r . x.
//!
//! A decode step reads every weight once, so these are bound by how fast the weights arrive from memory (hence
//! the prefetching) and become numbers: per block of 32, the 4-bit codes are widened and dotted with x, then
//! scaled once (`d * dot + m * sum(x)` for Q4_1). One version per instruction set (AVX-512 natively where the CPU has it, else AVX2+FMA, SIMD128 in the
//! browser) and a scalar one that is the reference the tests hold them to.

use crate::weights::{GROUP, Q4, Q8};

/// The sum of each block of 32 of `x` (Q4_1's `m` term multiplies it).
pub(crate) fn block_sums(x: &[f32]) -> Vec<f32> {
    x.chunks_exact(32).map(|b| b.iter().sum()).collect()
}

/// `y[i] = row (first + i) of w . x`; `xs` is [`block_sums`] of x. `first` and `y.len()` are whole groups.
pub(crate) fn q4_rows(w: &Q4, first: usize, x: &[f32], xs: &[f32], y: &mut [f32]) {
    let blocks = w.cols / 32;
    assert!(first.is_multiple_of(GROUP) && y.len().is_multiple_of(GROUP) && x.len() == w.cols && xs.len() == blocks);
    let span = first * blocks..(first + y.len()) * blocks;
    let (nibbles, d, m) = (&w.nibbles[span.start * 16..span.end * 16], &w.d[span.clone()], &w.m[span]);
    #[cfg(target_arch = "x86_64")]
    if avx512::detected() {
        // SAFETY: as below.
        return unsafe { avx512::q4_rows(nibbles, d, m, x, xs, y) };
    }
    #[cfg(target_arch = "x86_64")]
    if avx2::detected() {
        // SAFETY: the features were detected; the slices hold `y.len()` rows of `blocks` blocks (asserted inside).
        return unsafe { avx2::q4_rows(nibbles, d, m, x, xs, y) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::q4_rows(nibbles, d, m, &limbs::Limbs::of(x), xs, y);
    #[allow(unreachable_code)]
    scalar::q4_rows(nibbles, d, m, x, xs, y)
}

/// `y[i] = row (first + i) of w . x` for a Q8_0 matrix (the LM head).
pub(crate) fn q8_rows(w: &Q8, first: usize, x: &[f32], y: &mut [f32]) {
    let blocks = w.cols / 32;
    assert!(first.is_multiple_of(GROUP) && y.len().is_multiple_of(GROUP) && x.len() == w.cols);
    let (q, d) = (&w.q[first * w.cols..(first + y.len()) * w.cols], &w.d[first * blocks..(first + y.len()) * blocks]);
    #[cfg(target_arch = "x86_64")]
    if avx512::detected() {
        // SAFETY: as in q4_rows.
        return unsafe { avx512::q8_rows(q, d, x, y) };
    }
    #[cfg(target_arch = "x86_64")]
    if avx2::detected() {
        // SAFETY: as in q4_rows.
        return unsafe { avx2::q8_rows(q, d, x, y) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::q8_rows(q, d, &limbs::Limbs::of(x), y);
    #[allow(unreachable_code)]
    scalar::q8_rows(q, d, x, y)
}

/// How far ahead of the block in use the x86 kernels ask for the weights, in bytes. A group's blocks are one
/// sequential stream, but the hardware prefetcher alone left a decode step waiting on memory half of its time
/// (21.6 ms/token on one thread against 10.7 with this, on a Xeon that reads 17 GB/s; 32 blocks ahead gave 13.8,
/// 256 gave 11.0).
#[cfg(target_arch = "x86_64")]
const AHEAD: usize = 2048;

/// Asks for the cache line at `p` (a hint: never faults, so `p` may lie past the weights' end).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch(p: *const u8) {
    // SAFETY: prefetching is a hint that reads nothing and cannot fault, whatever the address.
    unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8) }
}

mod scalar {
    use super::GROUP;
    use crate::weights::f16_to_f32 as f;

    pub(super) fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &[f32], xs: &[f32], y: &mut [f32]) {
        let blocks = xs.len();
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            for (i, y) in y.iter_mut().enumerate() {
                let mut acc = 0f32;
                for b in 0..blocks {
                    let at = (g * blocks + b) * GROUP + i;
                    let (q, x) = (&nibbles[at * 16..][..16], &x[b * 32..][..32]);
                    let dot: f32 = (0..16).map(|j| (q[j] & 15) as f32 * x[j] + (q[j] >> 4) as f32 * x[j + 16]).sum();
                    acc += f(d[at]) * dot + f(m[at]) * xs[b];
                }
                *y = acc;
            }
        }
    }

    pub(super) fn q8_rows(q: &[i8], d: &[u16], x: &[f32], y: &mut [f32]) {
        let blocks = x.len() / 32;
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            for (i, y) in y.iter_mut().enumerate() {
                *y = (0..blocks)
                    .map(|b| {
                        let at = (g * blocks + b) * GROUP + i;
                        f(d[at])
                            * q[at * 32..][..32].iter().zip(&x[b * 32..][..32]).map(|(&q, x)| q as f32 * x).sum::<f32>()
                    })
                    .sum();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::GROUP;

    pub(super) fn detected() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
    }

    /// The four halves at `p` as floats.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn halves(p: *const u16) -> __m128 {
        _mm_cvtph_ps(_mm_loadl_epi64(p as *const __m128i))
    }

    // (Helpers are functions with the target features, not closures: a closure does not inherit them and is not
    // inlined into the kernel.)
    #[target_feature(enable = "avx2,fma,f16c")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen_u8(b: __m128i) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen_i8(b: __m128i) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))
    }

    /// 32 floats at `p`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn load_x(p: *const f32) -> [__m256; 4] {
        [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)), _mm256_loadu_ps(p.add(16)), _mm256_loadu_ps(p.add(24))]
    }

    /// 32 codes as four vectors of 8 (`lo`: elements 0..16 as bytes, `hi`: 16..32), dotted with x.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn dot32(lo: __m128i, hi: __m128i, x: &[__m256; 4], signed: bool) -> __m256 {
        let w = if signed { widen_i8 } else { widen_u8 };
        let a = _mm256_fmadd_ps(w(_mm_unpackhi_epi64(lo, lo)), x[1], _mm256_mul_ps(w(lo), x[0]));
        let b = _mm256_fmadd_ps(w(_mm_unpackhi_epi64(hi, hi)), x[3], _mm256_mul_ps(w(hi), x[2]));
        _mm256_add_ps(a, b)
    }

    /// A group's four rows at a time: x is loaded once per block for all four, their chains overlap, and the
    /// group's blocks are one sequential stream.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &[f32], xs: &[f32], y: &mut [f32]) {
        let blocks = xs.len();
        assert!(nibbles.len() == y.len() * blocks * 16 && d.len() == y.len() * blocks && m.len() == d.len());
        assert!(x.len() == blocks * 32);
        let (np, dp, mp, xp) = (nibbles.as_ptr(), d.as_ptr(), m.as_ptr(), x.as_ptr());
        let mask = _mm_set1_epi8(15);
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [_mm256_setzero_ps(); GROUP];
            let mut offsets = _mm_setzero_ps();
            for (b, &sum) in xs.iter().enumerate() {
                let xb = load_x(xp.add(b * 32));
                let at = (g * blocks + b) * GROUP;
                super::prefetch(np.wrapping_add(at * 16 + super::AHEAD));
                offsets = _mm_fmadd_ps(halves(mp.add(at)), _mm_set1_ps(sum), offsets);
                let mut ds = [0f32; GROUP];
                _mm_storeu_ps(ds.as_mut_ptr(), halves(dp.add(at)));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let v = _mm_loadu_si128(np.add((at + i) * 16) as *const __m128i);
                    let (lo, hi) = (_mm_and_si128(v, mask), _mm_and_si128(_mm_srli_epi16(v, 4), mask));
                    *acc = _mm256_fmadd_ps(_mm256_set1_ps(ds[i]), dot32(lo, hi, &xb, false), *acc);
                }
            }
            let mut o = [0f32; GROUP];
            _mm_storeu_ps(o.as_mut_ptr(), offsets);
            for i in 0..GROUP {
                y[i] = hsum(acc[i]) + o[i];
            }
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn q8_rows(q: &[i8], d: &[u16], x: &[f32], y: &mut [f32]) {
        let blocks = x.len() / 32;
        assert!(q.len() == y.len() * blocks * 32 && d.len() == y.len() * blocks && x.len() == blocks * 32);
        let (qp, dp, xp) = (q.as_ptr(), d.as_ptr(), x.as_ptr());
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [_mm256_setzero_ps(); GROUP];
            for b in 0..blocks {
                let xb = load_x(xp.add(b * 32));
                let at = (g * blocks + b) * GROUP;
                super::prefetch(qp.wrapping_add(at * 32 + super::AHEAD) as *const u8);
                super::prefetch(qp.wrapping_add(at * 32 + super::AHEAD + 64) as *const u8);
                let mut ds = [0f32; GROUP];
                _mm_storeu_ps(ds.as_mut_ptr(), halves(dp.add(at)));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let p = qp.add((at + i) * 32) as *const __m128i;
                    let dot = dot32(_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)), &xb, true);
                    *acc = _mm256_fmadd_ps(_mm256_set1_ps(ds[i]), dot, *acc);
                }
            }
            for i in 0..GROUP {
                y[i] = hsum(acc[i]);
            }
        }
    }
}

/// AVX-512: sixteen lanes, so a block of 32 is two vectors: each byte of a Q4 block widened to its lane, then
/// masked (element j) and shifted (element j + 16); no shuffles beyond the one widening.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::GROUP;

    pub(super) fn detected() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && super::avx2::detected()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    #[inline]
    unsafe fn halves(p: *const u16) -> __m128 {
        _mm_cvtph_ps(_mm_loadl_epi64(p as *const __m128i))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    pub(super) unsafe fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &[f32], xs: &[f32], y: &mut [f32]) {
        let blocks = xs.len();
        assert!(nibbles.len() == y.len() * blocks * 16 && d.len() == y.len() * blocks && m.len() == d.len());
        assert!(x.len() == blocks * 32);
        let (np, dp, mp, xp) = (nibbles.as_ptr(), d.as_ptr(), m.as_ptr(), x.as_ptr());
        let mask = _mm512_set1_epi32(15);
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [_mm512_setzero_ps(); GROUP];
            let mut offsets = _mm_setzero_ps();
            for (b, &sum) in xs.iter().enumerate() {
                let (x0, x1) = (_mm512_loadu_ps(xp.add(b * 32)), _mm512_loadu_ps(xp.add(b * 32 + 16)));
                let at = (g * blocks + b) * GROUP;
                super::prefetch(np.wrapping_add(at * 16 + super::AHEAD));
                offsets = _mm_fmadd_ps(halves(mp.add(at)), _mm_set1_ps(sum), offsets);
                let mut ds = [0f32; GROUP];
                _mm_storeu_ps(ds.as_mut_ptr(), halves(dp.add(at)));
                for (i, acc) in acc.iter_mut().enumerate() {
                    // Each byte widened to its lane (element j and j+16 of the block), then split in two.
                    let v = _mm512_cvtepu8_epi32(_mm_loadu_si128(np.add((at + i) * 16) as *const __m128i));
                    let lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, mask));
                    let hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
                    let dot = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(ds[i]), dot, *acc);
                }
            }
            let mut o = [0f32; GROUP];
            _mm_storeu_ps(o.as_mut_ptr(), offsets);
            for i in 0..GROUP {
                y[i] = _mm512_reduce_add_ps(acc[i]) + o[i];
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    pub(super) unsafe fn q8_rows(q: &[i8], d: &[u16], x: &[f32], y: &mut [f32]) {
        let blocks = x.len() / 32;
        assert!(q.len() == y.len() * blocks * 32 && d.len() == y.len() * blocks && x.len() == blocks * 32);
        let (qp, dp, xp) = (q.as_ptr(), d.as_ptr(), x.as_ptr());
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [_mm512_setzero_ps(); GROUP];
            for b in 0..blocks {
                let (x0, x1) = (_mm512_loadu_ps(xp.add(b * 32)), _mm512_loadu_ps(xp.add(b * 32 + 16)));
                let at = (g * blocks + b) * GROUP;
                super::prefetch(qp.wrapping_add(at * 32 + super::AHEAD) as *const u8);
                super::prefetch(qp.wrapping_add(at * 32 + super::AHEAD + 64) as *const u8);
                let mut ds = [0f32; GROUP];
                _mm_storeu_ps(ds.as_mut_ptr(), halves(dp.add(at)));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let p = qp.add((at + i) * 32) as *const __m128i;
                    let lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p)));
                    let hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.add(1))));
                    let dot = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(ds[i]), dot, *acc);
                }
            }
            for i in 0..GROUP {
                y[i] = _mm512_reduce_add_ps(acc[i]);
            }
        }
    }
}

/// The activations as two 16-bit integer limbs, for instruction sets whose integer dot product is cheaper than
/// widening every weight to a float (wasm SIMD128 has no fused multiply-add, but has `i32x4.dot_i16x8_s`: eight
/// products and four sums in one instruction).
///
/// Per block of 32, with s the power of two that puts the block's largest |x| just under 2^14: x = s * (hi +
/// lo / 2^15), hi and lo integers of at most 2^14 in size. That leaves an error of at most 2^-16 s, under 2^-29
/// of the block's largest |x|: far below float32's own rounding of a product of that element (2^-24 of it).
/// The weights times each limb are summed exactly in 32-bit integers (15 x 2^14 x 32 < 2^23 for Q4; for Q8
/// 127 x 2^14 x 32 < 2^31), then become floats once per block.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) mod limbs {
    pub(crate) struct Limbs {
        pub(crate) hi: Vec<i16>,
        pub(crate) lo: Vec<i16>,
        /// Per block: s.
        pub(crate) scale: Vec<f32>,
    }

    /// 2^k as a float, subnormal powers included.
    fn power_of_two(k: i32) -> f32 {
        if k >= -126 {
            f32::from_bits(((k.min(127) + 127) as u32) << 23)
        } else {
            f32::from_bits(1 << (k.max(-149) + 149))
        }
    }

    impl Limbs {
        pub(crate) fn of(x: &[f32]) -> Limbs {
            let mut out = Limbs { hi: vec![0; x.len()], lo: vec![0; x.len()], scale: Vec::with_capacity(x.len() / 32) };
            for (b, xb) in x.chunks_exact(32).enumerate() {
                let max = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                // 2^e > max (e from the float's exponent; a subnormal max counts as 2^-126).
                let e = if max == 0.0 { 0 } else { (((max.to_bits() >> 23) & 0xff) as i32 - 127).max(-126) + 1 };
                let s = power_of_two(e - 14);
                out.scale.push(s);
                for (i, &v) in xb.iter().enumerate() {
                    // x / s is exact (a power of two), as is its distance from the nearest integer.
                    let v = v / s;
                    let h = v.round();
                    out.hi[b * 32 + i] = h as i16;
                    out.lo[b * 32 + i] = ((v - h) * 32768.0).round() as i16;
                }
            }
            out
        }
    }

    /// The portable statement of what the SIMD128 kernels compute, for the native tests: Q4_1 rows (the
    /// grouped layout, as `scalar::q4_rows`) dotted with the limbs.
    #[cfg(test)]
    pub(crate) fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &Limbs, xs: &[f32], y: &mut [f32]) {
        use super::GROUP;
        use crate::weights::f16_to_f32 as f;
        let blocks = xs.len();
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            for (i, y) in y.iter_mut().enumerate() {
                let mut acc = 0f32;
                for (b, &sum) in xs.iter().enumerate() {
                    let at = (g * blocks + b) * GROUP + i;
                    let q = &nibbles[at * 16..][..16];
                    let code = |j: usize| if j < 16 { q[j] & 15 } else { q[j - 16] >> 4 } as i32;
                    let (mut hi, mut lo) = (0i32, 0i32);
                    for j in 0..32 {
                        hi += code(j) * x.hi[b * 32 + j] as i32;
                        lo += code(j) * x.lo[b * 32 + j] as i32;
                    }
                    let dot = hi as f32 + lo as f32 * (1.0 / 32768.0);
                    acc += f(d[at]) * x.scale[b] * dot + f(m[at]) * sum;
                }
                *y = acc;
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    use super::limbs::Limbs;
    use super::GROUP;

    fn hsum(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v)
            + f32x4_extract_lane::<1>(v)
            + f32x4_extract_lane::<2>(v)
            + f32x4_extract_lane::<3>(v)
    }

    /// Reads one byte of every cache line of `bytes[range]` (clipped to the slice), so that the lines come from
    /// memory together while the kernel works on the groups before them. Wasm has no prefetch instruction and a
    /// load must finish before the ones after it retire: a load one line ahead at a time kept only about four
    /// lines in flight (about 2.4 GB/s), a burst of a whole group's lines keeps them all.
    #[inline(always)]
    fn touch(bytes: &[u8], range: core::ops::Range<usize>) -> u8 {
        let end = range.end.min(bytes.len());
        let mut sum = 0u8;
        for at in (range.start..end).step_by(64) {
            sum = sum.wrapping_add(bytes[at]);
        }
        sum
    }

    /// Groups ahead of the one in use whose weights a kernel touches.
    const AHEAD_GROUPS: usize = 2;

    /// 16 bytes at byte offset `at` of `bytes` (bounds-checked).
    fn load(bytes: &[u8], at: usize) -> v128 {
        let b: &[u8; 16] = bytes[at..at + 16].try_into().expect("16 bytes");
        // SAFETY: `b` is 16 readable bytes; v128_load has no alignment requirement.
        unsafe { v128_load(b.as_ptr() as *const v128) }
    }

    /// Four finite halves (bits) as floats, exactly: the magnitude's bits moved into a float's place are the
    /// value times 2^-112 (subnormal halves too), so one multiply by 2^112 makes them the value.
    fn halves(h: &[u16]) -> v128 {
        let h: &[u16; 4] = h[..4].try_into().expect("four halves");
        // SAFETY: `h` is 8 readable bytes; v128_load64_zero has no alignment requirement.
        let bits = u32x4_extend_low_u16x8(unsafe { v128_load64_zero(h.as_ptr() as *const u64) });
        let magnitude =
            f32x4_mul(i32x4_shl(v128_and(bits, u32x4_splat(0x7fff)), 13), f32x4_splat(f32::from_bits(0x7780_0000)));
        v128_or(magnitude, i32x4_shl(v128_and(bits, u32x4_splat(0x8000)), 16))
    }

    fn lanes(v: v128) -> [f32; 4] {
        [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)]
    }

    /// Two rows' 32 codes of one block (per row four vectors of eight 16-bit integers, made by `codes(row, k)`)
    /// dotted with the block's limbs, as four partial sums (hi + lo / 2^15) per row. The limbs are read eight
    /// at a time and each used for both rows, so that few vectors are live at once (wasm engines have 16
    /// registers; a group of four rows with all of a block's limbs held spilled).
    #[inline(always)]
    fn dot_pair(codes: impl Fn(usize, usize) -> v128, hi: &[i16; 32], lo: &[i16; 32]) -> [v128; 2] {
        let (mut h, mut l) = ([i32x4_splat(0); 2], [i32x4_splat(0); 2]);
        for k in 0..4 {
            // SAFETY: `hi` and `lo` are 32 limbs (64 bytes); v128_load has no alignment requirement.
            let (xh, xl) = unsafe {
                (v128_load(hi.as_ptr().add(8 * k) as *const v128), v128_load(lo.as_ptr().add(8 * k) as *const v128))
            };
            for r in 0..2 {
                let c = codes(r, k);
                h[r] = i32x4_add(h[r], i32x4_dot_i16x8(c, xh));
                l[r] = i32x4_add(l[r], i32x4_dot_i16x8(c, xl));
            }
        }
        let f = |r: usize| {
            f32x4_add(f32x4_convert_i32x4(h[r]), f32x4_mul(f32x4_convert_i32x4(l[r]), f32x4_splat(1.0 / 32768.0)))
        };
        [f(0), f(1)]
    }

    /// Block `b`'s limbs.
    fn block_limbs(x: &Limbs, b: usize) -> (&[i16; 32], &[i16; 32]) {
        let at = b * 32..b * 32 + 32;
        (x.hi[at.clone()].try_into().expect("32 limbs"), x.lo[at].try_into().expect("32 limbs"))
    }

    pub(super) fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &Limbs, xs: &[f32], y: &mut [f32]) {
        let blocks = xs.len();
        let mask = u16x8_splat(15);
        let mut touched = 0u8;
        let mut scales = vec![[0f32; GROUP]; blocks];
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            // Two rows at a time; the group's four rows share cache lines, so the second pair reads them from
            // the cache.
            let group_bytes = blocks * GROUP * 16;
            let ahead = (g + AHEAD_GROUPS) * group_bytes;
            touched = touched.wrapping_add(touch(nibbles, ahead..ahead + group_bytes));
            // The group's scales (d times the limbs' scale) and its rows' m terms, once for both pairs.
            let mut offsets = f32x4_splat(0.0);
            for (b, (&sum, scale)) in xs.iter().zip(scales.iter_mut()).enumerate() {
                let at = (g * blocks + b) * GROUP;
                *scale = lanes(f32x4_mul(halves(&d[at..at + GROUP]), f32x4_splat(x.scale[b])));
                offsets = f32x4_add(offsets, f32x4_mul(halves(&m[at..at + GROUP]), f32x4_splat(sum)));
            }
            let o = lanes(offsets);
            for pair in 0..GROUP / 2 {
                let mut acc = [f32x4_splat(0.0); 2];
                for (b, scale) in scales.iter().enumerate() {
                    let at = (g * blocks + b) * GROUP;
                    let (hi, lo) = block_limbs(x, b);
                    let row = at + 2 * pair;
                    // Each byte (element j | element j+16 << 4) widened to 16 bits once, then masked or
                    // shifted: elements 0..8, 8..16, 16..24, 24..32.
                    let v = [load(nibbles, row * 16), load(nibbles, (row + 1) * 16)];
                    let wide = v.map(|v| [u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v)]);
                    let dots = dot_pair(
                        |r, k| match k {
                            0 | 1 => v128_and(wide[r][k], mask),
                            _ => u16x8_shr(wide[r][k - 2], 4),
                        },
                        hi,
                        lo,
                    );
                    for r in 0..2 {
                        acc[r] = f32x4_add(acc[r], f32x4_mul(f32x4_splat(scale[2 * pair + r]), dots[r]));
                    }
                }
                for r in 0..2 {
                    y[2 * pair + r] = hsum(acc[r]) + o[2 * pair + r];
                }
            }
        }
        core::hint::black_box(touched);
    }

    pub(super) fn q8_rows(q: &[i8], d: &[u16], x: &Limbs, y: &mut [f32]) {
        let blocks = x.scale.len();
        // SAFETY: i8 and u8 have the same size and alignment; the bytes are only read.
        let bytes = unsafe { core::slice::from_raw_parts(q.as_ptr() as *const u8, q.len()) };
        let mut touched = 0u8;
        let mut scales = vec![[0f32; GROUP]; blocks];
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let group_bytes = blocks * GROUP * 32;
            let ahead = (g + AHEAD_GROUPS) * group_bytes;
            touched = touched.wrapping_add(touch(bytes, ahead..ahead + group_bytes));
            for (b, scale) in scales.iter_mut().enumerate() {
                let at = (g * blocks + b) * GROUP;
                *scale = lanes(f32x4_mul(halves(&d[at..at + GROUP]), f32x4_splat(x.scale[b])));
            }
            for pair in 0..GROUP / 2 {
                let mut acc = [f32x4_splat(0.0); 2];
                for (b, scale) in scales.iter().enumerate() {
                    let at = (g * blocks + b) * GROUP;
                    let (hi, lo) = block_limbs(x, b);
                    let row = at + 2 * pair;
                    let v = [
                        [load(bytes, row * 32), load(bytes, row * 32 + 16)],
                        [load(bytes, (row + 1) * 32), load(bytes, (row + 1) * 32 + 16)],
                    ];
                    let dots = dot_pair(
                        |r, k| match k {
                            0 => i16x8_extend_low_i8x16(v[r][0]),
                            1 => i16x8_extend_high_i8x16(v[r][0]),
                            2 => i16x8_extend_low_i8x16(v[r][1]),
                            _ => i16x8_extend_high_i8x16(v[r][1]),
                        },
                        hi,
                        lo,
                    );
                    for r in 0..2 {
                        acc[r] = f32x4_add(acc[r], f32x4_mul(f32x4_splat(scale[2 * pair + r]), dots[r]));
                    }
                }
                for r in 0..2 {
                    y[2 * pair + r] = hsum(acc[r]);
                }
            }
        }
        core::hint::black_box(touched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::f16_to_f32;
    use golf_core::Rng;

    /// A random finite half of either sign, from subnormal (exponent 0) up to about 1.
    fn half(rng: &mut Rng) -> u16 {
        let r = rng.next_u64();
        ((r & 0x8000) | ((r >> 16) % 16) << 10 | (r >> 32) & 0x3ff) as u16
    }

    fn random_q4(rows: usize, cols: usize, rng: &mut Rng) -> Q4 {
        let blocks = rows * cols / 32;
        Q4 {
            rows,
            cols,
            nibbles: (0..blocks * 16).map(|_| (rng.next_u64() & 255) as u8).collect(),
            d: (0..blocks).map(|_| half(rng)).collect(),
            m: (0..blocks).map(|_| half(rng)).collect(),
        }
    }

    /// The value of a Q4_1 weight, by the format's definition.
    fn q4_weight(w: &Q4, r: usize, c: usize) -> f64 {
        let (blocks, j) = (w.cols / 32, c % 32);
        let at = crate::weights::grouped(r, c / 32, blocks);
        let byte = w.nibbles[at * 16 + j % 16];
        let q = if j < 16 { byte & 15 } else { byte >> 4 };
        f16_to_f32(w.d[at]) as f64 * q as f64 + f16_to_f32(w.m[at]) as f64
    }

    #[test]
    fn q4_rows_equal_the_dequantized_product_in_float64() {
        let mut rng = Rng::new(7);
        // Three groups of four rows.
        let w = random_q4(12, 96, &mut rng);
        let x: Vec<f32> = (0..96).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
        let xs = block_sums(&x);
        // The dispatched kernel (AVX-512 or AVX2 here where the CPU has it), the AVX2 one where the CPU has it
        // (the dispatch skips it on an AVX-512 CPU), the scalar one the others fall back to, and the integer
        // limbs the SIMD128 kernel computes with.
        let direct = |kernel: &str, first: usize, y: &mut [f32]| {
            let span = first * 3..(first + y.len()) * 3;
            let (nibbles, d, m) = (&w.nibbles[span.start * 16..span.end * 16], &w.d[span.clone()], &w.m[span]);
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller checked the CPU's features.
                "avx2" => unsafe { avx2::q4_rows(nibbles, d, m, &x, &xs, y) },
                "limbs" => limbs::q4_rows(nibbles, d, m, &limbs::Limbs::of(&x), &xs, y),
                _ => scalar::q4_rows(nibbles, d, m, &x, &xs, y),
            }
        };
        let mut kernels = vec!["dispatched", "scalar", "limbs"];
        #[cfg(target_arch = "x86_64")]
        if avx2::detected() {
            kernels.push("avx2");
        }
        for (first, kernel) in kernels.iter().flat_map(|k| [(0, *k), (4, *k)]) {
            let mut y = vec![0f32; 12 - first];
            if kernel == "dispatched" {
                q4_rows(&w, first, &x, &xs, &mut y);
            } else {
                direct(kernel, first, &mut y);
            }
            for (i, &got) in y.iter().enumerate() {
                let terms: Vec<f64> = (0..96).map(|c| q4_weight(&w, first + i, c) * x[c] as f64).collect();
                let (want, scale) = (terms.iter().sum::<f64>(), terms.iter().map(|t| t.abs()).sum::<f64>());
                // Float32 rounding of the terms' sizes, no more.
                assert!((got as f64 - want).abs() <= 1e-6 * scale, "{kernel}, row {}: {got} vs {want}", first + i);
            }
        }
    }

    #[test]
    fn limbs_hold_each_activation_to_2_to_the_minus_29_of_its_blocks_largest() {
        let mut rng = Rng::new(9);
        // Ordinary values, an outlier block (one element 10^4 times the rest), tiny values, zeros, exact powers of two.
        let mut x: Vec<f32> = (0..32).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
        x.extend((0..32).map(|i| if i == 5 { -300.0 } else { (rng.next_f64() as f32 - 0.5) * 0.06 }));
        x.extend((0..32).map(|_| (rng.next_f64() as f32 - 0.5) * 1e-30));
        x.extend([0f32; 32]);
        x.extend((0..32).map(|i| if i % 2 == 0 { 16384.0 } else { -0.5 }));
        let l = limbs::Limbs::of(&x);
        for (b, xb) in x.chunks_exact(32).enumerate() {
            let max = xb.iter().fold(0f64, |m, v| m.max(v.abs() as f64));
            for (i, &v) in xb.iter().enumerate() {
                let (hi, lo) = (l.hi[b * 32 + i], l.lo[b * 32 + i]);
                assert!(hi.unsigned_abs() <= 1 << 14 && lo.unsigned_abs() <= 1 << 14, "block {b}: {hi}, {lo}");
                let back = l.scale[b] as f64 * (hi as f64 + lo as f64 / 32768.0);
                assert!((back - v as f64).abs() <= max * 2f64.powi(-29), "block {b}, element {i}: {v} became {back}");
            }
        }
    }

    #[test]
    fn q8_rows_equal_the_dequantized_product_in_float64() {
        let mut rng = Rng::new(8);
        let (rows, cols) = (8, 64);
        let w = Q8 {
            rows,
            cols,
            q: (0..rows * cols).map(|_| (rng.next_u64() & 255) as u8 as i8).collect(),
            d: (0..rows * cols / 32).map(|_| half(&mut rng)).collect(),
        };
        let x: Vec<f32> = (0..cols).map(|_| rng.next_f64() as f32 - 0.5).collect();
        // The dispatched kernel, the scalar one and (where the CPU has it) AVX2, as for Q4.
        let (mut y, mut y_scalar) = (vec![0f32; rows], vec![0f32; rows]);
        q8_rows(&w, 0, &x, &mut y);
        scalar::q8_rows(&w.q, &w.d, &x, &mut y_scalar);
        y.extend(y_scalar);
        #[cfg(target_arch = "x86_64")]
        if avx2::detected() {
            let mut y_avx2 = vec![0f32; rows];
            // SAFETY: the features were detected.
            unsafe { avx2::q8_rows(&w.q, &w.d, &x, &mut y_avx2) };
            y.extend(y_avx2);
        }
        let mut row = vec![0f32; cols];
        for (r, &got) in y.iter().enumerate() {
            let r = r % rows;
            w.row(r, &mut row);
            let terms: Vec<f64> = row.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).collect();
            let (want, scale) = (terms.iter().sum::<f64>(), terms.iter().map(|t| t.abs()).sum::<f64>());
            assert!((got as f64 - want).abs() <= 1e-6 * scale, "row {r}: {got} vs {want}");
        }
    }
}
