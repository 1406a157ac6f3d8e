//! Loading a neural golfer from the site's own files, with a download progress bar.

use super::*;

/// The download row of golfer `folder` (its label, progress bar and note): the one reserved for it
/// ([`reserve_download_row`]), or a new one.
fn download_row(folder: &str) -> (Element, Element, Element, Element) {
    let doc = document();
    if let (Some(row), Some(bar), Some(note)) = (
        doc.get_element_by_id(&format!("download-{folder}")),
        doc.get_element_by_id(&format!("progress-{folder}")),
        doc.get_element_by_id(&format!("progress-text-{folder}")),
    ) {
        if let Some(label) = row.first_element_child() {
            return (row, label, bar, note);
        }
    }
    reserve_download_row(folder);
    download_row(folder)
}

/// A download row for golfer `folder`, waiting: made before any golfer loads, so the rows do not push the page
/// down one by one as the golfers start.
pub(super) fn reserve_download_row(folder: &str) {
    let row = el("div", "download", &format!("download-{folder}"));
    let label = el("span", "download-label", "");
    label.set_text_content(Some(folder));
    let bar = el("progress", "", &format!("progress-{folder}"));
    // Empty, not the animation of work under way.
    let _ = bar.set_attribute("value", "0");
    let note = el("span", "download-note", &format!("progress-text-{folder}"));
    note.set_text_content(Some("waiting for the golfers before it…"));
    for child in [&label, &bar, &note] {
        let _ = row.append_child(child);
    }
    let _ = by_id::<Element>("downloads").append_child(&row);
}

/// Loads a neural golfer from `models/{folder}/` (ONNX Runtime Web and every file from this site), with a
/// download progress bar; true when it loaded and has a panel.
pub(super) async fn load_onnx(state: &Shared, folder: &str, threads: Option<u32>) -> bool {
    let (row, label, bar, note) = download_row(folder);
    note.set_text_content(Some("starting…"));
    let bar: web_sys::HtmlProgressElement = bar.unchecked_into();
    let mb = |b: u64| b as f64 / 1e6;
    let result: Result<Rc<Remote>, String> = async {
        let manifest_path = format!("models/{folder}/golfer.json");
        let manifest =
            Manifest::parse(&fetch_text(&manifest_path).await?, &manifest_path).map_err(|e| e.to_string())?;
        label.set_text_content(Some(&manifest.label));
        let tok_path = format!("models/{folder}/{}", manifest.tokenizer.file);
        let tok = download::Expect {
            path: &tok_path,
            sha256: &manifest.tokenizer.sha256,
            bytes: None,
            rebuild: manifest.tokenizer_rebuild(),
        };
        let (tokenizer, _) = download::model_file(&tok, &|_, _| {}).await?;
        let onnx_path = format!("models/{folder}/{}", manifest.onnx.path);
        let onnx = download::Expect {
            path: &onnx_path,
            sha256: &manifest.onnx.sha256,
            bytes: Some(manifest.onnx.bytes),
            rebuild: &manifest.rebuild,
        };
        let progress = |done: u64, total: u64| {
            bar.set_max(total.max(1) as f64);
            bar.set_value(done as f64);
            note.set_text_content(Some(&format!("{:.1} of {:.1} MB", mb(done), mb(total))));
        };
        let (bytes, source) = download::model_file(&onnx, &progress).await?;
        let size = mb(bytes.len() as u64);
        let (how, tag) = match source {
            download::Source::Network { seconds } => (format!("downloaded {size:.1} MB in {seconds:.1} s"), "network"),
            download::Source::BrowserCache => (format!("{size:.1} MB from the browser's cache"), "cache"),
        };
        row.set_attribute("data-source", tag).unwrap();
        note.set_text_content(Some(&format!("{how}; starting the model…")));
        let t0 = now_ms();
        let golfer = start_golfer(state, manifest, bytes, tokenizer, threads).await?;
        note.set_text_content(Some(&format!("{how}; model ready in {:.1} s", (now_ms() - t0) / 1e3)));
        Ok(golfer)
    }
    .await;
    match result {
        Ok(g) => {
            row.set_attribute("data-done", "true").unwrap();
            add_panel(state, g);
            true
        }
        Err(e) => {
            row.set_attribute("data-error", "true").unwrap();
            note.set_text_content(Some("failed"));
            release_panel(folder);
            show_error(&format!("The {folder} golfer did not load: {e}. The other golfers still work."));
            false
        }
    }
}

/// A neural golfer in a worker of its own, from its manifest and checked files.
pub(super) async fn start_golfer(
    state: &Shared,
    manifest: Manifest,
    onnx: Vec<u8>,
    tokenizer: Vec<u8>,
    threads: Option<u32>,
) -> Result<Rc<Remote>, String> {
    let load = Request::Load { manifest: Box::new(manifest), dist: absolute("ort/"), threads: ort_threads(threads) };
    Remote::start(state, load, vec![onnx, tokenizer]).await
}
