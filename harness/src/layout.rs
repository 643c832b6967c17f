//! The workspace's structure as anyone can print it (`harness layout`): each
//! crate's top-level modules, the modules of the same crate each one uses,
//! the cycles among them, and the source files longer than
//! [`MAX_LINES`].
//!
//! Why: the kit's rule is that a module never needs a module that needs it
//! back (a cycle makes both hard to read, test and reuse alone), and that no
//! file grows past a length a reader can hold. The layout test
//! (`harness/tests/layout.rs`) holds both: no cycle in any crate, and no file
//! over the limit except those listed in `fixtures/layout/long-files.txt`,
//! each no longer than it was when listed (the list only shrinks).
//!
//! A "module" here is a file `src/x.rs` or a folder `src/x/` (all its files
//! together); a use is any `crate::x` outside a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be.
pub const MAX_LINES: usize = 800;

/// One crate's modules and the modules of the same crate each one uses.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub uses: BTreeMap<String, BTreeSet<String>>,
}

/// The crates of the workspace: `(name, src directory)`, in order.
pub fn crates(root: &Path) -> Vec<(String, PathBuf)> {
    let mut crates = vec![
        ("common".to_owned(), root.join("common/src")),
        ("harness".to_owned(), root.join("harness/src")),
    ];
    let mut bins: Vec<PathBuf> = std::fs::read_dir(root.join("bins"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    bins.sort();
    for bin in bins {
        let name = bin
            .file_name()
            .map(|n| format!("rotate-{}", n.to_string_lossy()))
            .unwrap_or_default();
        crates.push((name, bin.join("src")));
    }
    crates
}

/// Every file under `dir` whose name ends `.extension`, in path order.
pub fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_with_extension(dir, "rs", out);
}

/// The top-level modules of the crate whose sources are in `src`, with
/// their files.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(src) else {
        return modules;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files = Vec::new();
            rust_files(&path, &mut files);
            modules.insert(name, files);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
        {
            modules
                .entry(stem.to_owned())
                .or_insert_with(Vec::new)
                .push(path);
        }
    }
    modules
}

/// The modules each `crate::x` in `text` (outside `//` comments) names.
fn used(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The module graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> Graph {
    let modules = modules(src);
    let mut uses = BTreeMap::new();
    for (name, files) in &modules {
        let mut deps = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            deps.extend(
                used(&text)
                    .into_iter()
                    .filter(|d| d != name && modules.contains_key(d)),
            );
        }
        uses.insert(name.clone(), deps);
    }
    Graph { uses }
}

impl Graph {
    /// Every set of modules that use each other, directly or around a
    /// circle (Tarjan's strongly connected components of more than one).
    pub fn cycles(&self) -> Vec<Vec<String>> {
        struct Walk<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            found: Vec<Vec<String>>,
        }
        impl<'g> Walk<'g> {
            fn visit(&mut self, v: &'g str) {
                let i = self.index.len();
                self.index.insert(v, i);
                self.low.insert(v, i);
                self.stack.push(v);
                self.on_stack.insert(v);
                for w in self.graph.uses.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(w);
                        component.push(w.to_owned());
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for v in self.uses.keys() {
            if !walk.index.contains_key(v.as_str()) {
                walk.visit(v);
            }
        }
        walk.found
    }
}

/// Every `.rs` file under the crates' sources and tests, and its length in
/// lines, relative to `root`, longest first.
pub fn file_lengths(root: &Path) -> Vec<(String, usize)> {
    let mut files = Vec::new();
    for dir in ["common", "harness"] {
        rust_files(&root.join(dir), &mut files);
    }
    rust_files(&root.join("bins"), &mut files);
    let mut lengths: Vec<(String, usize)> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            let relative = f.strip_prefix(root).ok()?.display().to_string();
            Some((relative, text.lines().count()))
        })
        .collect();
    lengths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    lengths
}

/// The report `harness layout` prints.
pub fn report(root: &Path) -> String {
    let mut out = String::new();
    for (name, src) in crates(root) {
        let graph = graph(&src);
        out.push_str(&format!("{name} ({})\n", src.display()));
        for (module, deps) in &graph.uses {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            out.push_str(&format!(
                "  {module} -> {}\n",
                if deps.is_empty() {
                    "-".to_owned()
                } else {
                    deps.join(", ")
                }
            ));
        }
        let cycles = graph.cycles();
        out.push_str(&format!(
            "  cycles: {}\n",
            if cycles.is_empty() {
                "none".to_owned()
            } else {
                cycles
                    .iter()
                    .map(|c| c.join(" <-> "))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        ));
    }
    let long: Vec<(String, usize)> = file_lengths(root)
        .into_iter()
        .filter(|(_, n)| *n > MAX_LINES)
        .collect();
    out.push_str(&format!("files over {MAX_LINES} lines: {}\n", long.len()));
    for (file, lines) in long {
        out.push_str(&format!("  {lines:>5} {file}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_read_from_code_and_not_from_comments_or_longer_names() {
        let text = "use crate::vault::Vault;\n// crate::lease is mentioned\nlet x = \
                    mycrate::other; crate::http::Client::new()";
        assert_eq!(
            used(text).into_iter().collect::<Vec<_>>(),
            ["http", "vault"]
        );
    }

    #[test]
    fn modules_that_use_each_other_are_a_cycle_and_a_chain_is_not() {
        let mut g = Graph::default();
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        g.uses.insert("a".into(), set(&["b"]));
        g.uses.insert("b".into(), set(&["c"]));
        g.uses.insert("c".into(), set(&["a"]));
        g.uses.insert("d".into(), set(&["a"]));
        g.uses.insert("e".into(), set(&[]));
        assert_eq!(g.cycles(), [vec!["a", "b", "c"]]);
        g.uses.insert("c".into(), set(&[]));
        assert!(g.cycles().is_empty());
    }
}
