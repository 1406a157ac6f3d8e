//! What a static host must get right for the page, checked when something fails, so that the visitor (or whoever
//! deploys the page) reads the cause instead of ONNX Runtime Web's "no available backend found".

/// ONNX Runtime Web's module scripts (its wasm build's and its WebGPU build's), in the page's `ort/` folder. A
/// browser runs a module script only when it is served with a JavaScript MIME type.
pub const ORT_MODULES: [&str; 2] = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.asyncify.mjs"];

/// A Content-Type a browser runs a module script with (the HTML standard's JavaScript MIME type essences).
pub fn is_javascript(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/javascript"
            | "application/javascript"
            | "application/ecmascript"
            | "application/x-ecmascript"
            | "application/x-javascript"
            | "text/ecmascript"
            | "text/javascript1.0"
            | "text/javascript1.1"
            | "text/javascript1.2"
            | "text/javascript1.3"
            | "text/javascript1.4"
            | "text/javascript1.5"
            | "text/jscript"
            | "text/livescript"
            | "text/x-ecmascript"
            | "text/x-javascript"
    )
}

/// What is wrong with how the host serves `ort/<file>` (its HTTP status and Content-Type), if anything.
pub fn module_problem(file: &str, status: u16, content_type: Option<&str>) -> Option<String> {
    if !(200..300).contains(&status) {
        return Some(format!(
            "the server answers HTTP {status} for ort/{file}: the page's ort/ folder must be deployed with it"
        ));
    }
    match content_type.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if is_javascript(c) => None,
        Some(c) => Some(format!(
            "the server sends ort/{file} as {c}; it must be served as JavaScript (text/javascript), or the browser \
             will not run it"
        )),
        None => Some(format!(
            "the server sends ort/{file} without a Content-Type; it must be served as JavaScript (text/javascript)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's host served `.mjs` as text/plain and the page said only "no available backend found".
    #[test]
    fn a_module_served_as_text_is_named_with_the_fix() {
        let said = module_problem(ORT_MODULES[0], 200, Some("text/plain; charset=utf-8")).unwrap();
        assert_eq!(
            said,
            "the server sends ort/ort-wasm-simd-threaded.mjs as text/plain; charset=utf-8; it must be served as \
             JavaScript (text/javascript), or the browser will not run it"
        );
        assert!(module_problem(ORT_MODULES[1], 200, None).unwrap().contains("without a Content-Type"));
        assert!(module_problem(ORT_MODULES[0], 404, Some("text/html")).unwrap().contains("HTTP 404"));
        for ok in ["text/javascript", "application/javascript; charset=utf-8", " Text/JavaScript ", "text/ecmascript"] {
            assert_eq!(module_problem(ORT_MODULES[0], 200, Some(ok)), None, "{ok}");
        }
        for bad in ["text/plain", "application/octet-stream", "text/javascriptx", "application/wasm"] {
            assert!(!is_javascript(bad), "{bad}");
        }
    }
}
