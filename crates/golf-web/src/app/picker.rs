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
            fit_text_box();
            show_error("");
            // The visitor's own choice: a link's long text no longer waits to be asked for.
            super::links::release(&s);
            spawn_local(score(s.clone(), None));
        }
    });
    let s = state.clone();
    on_id("text", "input", move |_| {
        by_id::<HtmlSelectElement>("sample").set_value("own");
        // A paste can make the text too long to edit here (keys typed near the limit do not: the box stays).
        if by_id::<HtmlTextAreaElement>("text").text_length() > EDIT_MAX_UNITS + EDIT_MAX_UNITS / 8 {
            fit_text_box();
        }
        super::text_changed(&s);
    });
    let s = state.clone();
    on_id("text-clear", "click", move |_| {
        by_id::<HtmlTextAreaElement>("text").set_value("");
        by_id::<HtmlSelectElement>("sample").set_value("own");
        fit_text_box();
        super::text_changed(&s);
        let _ = by_id::<HtmlElement>("text").focus();
    });
    let s = state.clone();
    on_id("file", "change", move |_| {
        let input: HtmlInputElement = by_id("file");
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            spawn_local(load_file(s.clone(), file));
        }
    });
    // A file dropped on the text box, or on the start of a long text shown in its place.
    for target in ["text", "text-preview"] {
        on_id(target, "dragover", |e| e.prevent_default());
        let s = state.clone();
        on_id(target, "drop", move |e| dropped(&s, &e));
    }
    // A link's text is in the box already.
    fit_text_box();
}

/// A file dropped on the text box: an artifact is meant as a golfer, anything else as text.
fn dropped(s: &Shared, e: &Event) {
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
}

/// Characters (UTF-16 units, as the box counts them) up to which the text box stays editable. Chromium's text box
/// takes time for every key that grows with its text: 6-9 ms at 256 KB, 8-25 ms at 512 KB with a key at 82, and
/// 100-260 ms at 4 MB, for every key, click or caret move (measured on two cores).
const EDIT_MAX_UNITS: u32 = 256 * 1024;

/// Characters of a long text shown in the box's place.
const PREVIEW_CHARS: usize = 32 * 1024;

/// Shows the text box, or, for a text too long to edit in it, the start of the text read-only in its place (the
/// text stays in the hidden box: scoring, links and exports read it there) and a note that says why.
pub(super) fn fit_text_box() {
    let text: HtmlTextAreaElement = by_id("text");
    let long = text.text_length() > EDIT_MAX_UNITS;
    let preview: HtmlTextAreaElement = by_id("text-preview");
    if long {
        let value = text.value();
        let start: String = value.chars().take(PREVIEW_CHARS).collect();
        preview.set_value(&format!("{start}\n[…]"));
        set_text(
            "text-note-says",
            &format!(
                "This text is {:.1} MB: the box shows its start, read-only, since a browser's text box takes a moment \
                 at every key on a text this long. The golfers score all of it. To change it, edit the file and drop \
                 it again, pick a sample, or",
                value.len() as f64 / 1e6
            ),
        );
    } else if preview.value().is_empty() {
        return;
    } else {
        preview.set_value("");
    }
    text.unchecked_ref::<HtmlElement>().set_hidden(long);
    preview.unchecked_ref::<HtmlElement>().set_hidden(!long);
    by_id::<HtmlElement>("text-note").set_hidden(!long);
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
            fit_text_box();
            show_error("");
            super::links::release(&state);
            score(state, None).await;
        }
        Err(e) => show_error(&format!(
            "{name} is not UTF-8 text (byte {} is not valid UTF-8); the golfers score text. `golf score --bytes` scores raw bytes with gzip.",
            e.utf8_error().valid_up_to()
        )),
    }
}
