fn main() {
    #[cfg(target_arch = "wasm32")]
    golf_web::app::start();
}
