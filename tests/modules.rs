//! The workspace's shape, checked on its source: in every crate (the runtime, the tools, the test
//! harness), no module imports a sibling that imports it back (directly or around a longer loop),
//! at every level of the module tree, and no source file is much over 500 lines.
//!
//! A module is a file or a folder; an import is a path to another module: `crate::a::b`,
//! `super::x`, `self::x` (or a `{a, b}` group after one). Two modules are siblings under their
//! deepest common parent; a module using its own parent's or child's items is how Rust's tree
//! works, not a cycle. Doc links count as imports: they name a dependency too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module's path from its crate's root (`["local", "front"]`; the root is `[]`).
type ModPath = Vec<String>;

/// Per parent module, each child's imports of its siblings.
type Siblings = BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>>;

/// The `src` folders of the workspace's crates, with each crate's name.
fn crates() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![("tinyfc".to_string(), root.join("src"))];
    let mut tools: Vec<PathBuf> = fs::read_dir(root.join("tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    tools.push(root.join("tests/harness"));
    tools.sort();
    for dir in tools {
        if dir.join("src").is_dir() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            all.push((name, dir.join("src")));
        }
    }
    all
}

/// Every `.rs` file under `src`, with its module path.
fn files(src: &Path) -> Vec<(PathBuf, ModPath)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut module: ModPath = rel
                .parent()
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            // mod.rs is its folder's module; lib.rs and main.rs are the crate's root.
            if !["mod", "lib", "main"].contains(&stem.as_str()) {
                module.push(stem);
            }
            out.push((path, module));
        }
    }
    out
}

/// The module paths `text` (of module `here`) refers to: `crate::`, `super::`, `self::` paths,
/// one level of `{..}` groups expanded.
fn references(text: &str, here: &ModPath) -> Vec<ModPath> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("::") {
        // Only a path's first segment: the identifier before `i`, not itself after a `::`.
        let before = &text[..i];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        if before[..start].ends_with("::") {
            continue;
        }
        let mut base: ModPath = match &text[start..i] {
            "crate" => Vec::new(),
            "self" => here.clone(),
            "super" => here[..here.len().saturating_sub(1)].to_vec(),
            _ => continue,
        };
        let mut rest = &text[i + 2..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        path_at(&base, rest, &mut out);
    }
    out
}

/// The module path `rest` continues `base` with (each of them for a `{a, b::c}` group).
fn path_at(base: &ModPath, rest: &str, out: &mut Vec<ModPath>) {
    let mut full = base.clone();
    let mut segment = rest;
    loop {
        if let Some(group) = segment.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                path_at(&full, item.trim(), out);
            }
            return;
        }
        let name: String = segment
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || name == "self" {
            break;
        }
        full.push(name.clone());
        match segment[name.len()..].strip_prefix("::") {
            Some(more) => segment = more,
            None => break,
        }
    }
    out.push(full);
}

/// One crate's sibling imports, and each file's line count.
fn crate_shape(src: &Path) -> (Siblings, Vec<(PathBuf, usize)>) {
    let files = files(src);
    let modules: BTreeSet<ModPath> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut siblings = Siblings::new();
    let mut lines = Vec::new();
    for (path, here) in &files {
        let text = fs::read_to_string(path).unwrap();
        lines.push((path.clone(), text.lines().count()));
        for mut target in references(&text, here) {
            // The module it names: the longest prefix that is one (the rest are items).
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < here.len() && common < target.len() {
                let parent = here[..common].to_vec();
                let (from, to) = (here[common].clone(), target[common].clone());
                let children = siblings.entry(parent).or_default();
                children.entry(from).or_default().insert(to);
            }
        }
    }
    (siblings, lines)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut checked = 0;
    for (name, src) in crates() {
        let (siblings, _) = crate_shape(&src);
        for (parent, imports) in &siblings {
            let qualified = |m: &str| {
                let mut p = parent.clone();
                p.push(m.to_string());
                p.join("::")
            };
            // Depth-first from each module: reaching it again is a cycle.
            for start in imports.keys() {
                checked += 1;
                let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
                let mut seen = BTreeSet::new();
                while let Some(path) = stack.pop() {
                    let last = *path.last().unwrap();
                    for next in imports.get(last).into_iter().flatten() {
                        let cycle: Vec<String> = path.iter().map(|m| qualified(m)).collect();
                        assert_ne!(
                            next,
                            start,
                            "import cycle in {name}: {} -> {}",
                            cycle.join(" -> "),
                            qualified(next)
                        );
                        if seen.insert(next.as_str()) {
                            let mut longer = path.clone();
                            longer.push(next);
                            stack.push(longer);
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 40, "checked only {checked} modules");
}

#[test]
fn no_source_file_is_over_550_lines() {
    let mut files = 0;
    for (_, src) in crates() {
        let (_, lines) = crate_shape(&src);
        files += lines.len();
        for (file, n) in lines {
            assert!(n <= 550, "{} has {n} lines", file.display());
        }
    }
    assert!(files > 60, "read only {files} files");
}

#[test]
fn the_check_sees_a_cycle_between_siblings_and_only_there() {
    let here = |p: &str| p.split("::").map(String::from).collect::<ModPath>();
    assert_eq!(
        references(
            "use crate::local::{options, watch::Watch};",
            &here("local::front")
        ),
        [here("local::options"), here("local::watch::Watch")]
    );
    assert_eq!(
        references(
            "super::super::cli::Exit; self::x; notcrate::y",
            &here("a::b")
        ),
        [here("cli::Exit"), here("a::b::x")]
    );
    // A real crate's shape, written out: a <-> b under `local`, and local/mod.rs's own items.
    let dir = std::env::temp_dir().join(format!("tinyfc-modules-{}", std::process::id()));
    fs::create_dir_all(dir.join("local")).unwrap();
    fs::write(dir.join("main.rs"), "mod local; use crate::local::run;").unwrap();
    fs::write(dir.join("local/mod.rs"), "mod a; mod b; fn run() {}").unwrap();
    fs::write(
        dir.join("local/a.rs"),
        "use super::b::B; use crate::local::run;",
    )
    .unwrap();
    fs::write(dir.join("local/b.rs"), "use super::{a, run};").unwrap();
    let (siblings, lines) = crate_shape(&dir);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(lines.len(), 4);
    let local = &siblings[&here("local")];
    assert_eq!(local["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(local["b"], BTreeSet::from(["a".to_string()]));
    assert!(
        !siblings.contains_key(&Vec::new()),
        "root <-> local is the tree, not a cycle"
    );
}
