//! The runtime crate's shape, checked on its source: no module imports another that imports it
//! back (directly or around a longer loop), and no module file is much over 500 lines. A module
//! is a file under `src/` (a folder counts as one module); an import is any `crate::name` path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Per module, the other modules it imports.
type Imports = BTreeMap<String, BTreeSet<String>>;

/// Each module's `crate::` imports of other modules, and each file's line count.
fn modules() -> (Imports, Vec<(String, usize)>) {
    let mut imports = Imports::new();
    let mut lines = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let src = dirs[0].clone();
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let module = rel.split(['/', '.']).next().unwrap().to_string();
            let text = fs::read_to_string(&path).unwrap();
            lines.push((rel, text.lines().count()));
            if module == "lib" {
                continue;
            }
            let uses = imports.entry(module.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let name: String = text[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    (imports, lines)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (imports, _) = modules();
    // Depth-first from each module: reaching it again is a cycle.
    for start in imports.keys() {
        let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for next in imports.get(last).into_iter().flatten() {
                assert_ne!(next, start, "import cycle: {} -> {next}", path.join(" -> "));
                if seen.insert(next.as_str()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
}

#[test]
fn no_module_file_is_over_550_lines() {
    let (_, lines) = modules();
    assert!(lines.len() > 20, "read only {} files", lines.len());
    for (file, n) in lines {
        assert!(n <= 550, "src/{file} has {n} lines");
    }
}
