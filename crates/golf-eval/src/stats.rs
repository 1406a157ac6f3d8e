//! The summary of a run: each golfer's bits per byte over the whole set (total bits over total bytes, so a long
//! document weighs what its bytes do) with a bootstrap interval over documents, and for each pair of golfers the
//! difference with its interval and the share of documents the first wins. The resampling is seeded: the same
//! seed gives the same intervals.

use serde::{Deserialize, Serialize};

/// One golfer's scores of every document, in document order: (bytes, bits).
pub struct Scores<'a> {
    pub golfer: &'a str,
    pub docs: &'a [(u64, f64)],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GolferSummary {
    pub golfer: String,
    pub documents: usize,
    pub bytes: u64,
    pub bits: f64,
    /// Total bits over total bytes.
    pub bpb: f64,
    /// The bootstrap interval of `bpb` over documents.
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairSummary {
    pub a: String,
    pub b: String,
    /// `a`'s bpb minus `b`'s (negative: `a` needs fewer bits).
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// The share of documents (with any bytes) on which `a`'s bpb is lower than `b`'s; a tie counts half.
    pub a_wins: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub documents: usize,
    /// The interval's level (0.95) and how it was drawn.
    pub level: f64,
    pub resamples: usize,
    pub seed: u64,
    pub golfers: Vec<GolferSummary>,
    pub pairs: Vec<PairSummary>,
}

/// A small seeded generator (SplitMix64): the same numbers on every machine and in every version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0), by the high bits of a 128-bit product.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// The value at quantile `q` of sorted `values`, between order statistics as numpy's default does.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    a + (b - a) * (at - lo as f64)
}

fn ratio(bits: f64, bytes: u64) -> f64 {
    if bytes == 0 {
        f64::NAN
    } else {
        bits / bytes as f64
    }
}

/// The summary of `scores` (every golfer's over the same documents): `resamples` bootstrap draws of the documents
/// from `seed`, each scored by every golfer and pair at once (paired), for intervals at `level`.
pub fn summarize(scores: &[Scores], resamples: usize, seed: u64, level: f64) -> Summary {
    let n = scores.first().map_or(0, |s| s.docs.len());
    let total = |s: &Scores, pick: &mut dyn Iterator<Item = usize>| {
        pick.fold((0u64, 0.0f64), |(bytes, bits), k| {
            let (b, x) = s.docs.get(k).copied().unwrap_or((0, 0.0));
            (bytes + b, bits + x)
        })
    };
    let whole: Vec<(u64, f64)> = scores.iter().map(|s| total(s, &mut (0..n))).collect();
    let pairs: Vec<(usize, usize)> =
        (0..scores.len()).flat_map(|a| (a + 1..scores.len()).map(move |b| (a, b))).collect();
    // Each draw: every golfer's bpb over the same resampled documents, and each pair's difference.
    let mut golfer_draws: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); scores.len()];
    let mut pair_draws: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); pairs.len()];
    let mut rng = SplitMix64(seed);
    let mut pick: Vec<usize> = vec![0; n];
    if n > 0 {
        for _ in 0..resamples {
            for p in pick.iter_mut() {
                *p = rng.below(n);
            }
            let bpb: Vec<f64> = scores
                .iter()
                .map(|s| {
                    let (bytes, bits) = total(s, &mut pick.iter().copied());
                    ratio(bits, bytes)
                })
                .collect();
            for (g, v) in bpb.iter().enumerate() {
                golfer_draws[g].push(*v);
            }
            for (k, &(a, b)) in pairs.iter().enumerate() {
                pair_draws[k].push(bpb[a] - bpb[b]);
            }
        }
    }
    let interval = |draws: &mut Vec<f64>| {
        draws.retain(|v| v.is_finite());
        draws.sort_by(f64::total_cmp);
        (quantile(draws, (1.0 - level) / 2.0), quantile(draws, 1.0 - (1.0 - level) / 2.0))
    };
    let golfers = scores
        .iter()
        .zip(&whole)
        .zip(golfer_draws.iter_mut())
        .map(|((s, &(bytes, bits)), draws)| {
            let (low, high) = interval(draws);
            GolferSummary { golfer: s.golfer.into(), documents: n, bytes, bits, bpb: ratio(bits, bytes), low, high }
        })
        .collect();
    let pairs = pairs
        .iter()
        .zip(pair_draws.iter_mut())
        .map(|(&(a, b), draws)| {
            let (low, high) = interval(draws);
            let (sa, sb) = (&scores[a], &scores[b]);
            let (mut wins, mut counted) = (0.0, 0usize);
            for (&(bytes, bits_a), &(_, bits_b)) in sa.docs.iter().zip(sb.docs) {
                if bytes > 0 {
                    counted += 1;
                    wins += match bits_a.total_cmp(&bits_b) {
                        std::cmp::Ordering::Less => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Greater => 0.0,
                    };
                }
            }
            PairSummary {
                a: sa.golfer.into(),
                b: sb.golfer.into(),
                difference: ratio(whole[a].1, whole[a].0) - ratio(whole[b].1, whole[b].0),
                low,
                high,
                a_wins: if counted == 0 { f64::NAN } else { wins / counted as f64 },
            }
        })
        .collect();
    Summary { documents: n, level, resamples, seed, golfers, pairs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_weigh_documents_by_their_bytes() {
        let a = [(100, 100.0), (300, 900.0)];
        let s = summarize(&[Scores { golfer: "a", docs: &a }], 200, 1, 0.95);
        assert_eq!(s.golfers[0].bpb, 1000.0 / 400.0);
        assert!(s.golfers[0].low <= s.golfers[0].bpb && s.golfers[0].bpb <= s.golfers[0].high);
        // Every draw lies between the two documents' own bpb.
        assert!(s.golfers[0].low >= 1.0 && s.golfers[0].high <= 3.0);
    }

    #[test]
    fn the_same_seed_gives_the_same_intervals_and_another_seed_others() {
        let a: Vec<(u64, f64)> = (1..50).map(|k| (k * 10, (k * k) as f64)).collect();
        let b: Vec<(u64, f64)> = (1..50).map(|k| (k * 10, (k * 13) as f64)).collect();
        let scores = [Scores { golfer: "a", docs: &a }, Scores { golfer: "b", docs: &b }];
        let one = summarize(&scores, 500, 7, 0.95);
        assert_eq!(one, summarize(&scores, 500, 7, 0.95));
        assert_ne!(one.golfers[0].low, summarize(&scores, 500, 8, 0.95).golfers[0].low);
        let pair = &one.pairs[0];
        assert_eq!((pair.a.as_str(), pair.b.as_str()), ("a", "b"));
        assert!((pair.difference - (one.golfers[0].bpb - one.golfers[1].bpb)).abs() < 1e-12);
        assert!(pair.low <= pair.difference && pair.difference <= pair.high);
        // a wins where k * k < 13 k (k = 1..12 of 49) and ties at k = 13.
        assert!((pair.a_wins - 12.5 / 49.0).abs() < 1e-12);
    }

    #[test]
    fn ties_count_half_and_empty_documents_not_at_all() {
        let a = [(10, 5.0), (0, 0.0), (10, 7.0)];
        let b = [(10, 5.0), (0, 0.0), (10, 9.0)];
        let s = summarize(&[Scores { golfer: "a", docs: &a }, Scores { golfer: "b", docs: &b }], 50, 0, 0.95);
        assert_eq!(s.pairs[0].a_wins, 0.75);
    }

    #[test]
    fn quantiles_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
    }
}
