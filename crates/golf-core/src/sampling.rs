//! Seeded, deterministic sampling: the same seed and logits give the same choice on every platform.
//!
//! Order of operations (as in llama.cpp and candle): repetition penalty, temperature, softmax, top-k, top-p.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerSettings {
    /// 0 = greedy (argmax); 1 = the model's own distribution.
    pub temperature: f32,
    /// Keep the k most likely candidates; 0 = off.
    pub top_k: usize,
    /// Keep the smallest set of candidates whose probability reaches p; 1 = off.
    pub top_p: f32,
    /// CTRL-style penalty on recently seen ids (>1 discourages repeats); 1 = off.
    pub repetition_penalty: f32,
    pub seed: u64,
}

impl Default for SamplerSettings {
    fn default() -> Self {
        SamplerSettings { temperature: 0.8, top_k: 0, top_p: 0.95, repetition_penalty: 1.0, seed: 42 }
    }
}

/// A generation setting that makes no sense, refused before anything is sampled (a NaN temperature would
/// otherwise sample garbage, a penalty of 0 repeat one token forever).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SettingsError {
    #[error("temperature must be a number from 0 (greedy) up, not {0}")]
    Temperature(f32),
    #[error("top-p must be above 0 and at most 1 (1 = off), not {0}")]
    TopP(f32),
    #[error("the repetition penalty must be a number above 0 (1 = off; above 1 discourages repeats), not {0}")]
    RepetitionPenalty(f32),
    #[error("{what} must be at least 1, not 0")]
    Zero { what: &'static str },
}

impl SamplerSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SettingsError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SettingsError::TopP(self.top_p));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(SettingsError::RepetitionPenalty(self.repetition_penalty));
        }
        Ok(())
    }
}

/// xoshiro256** seeded through splitmix64: small, fast, and identical on wasm and native.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[derive(Clone, Debug)]
pub struct Sampler {
    pub settings: SamplerSettings,
    rng: Rng,
}

impl Sampler {
    pub fn new(settings: SamplerSettings) -> Sampler {
        Sampler { settings, rng: Rng::new(settings.seed) }
    }

