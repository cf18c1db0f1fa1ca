//! The shape of `src/` (see `architecture.md`): no import cycle between top-level modules, no
//! module importing from `main.rs`, and a `//!` doc comment at the top of every file.
//!
//! The dependency graph is read from the source text: every `crate::…` path outside comments
//! (`use crate::a::B`, `use crate::{a, b::C}`, `crate::a::f()` in code) gives an edge from the
//! top-level module of the file (`src/a.rs` and `src/a/**` are `a`) to the top-level module
//! named. A `crate::x` where `x` is not a module declared in `main.rs` is an item of `main.rs`.
//! Unit-test modules (`#[cfg(test)] mod … {`) are left out: a test may borrow another module's
//! fixtures without making the code depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
}

/// `src/a.rs`, `src/a/mod.rs`, `src/a/b/c.rs` → `a`; `src/main.rs` → `main`.
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The modules `main.rs` declares (`mod x;`, `pub mod x;`).
fn declared_modules() -> BTreeSet<String> {
    let main = std::fs::read_to_string(src().join("main.rs")).unwrap();
    main.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment after each `crate::` in one line (a `{…}` group gives one per entry;
/// a group spanning lines is read from `rest`, the text after the line).
fn crate_paths(line: &str, rest: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut s = line;
    while let Some(i) = s.find("crate::") {
        let before = s[..i].chars().next_back();
        s = &s[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `mycrate::`, `$crate::`
        }
        if let Some(group) = s.strip_prefix('{') {
            // Entries at depth 0 of the group, possibly continued on the following lines.
            let text = format!("{group}\n{rest}");
            let (mut depth, mut start) = (0usize, true);
            for (j, c) in text.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        found.push(ident(&text[j..]).to_string());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(s);
            if !name.is_empty() {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// Edges `from → to` between top-level modules, each with where it was seen.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn graph() -> (Graph, Vec<String>) {
    let modules = declared_modules();
    let mut graph = Graph::new();
    let mut from_main = Vec::new();
    for file in all_files() {
        let from = top_module(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file
            .strip_prefix(src().parent().unwrap())
            .unwrap()
            .display()
            .to_string();
        let mut offset = 0;
        let (mut cfg_test, mut test_depth) = (false, 0usize);
        for (n, line) in text.lines().enumerate() {
            offset += line.len() + 1;
            let code = line.trim_start();
            // `#[cfg(test)] mod … { … }`: test code may reach into other modules' fixtures.
            if test_depth > 0 {
                test_depth = (test_depth + code.matches('{').count())
                    .saturating_sub(code.matches('}').count());
                continue;
            }
            if code.starts_with("#[cfg(test)]") {
                cfg_test = true;
                continue;
            }
            if std::mem::take(&mut cfg_test) && code.contains("mod ") && code.ends_with('{') {
                test_depth = 1;
                continue;
            }
            if code.starts_with("//") {
                continue;
            }
            let code = code.split(" // ").next().unwrap_or(code);
            let rest = text.get(offset..).unwrap_or("");
            for name in crate_paths(code, rest) {
                let at = format!("{rel}:{}: {}", n + 1, line.trim());
                if !modules.contains(&name) {
                    // `crate::x` where x is an item of main.rs (its children may use `crate::`
                    // paths to main's own macros or items too).
                    if from != "main" {
                        from_main.push(format!("crate::{name} ({at})"));
                    }
                    continue;
                }
                if name != from {
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(name)
                        .or_insert(at);
                }
            }
        }
    }
    (graph, from_main)
}

/// Strongly connected components with more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(st: &mut State<'a>, v: &'a str) {
        let i = st.index.len();
        st.index.insert(v, i);
        st.low.insert(v, i);
        st.stack.push(v);
        st.on_stack.insert(v);
        if let Some(next) = st.graph.get(v) {
            for w in next.keys() {
                let w = w.as_str();
                if !st.index.contains_key(w) {
                    visit(st, w);
                    let lw = st.low[w];
                    let lv = st.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if st.on_stack.contains(w) {
                    let iw = st.index[w];
                    let lv = st.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if st.low[v] == st.index[v] {
            let mut scc = Vec::new();
            loop {
                let w = st.stack.pop().unwrap();
                st.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                st.out.push(scc);
            }
        }
    }
    let mut st = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !st.index.contains_key(v.as_str()) {
            visit(&mut st, v);
        }
    }
    st.out
}

/// One cycle through `start` inside `scc` (breadth-first, so the shortest), as a path.
fn cycle_through(graph: &Graph, scc: &[String], start: &str) -> Vec<String> {
    let mut prev: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(&v).map(|m| m.keys()).into_iter().flatten() {
            if !scc.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![v.clone()];
                while let Some(p) = prev.get(path.last().unwrap()) {
                    path.push(p.clone());
                }
                path.reverse();
                path.push(start.to_string());
                return path;
            }
            if !prev.contains_key(w) && w != start {
                prev.insert(w.clone(), v.clone());
                queue.push_back(w.clone());
            }
        }
    }
    vec![start.to_string()]
}

fn describe(graph: &Graph, sccs: &[Vec<String>]) -> String {
    let mut out = String::new();
    for scc in sccs {
        out.push_str(&format!("modules in a cycle: {{{}}}\n", scc.join(", ")));
        // The shortest cycle through each of them, each shown once.
        let mut seen: Vec<Vec<String>> = Vec::new();
        for start in scc {
            let path = cycle_through(graph, scc, start);
            let mut key = path[..path.len() - 1].to_vec();
            let min = key.iter().enumerate().min_by_key(|(_, m)| *m).unwrap().0;
            key.rotate_left(min);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            out.push_str(&format!("  cycle: {}\n", path.join(" → ")));
            for pair in path.windows(2) {
                let at = &graph[&pair[0]][&pair[1]];
                out.push_str(&format!("    {} → {}: {at}\n", pair[0], pair[1]));
            }
        }
    }
    out
}

#[test]
fn top_level_modules_form_no_cycle_and_nothing_imports_from_main() {
    let (graph, from_main) = graph();
    // The reader did find the imports (an empty graph has no cycle and would prove nothing).
    assert!(
        graph.len() > 3,
        "only {} modules with a `crate::` path found in src/: {graph:?}",
        graph.len()
    );
    let sccs = cycles(&graph);
    let mut problems = String::new();
    if !sccs.is_empty() {
        problems.push_str(&describe(&graph, &sccs));
    }
    for m in &from_main {
        problems.push_str(&format!("import from main.rs: {m}\n"));
    }
    assert!(
        problems.is_empty(),
        "the dependency rule of architecture.md is broken (commands → stages → leaves, nothing \
         points back up, nothing imports from main.rs):\n{problems}"
    );
}

#[test]
fn the_reader_finds_every_kind_of_crate_path() {
    let none = "";
    assert_eq!(crate_paths("use crate::cli::Cli;", none), ["cli"]);
    assert_eq!(
        crate_paths(
            "use crate::{cli::Cli, failure::{Failure, Kind}, env};",
            none
        ),
        ["cli", "failure", "env"]
    );
    assert_eq!(
        crate_paths("use crate::{", "    output::Plan,\n    sts,\n};\nfn x() {}"),
        ["output", "sts"]
    );
    assert_eq!(
        crate_paths(
            "let x = crate::output_failure(e) + crate::net::retry::run();",
            none
        ),
        ["output_failure", "net"]
    );
    assert!(crate_paths("$crate::x; mycrate::y", none).is_empty());

    // A made-up graph: a → b → c → a and d → a give one cycle of three, named in order.
    let mut g = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        g.entry(from.into())
            .or_default()
            .insert(to.into(), format!("src/{from}.rs:1"));
    }
    let sccs = cycles(&g);
    assert_eq!(sccs, [["a", "b", "c"]]);
    assert!(
        describe(&g, &sccs).contains("a → b → c → a"),
        "{}",
        describe(&g, &sccs)
    );
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_files()
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` doc saying what the module owns:\n{}",
        missing.join("\n")
    );
}
