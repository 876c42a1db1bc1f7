//! The UniFFI binding generator, built from this crate so that its version
//! always matches the scaffolding the library was compiled with.
fn main() {
    uniffi::uniffi_bindgen_main()
}
