//! Making connection strings safe to print.

use url::Url;

/// Returns `endpoint` with any user name, password, query and fragment removed.
///
/// Connection URLs carry credentials (`postgres://app:secret@db/app`), and the
/// host is the useful part of them in an error or a log line. Input that is
/// not a URL is assumed to be `host:port` and anything before an `@` is cut.
///
/// ```
/// use core_error::redact_endpoint;
///
/// assert_eq!(
///     redact_endpoint("amqp://guest:guest@127.0.0.1:5672/%2f"),
///     "amqp://127.0.0.1:5672/%2f"
/// );
/// assert_eq!(redact_endpoint("user:pw@10.1.2.3:9092"), "10.1.2.3:9092");
/// assert_eq!(redact_endpoint("127.0.0.1:11211"), "127.0.0.1:11211");
/// ```
pub fn redact_endpoint(endpoint: &str) -> String {
    match Url::parse(endpoint) {
        Ok(mut url) if url.has_host() => {
            // Both setters only fail for URLs that cannot carry credentials,
            // which have none to remove.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => {
            let without_credentials = endpoint.rsplit('@').next().unwrap_or(endpoint);
            without_credentials
                .split(['?', '#'])
                .next()
                .unwrap_or(without_credentials)
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_endpoint;

    #[test]
    fn removes_every_credential_form() {
        let cases = [
            (
                "postgres://app:s3cr3t@db:5432/app?password=s3cr3t",
                "s3cr3t",
            ),
            (
                "mongodb://root:s3cr3t@h1:27017,h2:27017/?authSource=admin",
                "s3cr3t",
            ),
            ("redis://:s3cr3t@cache:6379/0", "s3cr3t"),
            ("s3cr3t@broker:9092", "s3cr3t"),
            ("broker:9092?token=s3cr3t", "s3cr3t"),
        ];
        for (input, secret) in cases {
            let shown = redact_endpoint(input);
            assert!(!shown.contains(secret), "{input} became {shown}");
        }
    }

    #[test]
    fn keeps_host_and_port() {
        assert_eq!(
            redact_endpoint("postgres://a:b@db:5432/app"),
            "postgres://db:5432/app"
        );
        assert_eq!(redact_endpoint("localhost:6379"), "localhost:6379");
    }
}
