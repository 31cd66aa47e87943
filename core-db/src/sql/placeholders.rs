//! Portable `?` placeholders, numbered for PostgreSQL.
//!
//! MySQL and SQLite take `?`; PostgreSQL takes `$1, $2, …`. Portable SQL is
//! written with `?` and numbered here for PostgreSQL. Question marks inside
//! string literals, quoted identifiers, comments and dollar-quoted bodies
//! are left alone, and a statement that already uses `$n` is PostgreSQL's
//! own and passed through untouched (so the jsonb `?` operators stay usable).

use std::borrow::Cow;

/// `sql` with each placeholder `?` replaced by `$1`, `$2`, … in order.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn number_for_postgres(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut marks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => i = skip_quoted(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_until(bytes, i + 2, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_until(bytes, i + 2, b"*/"),
            b'$' => match dollar_tag(bytes, i) {
                DollarTag::Placeholder => return Cow::Borrowed(sql),
                DollarTag::Quote(tag_end) => {
                    let tag = &bytes[i..tag_end];
                    i = skip_until(bytes, tag_end, tag);
                }
                DollarTag::Neither => i += 1,
            },
            b'?' => {
                marks.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    if marks.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + marks.len() * 2);
    let mut last = 0;
    for (index, mark) in marks.iter().enumerate() {
        out.push_str(&sql[last..*mark]);
        out.push('$');
        out.push_str(&(index + 1).to_string());
        last = mark + 1;
    }
    out.push_str(&sql[last..]);
    Cow::Owned(out)
}

/// The index just past the literal or identifier opened at `start`;
/// a doubled quote inside is an escaped quote.
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The index just past the first `end` at or after `from`.
fn skip_until(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    bytes[from.min(bytes.len())..]
        .windows(end.len())
        .position(|window| window == end)
        .map_or(bytes.len(), |offset| from + offset + end.len())
}

enum DollarTag {
    /// `$1`: a native PostgreSQL placeholder.
    Placeholder,
    /// `$tag$` or `$$`, ending before the returned index.
    Quote(usize),
    Neither,
}

fn dollar_tag(bytes: &[u8], start: usize) -> DollarTag {
    match bytes.get(start + 1) {
        Some(b'0'..=b'9') => return DollarTag::Placeholder,
        Some(b'$') => return DollarTag::Quote(start + 2),
        _ => {}
    }
    // An identifier character before `$` makes it part of a name (`a$b`).
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return DollarTag::Neither;
    }
    let mut i = start + 1;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    if i > start + 1 && bytes.get(i) == Some(&b'$') {
        DollarTag::Quote(i + 1)
    } else {
        DollarTag::Neither
    }
}

#[cfg(test)]
mod tests {
    use super::number_for_postgres;

    #[test]
    fn numbers_placeholders_in_order() {
        assert_eq!(
            number_for_postgres("SELECT * FROM t WHERE a = ? AND b = ?"),
            "SELECT * FROM t WHERE a = $1 AND b = $2"
        );
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        assert_eq!(
            number_for_postgres(
                "SELECT '?', 'it''s ?', \"col?\" -- what?\n, ? /* ? */, $q$ ? $q$, $$?$$ FROM t"
            ),
            "SELECT '?', 'it''s ?', \"col?\" -- what?\n, $1 /* ? */, $q$ ? $q$, $$?$$ FROM t"
        );
    }

    #[test]
    fn native_placeholders_pass_through() {
        let sql = "SELECT data ? 'key' FROM t WHERE id = $1";
        assert_eq!(number_for_postgres(sql), sql);
    }

    #[test]
    fn statements_without_placeholders_are_borrowed() {
        assert!(matches!(
            number_for_postgres("SELECT 1"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
