//! Matrix-vector products over quantized rows, with float32 activations: y[r] = row r . x.
//!
//! A decode step reads every weight once, so these are bound by how fast the nibbles become floats: per block
//! of 32, the 4-bit codes are widened to f32 and dotted with x, then scaled once (`d * dot + m * sum(x)` for
//! Q4_1). One version per instruction set (AVX2+FMA natively when the CPU has it, SIMD128 in the browser) and
//! a scalar one that is the reference the tests hold them to.

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
    if avx2::detected() {
        // SAFETY: the features were detected; the slices hold `y.len()` rows of `blocks` blocks (asserted inside).
        return unsafe { avx2::q4_rows(nibbles, d, m, x, xs, y) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::q4_rows(nibbles, d, m, x, xs, y);
    #[allow(unreachable_code)]
    scalar::q4_rows(nibbles, d, m, x, xs, y)
}

/// `y[i] = row (first + i) of w . x` for a Q8_0 matrix (the LM head).
pub(crate) fn q8_rows(w: &Q8, first: usize, x: &[f32], y: &mut [f32]) {
    let blocks = w.cols / 32;
    assert!(first.is_multiple_of(GROUP) && y.len().is_multiple_of(GROUP) && x.len() == w.cols);
    let (q, d) = (&w.q[first * w.cols..(first + y.len()) * w.cols], &w.d[first * blocks..(first + y.len()) * blocks]);
    #[cfg(target_arch = "x86_64")]
    if avx2::detected() {
        // SAFETY: as in q4_rows.
        return unsafe { avx2::q8_rows(q, d, x, y) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::q8_rows(q, d, x, y);
    #[allow(unreachable_code)]
    scalar::q8_rows(q, d, x, y)
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

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    use super::GROUP;

    fn hsum(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v)
            + f32x4_extract_lane::<1>(v)
            + f32x4_extract_lane::<2>(v)
            + f32x4_extract_lane::<3>(v)
    }

    /// Sixteen codes (one per byte of `v`: 0..16 unsigned, or i8 when `signed`) dotted with 16 floats of x.
    #[inline]
    fn dot16(v: v128, x: &[v128], signed: bool) -> v128 {
        let (lo, hi) = if signed {
            (i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v))
        } else {
            (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v))
        };
        let f = |h: v128, high: bool| {
            f32x4_convert_i32x4(match (signed, high) {
                (true, false) => i32x4_extend_low_i16x8(h),
                (true, true) => i32x4_extend_high_i16x8(h),
                (false, false) => u32x4_extend_low_u16x8(h),
                (false, true) => u32x4_extend_high_u16x8(h),
            })
        };
        let a = f32x4_add(f32x4_mul(f(lo, false), x[0]), f32x4_mul(f(lo, true), x[1]));
        let b = f32x4_add(f32x4_mul(f(hi, false), x[2]), f32x4_mul(f(hi, true), x[3]));
        f32x4_add(a, b)
    }

    /// 16 bytes at byte offset `at` of `bytes` (bounds-checked).
    fn load(bytes: &[u8], at: usize) -> v128 {
        let b: &[u8; 16] = bytes[at..at + 16].try_into().expect("16 bytes");
        // SAFETY: `b` is 16 readable bytes; v128_load has no alignment requirement.
        unsafe { v128_load(b.as_ptr() as *const v128) }
    }

    /// Four finite halves (bits) as floats, exactly: the magnitude's bits moved into a float's place are the
    /// value times 2^-112 (subnormal halves too), so one multiply by 2^112 makes them the value.
    fn halves(h: &[u16]) -> v128 {
        let bits = u32x4(h[0] as u32, h[1] as u32, h[2] as u32, h[3] as u32);
        let magnitude =
            f32x4_mul(i32x4_shl(v128_and(bits, u32x4_splat(0x7fff)), 13), f32x4_splat(f32::from_bits(0x7780_0000)));
        v128_or(magnitude, i32x4_shl(v128_and(bits, u32x4_splat(0x8000)), 16))
    }

    fn lanes(v: v128) -> [f32; 4] {
        [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)]
    }

    fn load_x(x: &[f32], b: usize) -> [v128; 8] {
        core::array::from_fn(|i| {
            let f = &x[b * 32 + 4 * i..][..4];
            f32x4(f[0], f[1], f[2], f[3])
        })
    }

    pub(super) fn q4_rows(nibbles: &[u8], d: &[u16], m: &[u16], x: &[f32], xs: &[f32], y: &mut [f32]) {
        let blocks = xs.len();
        let mask = u8x16_splat(15);
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [f32x4_splat(0.0); GROUP];
            let mut offsets = f32x4_splat(0.0);
            for (b, &sum) in xs.iter().enumerate() {
                let xb = load_x(x, b);
                let at = (g * blocks + b) * GROUP;
                offsets = f32x4_add(offsets, f32x4_mul(halves(&m[at..at + GROUP]), f32x4_splat(sum)));
                let ds = lanes(halves(&d[at..at + GROUP]));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let v = load(nibbles, (at + i) * 16);
                    let dot =
                        f32x4_add(dot16(v128_and(v, mask), &xb[..4], false), dot16(u8x16_shr(v, 4), &xb[4..], false));
                    *acc = f32x4_add(*acc, f32x4_mul(f32x4_splat(ds[i]), dot));
                }
            }
            let o = [
                f32x4_extract_lane::<0>(offsets),
                f32x4_extract_lane::<1>(offsets),
                f32x4_extract_lane::<2>(offsets),
                f32x4_extract_lane::<3>(offsets),
            ];
            for i in 0..GROUP {
                y[i] = hsum(acc[i]) + o[i];
            }
        }
    }

    pub(super) fn q8_rows(q: &[i8], d: &[u16], x: &[f32], y: &mut [f32]) {
        let blocks = x.len() / 32;
        // SAFETY: i8 and u8 have the same size and alignment; the bytes are only read.
        let bytes = unsafe { core::slice::from_raw_parts(q.as_ptr() as *const u8, q.len()) };
        for (g, y) in y.chunks_exact_mut(GROUP).enumerate() {
            let mut acc = [f32x4_splat(0.0); GROUP];
            for b in 0..blocks {
                let xb = load_x(x, b);
                let at = (g * blocks + b) * GROUP;
                let ds = lanes(halves(&d[at..at + GROUP]));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let p = (at + i) * 32;
                    let dot =
                        f32x4_add(dot16(load(bytes, p), &xb[..4], true), dot16(load(bytes, p + 16), &xb[4..], true));
                    *acc = f32x4_add(*acc, f32x4_mul(f32x4_splat(ds[i]), dot));
                }
            }
            for i in 0..GROUP {
                y[i] = hsum(acc[i]);
            }
        }
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
        // The dispatched kernel (AVX2 here where the CPU has it), then the scalar one the others fall back to.
        let scalar = |first: usize, y: &mut [f32]| {
            let span = first * 3..(first + y.len()) * 3;
            scalar::q4_rows(&w.nibbles[span.start * 16..span.end * 16], &w.d[span.clone()], &w.m[span], &x, &xs, y)
        };
        for (first, use_scalar) in [(0, false), (4, false), (0, true), (4, true)] {
            let mut y = vec![0f32; 12 - first];
            if use_scalar {
                scalar(first, &mut y);
            } else {
                q4_rows(&w, first, &x, &xs, &mut y);
            }
            for (i, &got) in y.iter().enumerate() {
                let terms: Vec<f64> = (0..96).map(|c| q4_weight(&w, first + i, c) * x[c] as f64).collect();
                let (want, scale) = (terms.iter().sum::<f64>(), terms.iter().map(|t| t.abs()).sum::<f64>());
                // Float32 rounding of the terms' sizes, no more.
                assert!((got as f64 - want).abs() <= 1e-6 * scale, "row {}: {got} vs {want}", first + i);
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
        let (mut y, mut y_scalar) = (vec![0f32; rows], vec![0f32; rows]);
        q8_rows(&w, 0, &x, &mut y);
        scalar::q8_rows(&w.q, &w.d, &x, &mut y_scalar);
        let mut row = vec![0f32; cols];
        for (r, &got) in y.iter().chain(&y_scalar).enumerate() {
            let r = r % rows;
            w.row(r, &mut row);
            let terms: Vec<f64> = row.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).collect();
            let (want, scale) = (terms.iter().sum::<f64>(), terms.iter().map(|t| t.abs()).sum::<f64>());
            assert!((got as f64 - want).abs() <= 1e-6 * scale, "row {r}: {got} vs {want}");
        }
    }
}
