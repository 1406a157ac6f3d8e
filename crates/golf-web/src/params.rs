//! The page's URL parameters (`?threads=`, `?chain_s=`, `?golfers=`, `?bench=`). Like a share link's settings,
//! anyone can put them in a link, so each is bounded by what the page and the machine can do, and a value the
//! page does not take as given is said, in words a visitor follows.

/// ONNX Runtime Web's threads per golfer never exceed this, whatever the machine reports.
pub const MAX_THREADS: u32 = 16;

/// Seconds of model time a diffusion chain rule may take (one model call per token), and the most a link may ask.
pub const CHAIN_BUDGET_S: f64 = 30.0;
pub const MAX_CHAIN_BUDGET_S: f64 = 3600.0;

/// The site's own neural golfers (`models/<id>/`); `?golfers=none` loads none of them.
pub const GOLFERS: [&str; 3] = ["ar", "mdlm", "smollm2"];

/// A parameter's value as the page takes it, and what it says when that is not what the link asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Taken<T> {
    pub value: T,
    pub note: Option<String>,
}

impl<T> Taken<T> {
    fn quiet(value: T) -> Self {
        Taken { value, note: None }
    }
    fn said(value: T, note: String) -> Self {
        Taken { value, note: Some(note) }
    }
}

/// `?threads=N`: ONNX Runtime Web's threads per golfer, at least 1 and at most the machine's cores (as the
/// browser reports them, `navigator.hardwareConcurrency`) and [`MAX_THREADS`]. More threads than cores only
/// starts more workers to wait on each other (`?threads=64` started 65 workers on 2 cores). Without cross-origin
/// isolation ONNX Runtime Web runs one thread, whatever is asked. None: the page's own choice.
pub fn threads(asked: &str, cores: f64, isolated: bool) -> Taken<Option<u32>> {
    let Ok(n) = asked.trim().parse::<u32>() else {
        return Taken::said(
            None,
            format!("This link's ?threads={} is not a number of threads; the page chooses.", cut(asked)),
        );
    };
    // `hardwareConcurrency` is a float in web-sys; a browser hiding it may say 0.
    let cores = if cores.is_finite() && cores >= 1.0 { cores.min(f64::from(MAX_THREADS)) as u32 } else { 1 };
    let most = cores.clamp(1, MAX_THREADS);
    if !isolated && n > 1 {
        return Taken::said(
            Some(1),
            format!(
                "This link asks for {n} threads per golfer (?threads={n}), but this page is not cross-origin \
                 isolated here, so each golfer runs on one thread."
            ),
        );
    }
    match n {
        0 => Taken::said(Some(1), "This link asks for 0 threads per golfer (?threads=0); each golfer uses 1.".into()),
        n if n > most => {
            let limit = if most == MAX_THREADS {
                format!("the page uses at most {MAX_THREADS}")
            } else {
                format!("this machine has {most} core{}", if most == 1 { "" } else { "s" })
            };
            Taken::said(
                Some(most),
                format!("This link asks for {n} threads per golfer (?threads={n}), but {limit}, so each golfer uses {most}."),
            )
        }
        n => Taken::quiet(Some(n)),
    }
}

/// `?chain_s=S`: seconds of model time for a diffusion chain rule, above 0 and at most [`MAX_CHAIN_BUDGET_S`].
pub fn chain_budget(asked: &str) -> Taken<f64> {
    match asked.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_CHAIN_BUDGET_S => Taken::quiet(s),
        _ => Taken::said(
            CHAIN_BUDGET_S,
            format!(
                "This link's ?chain_s={} is not a time the page takes (above 0, at most {MAX_CHAIN_BUDGET_S} \
                 seconds); a diffusion chain rule gets {CHAIN_BUDGET_S} s.",
                cut(asked)
            ),
        ),
    }
}

