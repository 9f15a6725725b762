//! Which NAMEs `new` accepts. NAME becomes the package, the binary, the s.yaml function name and
//! the image name in the generated README and Dockerfile, so it must be valid as each of them:
//! refused up front, with the reason, before anything is written.

/// Rust keywords (strict, reserved and 2024's `gen`): a crate cannot be named one.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names cargo refuses or that clash: the standard crates, cargo's own output directories, and
/// tinyfc itself (the crate would depend on itself).
const RESERVED: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "tinyfc",
];

/// FC's limit on a function name (its `functionName` pattern allows 1 to 64 characters).
const MAX_LEN: usize = 64;

/// Checks NAME as cargo checks a package name (ASCII only, which cargo recommends), as FC checks
/// a function name, and as Docker checks an image name (lower case; `-` and `_` only between
/// letters or digits).
pub fn check(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?} is not a valid function name: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return bad(&format!("{c:?} is not a letter, digit, - or _"));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("it starts with a digit");
    }
    if name.len() > MAX_LEN {
        return bad(&format!("FC allows at most {MAX_LEN} characters"));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return bad(&format!(
            "image names are lower case, so the generated `docker build -t` and `cargo tinyfc \
             image --name` would fail (try {:?})",
            name.to_ascii_lowercase()
        ));
    }
    if name.starts_with(['-', '_']) || name.ends_with(['-', '_']) {
        return bad("an image name starts and ends with a letter or digit");
    }
    if name.contains("___") || name.contains("_-") || name.contains("-_") {
        return bad("an image name separates letters and digits by `-`s, `_` or `__` only");
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        return bad("it is a Rust keyword");
    }
    if RESERVED.contains(&ident.as_str()) {
        return bad("the name is reserved (a standard crate, a cargo directory, or tinyfc)");
    }
    // The packager's own reading of the name is the last word: what it refuses, `new` refuses.
    tinyfc_pack::image_name(name)
        .map_err(|e| format!("{name:?} is not a valid image name: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_fc_or_docker_would_refuse_are_refused_with_the_reason() {
        for good in [
            "my-function",
            "f",
            "a_b2",
            "thumbnailer",
            "a--b",
            "a__b",
            "x1",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        let long = "a".repeat(65);
        for (bad, why) in [
            ("", "empty"),
            ("1abc", "digit"),
            ("a b", "' ' is not"),
            ("café", "'é' is not"),
            ("self", "keyword"),
            ("async", "keyword"),
            ("std", "reserved"),
            ("tinyfc", "reserved"),
            ("proc-macro", "reserved"),
            ("Foo-Bar", "lower case"),
            ("Thumbnailer", "try \"thumbnailer\""),
            ("_private", "starts and ends"),
            ("trailing-", "starts and ends"),
            ("a___b", "separates"),
            ("a-_b", "separates"),
            (long.as_str(), "at most 64"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("not a valid"), "{bad}: {e}");
        }
    }
}
