//! Encodings the adapters share, from the crates already in the tree.

use base64::Engine as _;

/// Standard Base64 with padding (IRC's SASL payloads, a proxy's Basic credentials).
pub fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A URL part with its `%XX` escapes decoded (invalid ones kept as they are, invalid UTF-8
/// replaced).
pub fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