/// `?golfers=ar,mdlm`: which of the site's neural golfers load (gzip always does); `none` for none of them. A
/// name that is none of them is said.
pub fn golfers(asked: &str) -> Taken<Vec<String>> {
    let names: Vec<&str> = asked.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none").collect();
    let known: Vec<String> = names.iter().filter(|n| GOLFERS.contains(n)).map(|n| n.to_string()).collect();
    let unknown: Vec<String> = names.iter().filter(|n| !GOLFERS.contains(n)).map(|n| cut(n)).collect();
    match unknown.is_empty() {
        true => Taken::quiet(known),
        false => Taken::said(
            known,
            format!(
                "This link names golfers the site does not have (?golfers=): {}. Its golfers are {}; gzip is \
                 always there.",
                unknown.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                GOLFERS.join(", ")
            ),
        ),
    }
}

/// `?bench=ID`: one of the site's golfers to measure, or why not.
pub fn bench(asked: &str) -> Result<String, String> {
    match GOLFERS.contains(&asked) {
        true => Ok(asked.to_string()),
        false => Err(format!("?bench={} is not one of the site's golfers ({}).", cut(asked), GOLFERS.join(", "))),
    }
}

/// A value from the URL, cut short for a message.
fn cut(value: &str) -> String {
    match value.char_indices().nth(24) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's `?threads=64` on 2 cores started 65 workers: a link gets at most the machine's cores.
    #[test]
    fn threads_are_clamped_to_the_cores_and_said() {
        let t = threads("64", 2.0, true);
        assert_eq!(t.value, Some(2));
        let note = t.note.unwrap();
        assert!(note.contains("?threads=64") && note.contains("this machine has 2 cores") && note.contains("uses 2"));
        assert_eq!(threads("2", 2.0, true), Taken { value: Some(2), note: None });
        assert_eq!(threads("1", 1.0, true), Taken { value: Some(1), note: None });
        assert!(threads("2", 1.0, true).note.unwrap().contains("this machine has 1 core,"));
        assert_eq!(threads("0", 8.0, true).value, Some(1));
        assert_eq!(threads("64", 128.0, true).value, Some(MAX_THREADS));
        assert!(threads("64", 128.0, true).note.unwrap().contains("at most 16"));
        // A browser that hides its cores (0, NaN) gets one thread per golfer.
        assert_eq!(threads("4", 0.0, true).value, Some(1));
        assert_eq!(threads("4", f64::NAN, true).value, Some(1));
        assert_eq!(threads("4", 8.0, false).value, Some(1));
        assert!(threads("4", 8.0, false).note.unwrap().contains("not cross-origin isolated"));
        for bad in ["-1", "lots", "4294967296", ""] {
            let t = threads(bad, 8.0, true);
            assert!(t.value.is_none() && t.note.unwrap().contains("not a number of threads"), "{bad}");
        }
    }

    #[test]
    fn a_chain_budget_is_bounded() {
        assert_eq!(chain_budget("12.5"), Taken { value: 12.5, note: None });
        for bad in ["0", "-3", "NaN", "inf", "1e9", "x"] {
            let t = chain_budget(bad);
            assert!(t.value == CHAIN_BUDGET_S && t.note.unwrap().contains(&format!("?chain_s={bad}")), "{bad}");
        }
    }

    #[test]
    fn unknown_golfers_are_said() {
        assert_eq!(golfers("ar, mdlm"), Taken { value: vec!["ar".to_string(), "mdlm".to_string()], note: None });
        assert_eq!(golfers("none"), Taken { value: Vec::new(), note: None });
        let t = golfers("ar,gpt5");
        assert_eq!(t.value, vec!["ar".to_string()]);
        assert!(t.note.unwrap().contains("gpt5"));
        assert!(bench("ar").is_ok() && bench("../x").unwrap_err().contains("not one of the site's golfers"));
        let long = threads(&"9".repeat(10_000), 2.0, true).note.unwrap();
        assert!(long.len() < 200, "{long}");
    }
}
