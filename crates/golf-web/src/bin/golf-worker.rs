//! The page's golfer worker (see `golf_web::worker`).
fn main() {
    #[cfg(target_arch = "wasm32")]
    golf_web::worker::start();
}
