//! Reading `.env.<env>` and `.secrets`.
//!
//! Values are taken literally: unlike shells and `dotenvy`, no `$NAME` is
//! ever substituted, so a password such as `abc$HOME` stays exactly that.

use std::ops::Range;
use std::path::Path;

use core_error::{Error, Result};

/// One `NAME=value` line of a dotenv file.
#[derive(Clone)]
pub(crate) struct DotenvEntry {
    /// The variable's name.
    pub(crate) name: String,
    /// The value, unquoted and unescaped.
    pub(crate) value: String,
    /// The 1-based line the entry starts on.
    pub(crate) line: usize,
    /// The bytes of the value as written, quotes included: what a rewrite
    /// replaces.
    pub(crate) raw: Range<usize>,
}

/// The entries of a dotenv file in file order, or none if it does not exist.
pub(crate) fn read_dotenv(path: &Path) -> Result<Vec<DotenvEntry>> {
    if path.exists() && !path.is_file() {
        return Err(
            Error::invalid_input(format!("{} is not a file", path.display()))
                .with_operation("config.read_dotenv")
                .with_key(path.display().to_string()),
        );
    }
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| {
        Error::from(err)
            .with_operation("config.read_dotenv")
            .with_key(&shown)
    })?;
    parse_dotenv(&text, &shown)
}

/// The `(name, value)` pairs of `entries`.
pub(crate) fn pairs(entries: &[DotenvEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|entry| (entry.name.clone(), entry.value.clone()))
        .collect()
}

/// Parses dotenv text: `NAME=value` lines, an optional `export ` before the
/// name, `#` comments (whole lines, or after whitespace in an unquoted value),
/// `'single'` quotes taken literally, `"double"` quotes with the escapes
/// `\n`, `\\`, `\"`, `\'` and `\$`; quoted values may span lines.
///
/// A malformed line is reported by its number only: the line itself may hold
/// a secret.
pub(crate) fn parse_dotenv(text: &str, file: &str) -> Result<Vec<DotenvEntry>> {
    let mut entries = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let line_number = text[..pos].matches('\n').count() + 1;
        let line_end = text[pos..].find('\n').map_or(text.len(), |at| pos + at);
        let line = &text[pos..line_end];
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            pos = line_end + 1;
            continue;
        }
        let body_start = pos + (line.len() - body.len());
        let after_export = body
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(body, str::trim_start);
        let name_start = body_start + (body.len() - after_export.len());
        let Some(equals) = after_export.find('=') else {
            return Err(malformed(file, line_number, "expected NAME=value"));
        };
        let name = after_export[..equals].trim_end();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(malformed(
                file,
                line_number,
                "the name must be letters, digits, '_' or '.'",
            ));
        }
        let mut value_start = name_start + equals + 1;
        while text[value_start..].starts_with([' ', '\t']) {
            value_start += 1;
        }
        let (value, raw_end) = match text[value_start..].chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let (value, close) = quoted(text, value_start, quote)
                    .ok_or_else(|| malformed(file, line_number, "a quote is never closed"))?;
                (value, close)
            }
            _ => {
                let rest = &text[value_start..line_end];
                let comment = rest
                    .char_indices()
                    .find(|&(at, c)| c == '#' && at > 0 && rest[..at].ends_with([' ', '\t']))
                    .map_or(rest.len(), |(at, _)| at);
                let value = rest[..comment].trim_end_matches([' ', '\t', '\r']);
                (value.to_string(), value_start + value.len())
            }
        };
        let next_line = text[raw_end..]
            .find('\n')
            .map_or(text.len(), |at| raw_end + at);
        let trailing = text[raw_end..next_line].trim();
        if !trailing.is_empty() && !trailing.starts_with('#') {
            return Err(malformed(
                file,
                line_number,
                "unexpected text after the quoted value",
            ));
        }
        entries.push(DotenvEntry {
            name: name.to_string(),
            value,
            line: line_number,
            raw: value_start..raw_end,
        });
        pos = next_line + 1;
    }
    Ok(entries)
}

/// The value of the quoted text opening at `start`, and the byte just past
/// its closing quote.
fn quoted(text: &str, start: usize, quote: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, start + 1 + at + 1)),
            '\\' if quote == '"' => match chars.next()?.1 {
                'n' => value.push('\n'),
                escaped @ ('\\' | '"' | '\'' | '$') => value.push(escaped),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            c => value.push(c),
        }
    }
    None
}

impl std::fmt::Debug for DotenvEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value may be a secret.
        f.debug_struct("DotenvEntry")
            .field("name", &self.name)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

fn malformed(file: &str, line: usize, reason: &str) -> Error {
    Error::invalid_input(format!("cannot parse {file}: line {line}: {reason}"))
        .with_operation("config.read_dotenv")
        .with_key(file)
        .with_context("line", line)
}

#[cfg(test)]
mod tests {
    use super::parse_dotenv;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_dotenv(text, "f")
            .unwrap()
            .into_iter()
            .map(|entry| (entry.name, entry.value))
            .collect()
    }

    #[test]
    fn dollar_signs_are_never_substituted() {
        let got = pairs("A=abc$HOME\nB=\"x${USER}y\"\nC='$PATH'\nD=\"\\$q\"\n");
        assert_eq!(got[0].1, "abc$HOME");
        assert_eq!(got[1].1, "x${USER}y");
        assert_eq!(got[2].1, "$PATH");
        assert_eq!(got[3].1, "$q");
    }

    #[test]
    fn comments_quotes_and_export() {
        let text = "# c\n\nexport A=1 # trailing\nB=a#b\nC = \"two\nlines\" # c\nD=''\n";
        assert_eq!(
            pairs(text),
            [("A", "1"), ("B", "a#b"), ("C", "two\nlines"), ("D", "")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let entries = parse_dotenv(text, "f").unwrap();
        assert_eq!(&text[entries[2].raw.clone()], "\"two\nlines\"");
        assert_eq!(entries[3].line, 7);
    }

    #[test]
    fn malformed_lines_are_named_by_number_only() {
        for text in [
            "A=1\nhunter2\n",
            "A=1\nB=\"hunter2\n",
            "A=1\nB='x' hunter2\n",
        ] {
            let err = parse_dotenv(text, "f").unwrap_err().to_string();
            assert!(err.contains("line 2"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
