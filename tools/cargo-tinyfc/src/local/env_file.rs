//! `--env-file FILE`: the function's environment variables, as `s.yaml`'s `environmentVariables`
//! would set them on FC. The format is the dotenv one docker's `--env-file` and cargo-lambda read:
//! `KEY=VALUE` a line, `#` comment lines, blank lines, an optional `export ` and optional single
//! or double quotes around the value. A line that is none of these is a usage error naming it:
//! a silently skipped line would be a variable missing at run time.

/// The variables of the file at `path`, in its order; Err: why, with the line number.
pub fn read(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--env-file {path}: cannot read: {e}"))?;
    parse(&text).map_err(|(line, why)| format!("--env-file {path}: line {line}: {why}"))
}

/// The variables of `text`; Err: (1-based line number, why).
fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err((n + 1, format!("{raw:?} is not KEY=VALUE")));
        };
        let key = key.trim();
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err((n + 1, format!("{key:?} is not a variable name")));
        }
        vars.push((
            key.to_string(),
            unquote(value.trim()).map_err(|e| (n + 1, e))?,
        ));
    }
    Ok(vars)
}

/// `value` without its surrounding quotes, if it has a matching pair.
fn unquote(value: &str) -> Result<String, String> {
    for q in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(q) {
            return match rest.strip_suffix(q) {
                Some(inner) => Ok(inner.to_string()),
                None => Err(format!("unterminated quote in {value:?}")),
            };
        }
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_export_and_quotes_are_understood() {
        let text = "# db\n\nDB_URL=\"postgres://x?a=b\"\nexport MODE = 'fast'\nEMPTY=\nN=3 # not a comment\n";
        let vars = parse(text).unwrap();
        let want = [
            ("DB_URL", "postgres://x?a=b"),
            ("MODE", "fast"),
            ("EMPTY", ""),
            ("N", "3 # not a comment"),
        ];
        assert_eq!(vars.len(), want.len());
        for ((k, v), (wk, wv)) in vars.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        assert_eq!(parse("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse("A=1\n\n1BAD=x\n").unwrap_err().0, 3);
        assert_eq!(parse("Q=\"open\n").unwrap_err().0, 1);
    }
}
