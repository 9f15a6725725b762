//! Image references: which `--name` values are valid, and the form each document wants.
//!
//! The grammar is Docker's (distribution/reference): `[HOST[:PORT]/]PATH[:TAG]`, where PATH is
//! lowercase components separated by `/`, each alphanumeric runs joined by `.`, `_`, `__` or
//! dashes, and a TAG is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. Anything else (a quote, a space, an
//! upper-case letter in the path, a digest) is refused before any document is written, so no
//! tool downstream meets a name it would reject.

use std::io;

/// Docker's limit on the repository part of a reference.
const MAX_REPOSITORY_LEN: usize = 255;
/// Docker's limit on a tag.
const MAX_TAG_LEN: usize = 128;
/// The tag of a name given without one, as `docker` assumes.
const DEFAULT_TAG: &str = "latest";

/// A parsed, valid image reference with a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// As given, without the tag: `myfn`, `team/myfn`, `registry.example.com:5000/team/myfn`.
    repository: String,
    /// Whether `repository` starts with a registry host.
    has_domain: bool,
    tag: String,
}

impl Reference {
    /// Parses `name`, adding `:latest` when it has no tag.
    pub(crate) fn parse(name: &str) -> io::Result<Reference> {
        parse(name).map_err(|why| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid image name {name:?}: {why} \
                     (expected [HOST[:PORT]/]NAME[:TAG], e.g. myfn or registry.example.com/team/myfn:1.0)"
                ),
            )
        })
    }

    /// `repository:tag`, the familiar form `docker save` writes into RepoTags.
    pub(crate) fn tagged(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The fully qualified form containerd names images by: `docker.io/library/myfn:latest`.
    pub(crate) fn canonical(&self) -> String {
        let prefix = match (self.has_domain, self.repository.contains('/')) {
            (true, _) => "",
            (false, true) => "docker.io/",
            (false, false) => "docker.io/library/",
        };
        format!("{prefix}{}", self.tagged())
    }

    /// The tag alone, what OCI's `org.opencontainers.image.ref.name` holds.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }
}

fn parse(name: &str) -> Result<Reference, String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.contains('@') {
        return Err("a digest (@sha256:...) cannot name an image being built".into());
    }
    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let (repository, tag) = match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => (&name[..colon], &name[colon + 1..]),
        _ => (name, DEFAULT_TAG),
    };
    check_tag(tag)?;
    if repository.len() > MAX_REPOSITORY_LEN {
        return Err(format!("longer than {MAX_REPOSITORY_LEN} characters"));
    }
    let mut components: Vec<&str> = repository.split('/').collect();
    // Docker's rule: the first of several components is a registry host when it looks like one.
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains(['.', ':']) || first == "localhost" || first != first.to_lowercase());
    if has_domain {
        check_domain(first)?;
        components.remove(0);
    }
    for component in components {
        check_path_component(component)?;
    }
    Ok(Reference {
        repository: repository.to_string(),
        has_domain,
        tag: tag.to_string(),
    })
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} is not 1-{MAX_TAG_LEN} of A-Z a-z 0-9 _ . - (not starting with . or -)"
        ))
    }
}

/// `host[:port]`, host being dot-separated labels of alphanumerics and inner dashes.
fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!("registry host {host:?} is not a host name"));
    }
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("registry port {port:?} is not a number"));
        }
    }
    Ok(())
}

/// Lowercase alphanumeric runs joined by one separator each: `.`, `_`, `__` or any dashes.
fn check_path_component(component: &str) -> Result<(), String> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bad = || {
        Err(format!(
            "name component {component:?} is not lowercase letters and digits joined by . _ __ or -"
        ))
    };
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return bad();
    }
    // Every maximal run of non-alphanumerics must be one separator.
    for separator in component.split(alnum).filter(|s| !s.is_empty()) {
        let valid = matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-');
        if !valid {
            return bad();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> Reference {
        Reference::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn a_name_without_tag_gets_latest() {
        let r = ok("myfn");
        assert_eq!(r.tagged(), "myfn:latest");
        assert_eq!(r.tag(), "latest");
        assert_eq!(r.canonical(), "docker.io/library/myfn:latest");
    }

    #[test]
    fn registry_ports_are_not_tags() {
        let r = ok("localhost:5000/team/my-fn");
        assert_eq!(r.tagged(), "localhost:5000/team/my-fn:latest");
        assert_eq!(r.canonical(), "localhost:5000/team/my-fn:latest");
        let r = ok("registry.cn-hangzhou.aliyuncs.com/ns/fn_x.y:v1.2-3");
        assert_eq!(r.tag(), "v1.2-3");
        assert_eq!(ok("team/fn:1").canonical(), "docker.io/team/fn:1");
    }

    #[test]
    fn invalid_names_are_refused() {
        for name in [
            "",
            "my\"fn",
            "my fn",
            "MyFn",
            "fn:",
            "fn:-x",
            "fn:.x",
            "a/b:c/d",
            "fn@sha256:00",
            "-fn",
            "fn-",
            "fn..x",
            "fn___x",
            "/fn",
            "fn/",
            "a//b",
            "bad_host.example/fn",
            "host:port/fn",
        ] {
            let e = Reference::parse(name).expect_err(name);
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("invalid image name"), "{e}");
        }
        let long_tag = format!("fn:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
    }
}
