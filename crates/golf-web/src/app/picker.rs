//! The text box's sources: the samples, a chosen or dropped file.

use super::*;

/// The text box's sources: the samples, a chosen file, a dropped file; a new text is scored at once.
pub(super) fn wire_text_picker(state: &Shared) {
    let select: HtmlSelectElement = by_id("sample");
    let current = by_id::<HtmlTextAreaElement>("text").value();
    for (id, label, text) in crate::SAMPLES {
        let option = el("option", "", "");
        let _ = option.set_attribute("value", id);
        option.set_text_content(Some(label));
        let _ = select.append_child(&option);
        if *text == current {
            select.set_value(id);
        }
    }
    let own = el("option", "", "");
    let _ = own.set_attribute("value", "own");
    own.set_text_content(Some("Your own text"));
    let _ = select.append_child(&own);
    if !crate::SAMPLES.iter().any(|(_, _, t)| *t == current) {
        select.set_value("own");
    }
    let s = state.clone();
    on_id("sample", "change", move |_| {
        let id = by_id::<HtmlSelectElement>("sample").value();
        if let Some((_, _, text)) = crate::SAMPLES.iter().find(|(i, _, _)| *i == id) {
            by_id::<HtmlTextAreaElement>("text").set_value(text);
            show_error("");
            spawn_local(score(s.clone(), None));
        }
    });
    let s = state.clone();
    on_id("text", "input", move |_| {
        by_id::<HtmlSelectElement>("sample").set_value("own");
        super::text_changed(&s);
    });
    let s = state.clone();
    on_id("file", "change", move |_| {
        let input: HtmlInputElement = by_id("file");
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            spawn_local(load_file(s.clone(), file));
        }
    });
    on_id("text", "dragover", |e| e.prevent_default());
    let s = state.clone();
    on_id("text", "drop", move |e| {
        let Some(drag) = e.dyn_ref::<web_sys::DragEvent>() else { return };
        let Some(file) = drag.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) else { return };
        e.prevent_default();
        // An artifact dropped on the text box is meant as a golfer, not as text.
        if file.name().ends_with(".ptz") {
            let files = drag.data_transfer().and_then(|d| d.files());
            let all = files.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default();
            return spawn_local(super::local::import_files(s.clone(), all));
        }
        spawn_local(load_file(s.clone(), file));
    });
}

/// A file into the text box: UTF-8 text up to the share limit, or an error that says what is wrong.
pub(super) async fn load_file(state: Shared, file: web_sys::File) {
    let name = file.name();
    if file.size() > crate::share::MAX_TEXT_BYTES as f64 {
        return show_error(&format!(
            "{name} is {:.1} MB; the page takes texts up to {} MB.",
            file.size() / 1e6,
            crate::share::MAX_TEXT_BYTES >> 20
        ));
    }
    let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        Err(e) => return show_error(&format!("{name} could not be read: {}", js_err(e))),
    };
    match String::from_utf8(bytes) {
        Ok(text) => {
            by_id::<HtmlTextAreaElement>("text").set_value(&text);
            by_id::<HtmlSelectElement>("sample").set_value("own");
            show_error("");
            score(state, None).await;
        }
        Err(e) => show_error(&format!(
            "{name} is not UTF-8 text (byte {} is not valid UTF-8); the golfers score text. `golf score --bytes` scores raw bytes with gzip.",
            e.utf8_error().valid_up_to()
        )),
    }
}
