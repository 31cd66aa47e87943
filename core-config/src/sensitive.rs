//! Which setting names hold secrets.

/// Fragments that make a setting's name a secret's wherever they appear:
/// `db_password_b64`, `sslpassword`, `jwt_secret`.
const SECRET_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "authorization",
];

/// Words that make it a secret's only as whole words (split at `_` and
/// `-`): `refresh_token` and `api_key`, but not `tokens` or `keyspace`.
const SECRET_WORDS: &[&str] = &["token", "key", "cookie", "private", "pwd"];

/// Last words that make a name describe a secret rather than hold one:
/// `token_ttl_secs`, `private_key_path`, `session_cookie_name`.
const DESCRIBING_WORDS: &[&str] = &[
    "ttl",
    "secs",
    "ms",
    "seconds",
    "minutes",
    "hours",
    "days",
    "path",
    "file",
    "dir",
    "len",
    "length",
    "count",
    "max",
    "min",
    "enabled",
    "name",
    "header",
    "id",
    "kid",
    "prefix",
    "namespace",
    "issuer",
    "audience",
    "algorithm",
    "url",
    "endpoint",
];

/// Whether a setting named `segment` (the last part of its path) holds a
/// secret, for echoes and error messages: it names a secret
/// (`password`, `secret` anywhere; `token`, `key` as whole words) and its
/// last word does not say it only describes one (`_ttl_secs`, `_path`,
/// `_name`). So `access_ttl_secs` under `auth.tokens` is shown and
/// `refresh_token` is hidden. Values a type marks
/// secret (`SecretString`) or that were encrypted are hidden whatever their name.
pub(crate) fn is_sensitive_name(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(['_', '-'])
        .filter(|word| !word.is_empty())
        .collect();
    let holds_secret = SECRET_FRAGMENTS
        .iter()
        .any(|fragment| lower.contains(fragment))
        || words.iter().any(|word| SECRET_WORDS.contains(word));
    holds_secret
        && !words
            .last()
            .is_some_and(|last| DESCRIBING_WORDS.contains(last))
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
        assert!(is_sensitive_name("refresh_token"));
        assert!(is_sensitive_name("jwt_secret_b64"));
        assert!(is_sensitive_name("api-key"));
        assert!(is_sensitive_name("access_key_id_secret"));
        // Names that only mention a secret word: shown.
        assert!(!is_sensitive_name("access_ttl_secs"));
        assert!(!is_sensitive_name("token_ttl_secs"));
        assert!(!is_sensitive_name("private_key_path"));
        assert!(!is_sensitive_name("session_cookie_name"));
        assert!(!is_sensitive_name("max_tokens"));
        assert!(is_strong_secret_name("jwt_secret"));
        assert!(!is_strong_secret_name("password"));
        assert_eq!(last_segment("a.b.origins[2]"), "origins");
    }
}
