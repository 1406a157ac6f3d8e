//! Small DOM helpers. Text always goes in as text nodes (`set_text_content`), never as HTML.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, Event, HtmlElement};

type Handler = Closure<dyn FnMut(Event)>;

thread_local! {
    /// Page-lifetime event handlers, kept rather than leaked.
    static HANDLERS: RefCell<Vec<Handler>> = const { RefCell::new(Vec::new()) };
}

pub fn window() -> web_sys::Window {
    web_sys::window().expect("window")
}

pub fn document() -> Document {
    window().document().expect("document")
}

pub fn by_id<T: JsCast>(id: &str) -> T {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("#{id} missing from the page"))
        .dyn_into::<T>()
        .unwrap_or_else(|_| panic!("#{id} has the wrong element type"))
}

pub fn set_text(id: &str, text: &str) {
    by_id::<Element>(id).set_text_content(Some(text));
}

pub fn set_attr(id: &str, name: &str, value: &str) {
    let _ = by_id::<Element>(id).set_attribute(name, value);
}

pub fn el(tag: &str, class: &str, id: &str) -> Element {
    let e = document().create_element(tag).expect("create element");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    if !id.is_empty() {
        e.set_id(id);
    }
    e
}

pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

pub fn on(target: &Element, event: &str, f: impl FnMut(Event) + 'static) {
    let closure = Closure::wrap(Box::new(f) as Box<dyn FnMut(Event)>);
    target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref()).expect("add listener");
    HANDLERS.with(|h| h.borrow_mut().push(closure));
}

/// A passive listener on the window that sees `event` first, from any element (scroll events do not bubble).
pub fn on_window_capture(event: &str, f: impl FnMut(Event) + 'static) {
    let closure = Closure::wrap(Box::new(f) as Box<dyn FnMut(Event)>);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_capture(true);
    options.set_passive(true);
    let _ = window().add_event_listener_with_callback_and_add_event_listener_options(
        event,
        closure.as_ref().unchecked_ref(),
        &options,
    );
    HANDLERS.with(|h| h.borrow_mut().push(closure));
}

/// A golfer's name into `parent`: its short name, then its details ("AR" and " (Parameter Golf baseline, int8)"),
/// which a phone's narrow screen leaves out (style.css, `.detail`).
pub fn append_name(parent: &Element, label: &str) {
    let (short, detail) = match label.find(" (") {
        Some(at) => label.split_at(at),
        None => (label, ""),
    };
    let _ = parent.append_child(&document().create_text_node(short));
    if !detail.is_empty() {
        let span = el("span", "detail", "");
        span.set_text_content(Some(detail));
        let _ = parent.append_child(&span);
    }
}

pub fn on_id(id: &str, event: &str, f: impl FnMut(Event) + 'static) {
    on(&by_id::<Element>(id), event, f);
}

/// Lets the browser paint and handle input before the next step.
pub async fn yield_now() {
    sleep_ms(0).await;
}

/// Waits until the browser has drawn a frame (an animation frame, then a task after it): the page's layout is
/// clean then, and work after it starts in a task of its own.
pub async fn after_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let fallback = resolve.clone();
        let next = Closure::once_into_js(move || {
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), 0);
        });
        if window().request_animation_frame(next.unchecked_ref()).is_err() {
            let _ = fallback.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

pub fn show_error(message: &str) {
    let banner: HtmlElement = by_id("error");
    banner.set_text_content(Some(message));
    banner.set_hidden(message.is_empty());
}

pub fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}

/// An absolute URL for a path relative to the page (ONNX Runtime Web needs absolute URLs).
pub fn absolute(path: &str) -> String {
    let base = document().base_uri().ok().flatten().unwrap_or_default();
    web_sys::Url::new_with_base(path, &base).map(|u| u.href()).unwrap_or_else(|_| path.to_string())
}

/// Sets (or, with None, removes) a parameter of the page's URL, in place: a reload or a copied link keeps it.
pub fn set_url_param(name: &str, value: Option<&str>) {
    let Ok(url) = web_sys::Url::new(&window().location().href().unwrap_or_default()) else { return };
    match value {
        Some(v) => url.search_params().set(name, v),
        None => url.search_params().delete(name),
    }
    let _ = window().history().and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&url.href())));
}
