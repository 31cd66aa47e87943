//! Which setting names hold secrets.

/// Whether a setting named `segment` (the last part of its path) is treated as
/// secret in echoes and error messages. Deliberately broad: hiding a harmless
/// value costs little, showing a secret costs a lot.
pub(crate) fn is_sensitive_name(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower == "key"
        || lower.ends_with("_key")
        || core_error::SECRET_NAME_FRAGMENTS
            .iter()
            .any(|fragment| lower.contains(fragment))
}

/// Whether a setting named `segment` is a shared secret that production
/// requires to be long (`jwt_secret`, `session_secret`, `api_token`, ...).
/// Passwords of external servers are excluded: their length is not ours to set.
pub(crate) fn is_strong_secret_name(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower == "secret"
        || lower.ends_with("_secret")
        || lower == "token"
        || lower.ends_with("_token")
        || lower.ends_with("api_key")
        || lower.ends_with("signing_key")
}

/// The last segment of a dotted path, without any `[n]` index.
pub(crate) fn last_segment(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_sensitive_name("password"));
        assert!(is_sensitive_name("jwt_secret"));
        assert!(is_sensitive_name("aes_key"));
        assert!(!is_sensitive_name("host"));
        assert!(is_strong_secret_name("jwt_secret"));
        assert!(!is_strong_secret_name("password"));
        assert_eq!(last_segment("a.b.origins[2]"), "origins");
    }
}
