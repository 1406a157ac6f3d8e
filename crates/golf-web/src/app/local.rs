//! Your own golfer: a participant's `.ptz` dropped on the page (or chosen), imported in its worker by the same
//! code as `golf import`, added as a panel and a race lane, and kept in this browser's Cache Storage until
//! removed. What is kept is the artifact and the import's options, so a reload imports it again, exactly as the
//! first time.

use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

use super::*;
use crate::share::LocalGolfer;

const CACHE_NAME: &str = "four-golfers-local";
/// The ids of the golfers kept, in the order they were added.
const INDEX: &str = "local/index.json";

/// What a kept golfer is made from.
struct Kept {
    file: String,
    ptz: Vec<u8>,
    tokenizer: Option<(String, Vec<u8>)>,
    name: String,
    activation: String,
    context: Option<usize>,
}

async fn cache() -> Result<Cache, String> {
    let caches =
        window().caches().map_err(|_| "this browser keeps no Cache Storage here (it needs https or localhost)")?;
    JsFuture::from(caches.open(CACHE_NAME)).await.map_err(js_err)?.dyn_into().map_err(js_err)
}

fn key(path: &str) -> String {
    absolute(path)
}

async fn get(cache: &Cache, path: &str) -> Option<Vec<u8>> {
    let resp: Response = JsFuture::from(cache.match_with_str(&key(path))).await.ok()?.dyn_into().ok()?;
    let buffer = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

async fn put(cache: &Cache, path: &str, bytes: &[u8]) -> Result<(), String> {
    let copy = js_sys::Uint8Array::from(bytes);
    let resp = Response::new_with_opt_buffer_source(Some(&copy)).map_err(js_err)?;
    JsFuture::from(cache.put_with_str(&key(path), &resp))
        .await
        .map_err(|e| format!("the browser did not keep it ({})", js_err(e)))?;
    Ok(())
}

async fn kept_ids(cache: &Cache) -> Vec<String> {
    let Some(bytes) = get(cache, INDEX).await else { return Vec::new() };
    serde_json::from_slice(&bytes).unwrap_or_default()
}

async fn set_ids(cache: &Cache, ids: &[String]) -> Result<(), String> {
    put(cache, INDEX, serde_json::to_string(ids).unwrap_or_default().as_bytes()).await
}

async fn keep(cache: &Cache, id: &str, k: &Kept) -> Result<(), String> {
    put(cache, &format!("local/{id}/artifact"), &k.ptz).await?;
    if let Some((_, bytes)) = &k.tokenizer {
        put(cache, &format!("local/{id}/tokenizer"), bytes).await?;
    }
    let options = serde_json::json!({
        "file": k.file, "name": k.name, "activation": k.activation, "context": k.context,
        "tokenizer": k.tokenizer.as_ref().map(|t| t.0.clone()),
    });
    put(cache, &format!("local/{id}/options.json"), options.to_string().as_bytes()).await?;
    let mut ids = kept_ids(cache).await;
    if !ids.iter().any(|i| i == id) {
        ids.push(id.to_string());
    }
    set_ids(cache, &ids).await
}

async fn read_kept(cache: &Cache, id: &str) -> Option<Kept> {
    let options: serde_json::Value =
        serde_json::from_slice(&get(cache, &format!("local/{id}/options.json")).await?).ok()?;
    let text = |k: &str| options.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let tokenizer = match text("tokenizer") {
        Some(name) => Some((name, get(cache, &format!("local/{id}/tokenizer")).await?)),
        None => None,
    };
    Some(Kept {
        file: text("file")?,
        ptz: get(cache, &format!("local/{id}/artifact")).await?,
        tokenizer,
        name: text("name")?,
        activation: text("activation").unwrap_or_default(),
        context: options.get("context").and_then(|v| v.as_u64()).map(|c| c as usize),
    })
}

/// The import's options from the form; an empty box takes the importer's default (and it says so).
fn form_options() -> Result<(String, Option<usize>, String), String> {
    let activation = by_id::<HtmlInputElement>("import-activation").value().trim().to_string();
    let context = match by_id::<HtmlInputElement>("import-context").value().trim() {
        "" => None,
        c => Some(
            c.parse::<usize>()
                .ok()
                .filter(|&c| c >= 2)
                .ok_or(format!("the context '{c}' is not a whole number from 2 up"))?,
        ),
    };
    Ok((activation, context, by_id::<HtmlInputElement>("import-name").value().trim().to_string()))
}

/// Adds the golfer's panel and race lane, with what was assumed and a Remove button, and scores the text.
async fn add(state: &Shared, k: &Kept) -> Result<String, String> {
    let import = Import {
        file: k.file.clone(),
        name: k.name.clone(),
        activation: k.activation.clone(),
        context: k.context,
        tokenizer: k.tokenizer.as_ref().map(|(name, _)| name.clone()),
    };
    let mut files = vec![k.ptz.clone()];
    files.extend(k.tokenizer.as_ref().map(|(_, bytes)| bytes.clone()));
    let (golf, assumed) = start_import(state, import, files).await?;
    let id = golf.id();
    if state.borrow().panels.iter().any(|p| p.golf.id() == id) {
        golf.terminate();
        return Err(format!("a golfer called {id} is already here: remove it first, or give this one another name"));
    }
    add_panel(state, golf);
    let panel: Element = by_id(&format!("panel-{id}"));
    let _ = panel.set_attribute("data-local", "true");
    let note = el("p", "note local-note", &format!("local-note-{id}"));
    let assumed = if assumed.is_empty() { "nothing".to_string() } else { assumed.join("; ") };
    note.set_text_content(Some(&format!(
        "Imported in this browser, and kept here until removed; a share link tells its recipient which file to drop. Assumed: {assumed}. "
    )));
    let remove = el("button", "secondary", &format!("remove-{id}"));
    remove.set_text_content(Some("Remove"));
    let _ = remove.set_attribute("type", "button");
    let _ = note.append_child(&remove);
    if let Some(head) = panel.first_element_child() {
        let _ = head.after_with_node_1(&note);
    }
    let s = state.clone();
    let gid = id.clone();
    on(&remove, "click", move |_| spawn_local(forget(s.clone(), gid.clone())));
    Ok(id)
}

/// Removes a kept golfer: from the browser's storage, and its panel and lane from the page.
async fn forget(state: Shared, id: String) {
    if let Some(p) = state.borrow_mut().panels.iter_mut().find(|p| p.golf.id() == id) {
        cancel_panel(p);
        // Its worker and the memory of its model go now.
        p.golf.terminate();
    }
    for toggle in [format!("score-{id}"), format!("race-{id}")] {
        if let Some(input) = document().get_element_by_id(&toggle) {
            input.unchecked_ref::<HtmlInputElement>().set_checked(false);
            if let Some(label) = input.parent_element() {
                label.unchecked_ref::<HtmlElement>().set_hidden(true);
            }
        }
    }
    by_id::<HtmlElement>(&format!("panel-{id}")).set_hidden(true);
    set_attr(&format!("panel-{id}"), "data-removed", "true");
    super::scoreboard::remove(&id);
    if let Ok(cache) = cache().await {
        let ids: Vec<String> = kept_ids(&cache).await.into_iter().filter(|i| *i != id).collect();
        let _ = set_ids(&cache, &ids).await;
        for part in ["artifact", "tokenizer", "options.json"] {
            let _ = JsFuture::from(cache.delete_with_str(&key(&format!("local/{id}/{part}")))).await;
        }
    }
    schedule_results(&state);
    set_text("import-status", &format!("{id} removed"));
}

/// Files dropped or chosen: one `.ptz` and, optionally, the `.model` tokenizer it was trained with. Any failure
/// once the artifact is known (its options, its import, its worker crashing, its golfer's model) is said as
/// "FILE was not imported: REASON".
pub(super) async fn import_files(state: Shared, files: Vec<web_sys::File>) {
    let status = |s: &str| set_text("import-status", s);
    set_attr("import-status", "data-state", "working");
    // The artifact's name, once known: every failure after that names it.
    let artifact: Rc<RefCell<Option<String>>> = Rc::default();
    let named = artifact.clone();
    let result: Result<String, String> = async {
        let read = |f: web_sys::File| async move {
            let buffer = JsFuture::from(f.array_buffer())
                .await
                .map_err(|e| format!("{} could not be read ({})", f.name(), js_err(e)))?;
            Ok::<_, String>((f.name(), js_sys::Uint8Array::new(&buffer).to_vec()))
        };
        let (mut ptz, mut tokenizer) = (None, None);
        for f in files {
            let name = f.name();
            if name.ends_with(".model") {
                tokenizer = Some(read(f).await?);
            } else if ptz.is_none() {
                ptz = Some(read(f).await?);
            } else {
                return Err(format!("{name}: drop one artifact at a time"));
            }
        }
        let (file, ptz) = ptz.ok_or("no artifact among the files: drop a .ptz (and, optionally, its .model)")?;
        *named.borrow_mut() = Some(file.clone());
        let (activation, context, name) = form_options()?;
        let name = if name.is_empty() { file.trim_end_matches(".ptz").to_string() } else { name };
        status(&format!("importing {file}…"));
        yield_now().await;
        let kept = Kept { file: file.clone(), ptz, tokenizer, name, activation, context };
        let id = add(&state, &kept).await?;
        let kept_note = match cache().await {
            Ok(c) => match keep(&c, &id, &kept).await {
                Ok(()) => "kept in this browser".to_string(),
                Err(e) => format!("not kept: {e}"),
            },
            Err(e) => format!("not kept: {e}"),
        };
        status(&format!("{id} added ({kept_note})"));
        score(state.clone(), Some(id.clone())).await;
        Ok(id)
    }
    .await;
    match result {
        Ok(_) => set_attr("import-status", "data-state", "done"),
        Err(e) => {
            status("");
            set_attr("import-status", "data-state", "refused");
            match artifact.borrow().as_deref() {
                Some(file) => show_error(&crate::views::not_imported(file, &e)),
                None => show_error(&e),
            }
        }
    }
}

/// The golfers this browser keeps, imported again and added (each one scores as it arrives).
pub(super) async fn restore(state: &Shared) {
    let Ok(cache) = cache().await else { return };
    for id in kept_ids(&cache).await {
        let Some(kept) = read_kept(&cache, &id).await else {
            show_error(&format!("The kept golfer {id} is damaged in this browser's storage; drop its file again."));
            continue;
        };
        match add(state, &kept).await {
            // As the roster's golfers: a link's long text waits for Score.
            Ok(id) => super::links::auto_score(state.clone(), Some(id)).await,
            Err(e) => show_error(&format!(
                "The kept golfer {id} did not load: {}",
                crate::views::not_imported(&kept.file, &e)
            )),
        }
    }
}

/// The local golfers on the page, for a share link.
pub(super) fn shared_locals(state: &Shared) -> Vec<LocalGolfer> {
    let s = state.borrow();
    s.panels
        .iter()
        .filter(|p| p.golf.id().starts_with("local-") && score_ticked(&p.golf.id()))
        .filter_map(|p| {
            let a = p.golf.manifest.as_ref()?.artifact.as_ref()?;
            Some(LocalGolfer { file: a.path.clone(), sha256: a.sha256.clone() })
        })
        .collect()
}

/// A link made with local golfers that this browser lacks says which files to drop.
pub(super) fn missing_locals(state: &Shared, wanted: &[LocalGolfer]) {
    let have = shared_locals(state);
    let missing: Vec<String> = wanted
        .iter()
        .filter(|w| !have.iter().any(|h| h.sha256 == w.sha256))
        .map(|w| format!("{} (sha256 {}…)", w.file, &w.sha256[..12]))
        .collect();
    if !missing.is_empty() {
        show_error(&format!(
            "This link was made with a golfer imported in the sender's browser, which a link cannot carry: drop {} on the page to see it here.",
            missing.join(" and ")
        ));
    }
}

pub(super) fn wire(state: &Shared) {
    let s = state.clone();
    on_id("import-file", "change", move |_| {
        let input: HtmlInputElement = by_id("import-file");
        let files: Vec<web_sys::File> =
            input.files().map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default();
        input.set_value("");
        if !files.is_empty() {
            spawn_local(import_files(s.clone(), files));
        }
    });
    on_id("import-zone", "dragover", |e| e.prevent_default());
    let s = state.clone();
    on_id("import-zone", "drop", move |e| {
        let Some(drag) = e.dyn_ref::<web_sys::DragEvent>() else { return };
        let files: Vec<web_sys::File> = drag
            .data_transfer()
            .and_then(|d| d.files())
            .map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
            .unwrap_or_default();
        e.prevent_default();
        spawn_local(import_files(s.clone(), files));
    });
}