    /// The candidates that survive the filters, with renormalised probabilities, most likely first.
    /// `recent` are ids the repetition penalty applies to.
    pub fn distribution(&self, logits: &[f32], recent: &[u32]) -> Vec<(usize, f64)> {
        let s = &self.settings;
        if logits.is_empty() {
            return Vec::new();
        }
        let mut adjusted: Vec<f64> = logits.iter().map(|&l| l as f64).collect();
        if s.repetition_penalty != 1.0 {
            let p = s.repetition_penalty as f64;
            for &id in recent {
                if let Some(l) = adjusted.get_mut(id as usize) {
                    *l = if *l > 0.0 { *l / p } else { *l * p };
                }
            }
        }
        if s.temperature <= 0.0 {
            // Greedy: the first index of the maximum, so ties break the same way everywhere.
            let best = (0..adjusted.len()).fold(0, |b, i| if adjusted[i] > adjusted[b] { i } else { b });
            return vec![(best, 1.0)];
        }
        let t = s.temperature as f64;
        let max = adjusted.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut probs: Vec<(usize, f64)> =
            adjusted.iter().enumerate().map(|(i, &l)| (i, ((l - max) / t).exp())).collect();
        // Stable sort: equal probabilities keep index order.
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        if s.top_k > 0 && s.top_k < probs.len() {
            probs.truncate(s.top_k);
        }
        normalize(&mut probs);
        if s.top_p < 1.0 {
            let mut mass = 0.0;
            let keep = probs
                .iter()
                .position(|&(_, p)| {
                    mass += p;
                    mass >= s.top_p as f64
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
            normalize(&mut probs);
        }
        probs
    }

    /// Draws one index from [`Sampler::distribution`].
    pub fn sample(&mut self, logits: &[f32], recent: &[u32]) -> usize {
        let dist = self.distribution(logits, recent);
        self.draw(&dist)
    }

    /// Draws from a prepared distribution (probabilities summing to 1).
    pub fn draw(&mut self, dist: &[(usize, f64)]) -> usize {
        let u = self.rng.next_f64();
        let mut acc = 0.0;
        for &(i, p) in dist {
            acc += p;
            if u < acc {
                return i;
            }
        }
        dist.last().map_or(0, |&(i, _)| i)
    }
}

fn normalize(probs: &mut [(usize, f64)]) {
    let total: f64 = probs.iter().map(|p| p.1).sum();
    if total > 0.0 {
        probs.iter_mut().for_each(|p| p.1 /= total);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nonsense_settings_are_refused() {
        use super::{SamplerSettings, SettingsError};
        let ok = SamplerSettings::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(SamplerSettings { temperature: 0.0, top_p: 1.0, ..ok }.validate(), Ok(()));
        for t in [f32::NAN, f32::INFINITY, -1.0] {
            let bad = SamplerSettings { temperature: t, ..ok }.validate();
            assert!(matches!(bad, Err(SettingsError::Temperature(_))), "{t}");
        }
        for p in [0.0, -0.5, 1.5, f32::NAN] {
            assert!(matches!(SamplerSettings { top_p: p, ..ok }.validate(), Err(SettingsError::TopP(_))), "{p}");
        }
        for r in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let bad = SamplerSettings { repetition_penalty: r, ..ok }.validate();
            assert!(matches!(bad, Err(SettingsError::RepetitionPenalty(_))), "{r}");
        }
    }

    use super::*;

    fn settings(temperature: f32, top_k: usize, top_p: f32) -> SamplerSettings {
        SamplerSettings { temperature, top_k, top_p, repetition_penalty: 1.0, seed: 7 }
    }

    fn logits_of(probs: &[f64]) -> Vec<f32> {
        probs.iter().map(|p| p.ln() as f32).collect()
    }

    #[test]
    fn fixed_seed_gives_fixed_output() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplerSettings { seed, ..settings(1.0, 0, 1.0) });
            (0..200).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn temperature_zero_is_argmax() {
        let logits = [0.1, 2.5, -1.0, 2.4, 2.5];
        let mut s = Sampler::new(settings(0.0, 0, 0.5));
        for _ in 0..20 {
            assert_eq!(s.sample(&logits, &[]), 1);
        }
        // The penalty can move the argmax.
        let mut p = Sampler::new(SamplerSettings { repetition_penalty: 2.0, ..settings(0.0, 0, 1.0) });
        assert_eq!(p.sample(&logits, &[1, 4]), 3);
    }

    #[test]
    fn top_p_keeps_smallest_set_reaching_p() {
        let probs = [0.05, 0.4, 0.1, 0.3, 0.15];
        let logits = logits_of(&probs);
        let cases: [(f32, &[usize]); 5] =
            [(0.3, &[1]), (0.39, &[1]), (0.41, &[1, 3]), (0.71, &[1, 3, 4]), (0.86, &[1, 3, 4, 2])];
        for (p, want) in cases {
            let dist = Sampler::new(settings(1.0, 0, p)).distribution(&logits, &[]);
            let kept: Vec<usize> = dist.iter().map(|d| d.0).collect();
            assert_eq!(kept, want, "top_p={p}");
            assert!((dist.iter().map(|d| d.1).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let all = Sampler::new(settings(1.0, 0, 0.96)).distribution(&logits, &[]);
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn top_k_keeps_k() {
        let logits = logits_of(&[0.1, 0.2, 0.3, 0.4]);
        let dist = Sampler::new(settings(1.0, 2, 1.0)).distribution(&logits, &[]);
        assert_eq!(dist.iter().map(|d| d.0).collect::<Vec<_>>(), vec![3, 2]);
        assert!((dist[0].1 - 0.4 / 0.7).abs() < 1e-6);
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let logits = logits_of(&[0.2, 0.8]);
        let cold = Sampler::new(settings(0.5, 0, 1.0)).distribution(&logits, &[]);
        let hot = Sampler::new(settings(2.0, 0, 1.0)).distribution(&logits, &[]);
        assert!((cold[0].1 - 0.64 / 0.68).abs() < 1e-6);
        assert!((hot[0].1 - 2.0 / 3.0).abs() < 1e-6);
    }

    /// Chi-square goodness of fit with a fixed seed: 200k draws from a 6-way distribution.
    #[test]
    fn sampled_frequencies_match_the_distribution() {
        let probs = [0.35, 0.25, 0.2, 0.1, 0.07, 0.03];
        let logits = logits_of(&probs);
        let mut s = Sampler::new(settings(1.0, 0, 1.0));
        let n = 200_000;
        let mut counts = [0usize; 6];
        for _ in 0..n {
            counts[s.sample(&logits, &[])] += 1;
        }
        let chi2: f64 = probs
            .iter()
            .zip(counts)
            .map(|(&p, c)| {
                let e = p * n as f64;
                (c as f64 - e).powi(2) / e
            })
            .sum();
        // 5 degrees of freedom: the 0.999 quantile is 20.52.
        assert!(chi2 < 20.52, "chi2 = {chi2}, counts = {counts:?}");
        // And it must be able to fail: a wrong distribution is rejected.
        let wrong: f64 = [0.3, 0.3, 0.2, 0.1, 0.07, 0.03]
            .iter()
            .zip(counts)
            .map(|(&p, c)| (c as f64 - p * n as f64).powi(2) / (p * n as f64))
            .sum();
        assert!(wrong > 20.52);
    }
}
