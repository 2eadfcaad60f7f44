//! Repository hygiene: every Rust file opens with a `//!` line saying what it holds,
//! `unsafe` code lives only in the files named here, and the engine's layers point one way
//! (the database stands on its collections, never the reverse).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The workspace root and every Rust file of its crates.
fn workspace_rust_files() -> (&'static Path, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for crate_dir in ["engine", "server", "python", "benches"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    (root, files)
}

#[test]
fn every_rust_file_starts_with_a_module_doc_line() {
    let (root, files) = workspace_rust_files();
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        root.display()
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:?}"
    );
}

/// The files allowed to hold `unsafe` code, and why. Adding one means a new reason that no
/// safe abstraction in these files can serve; the list is ARCHITECTURE.md's "Unsafe" line.
const UNSAFE_FILES: &[(&str, &str)] = &[
    (
        "engine/src/store/mmap.rs",
        "every memory map, and the view of a private map as atomic words",
    ),
    (
        "engine/src/distance/mod.rs",
        "calls into #[target_feature] kernels after the CPU check; the prefetch hint",
    ),
    (
        "engine/src/embed/matmul.rs",
        "the call into matrixmultiply's sgemm, behind a bounds-checked safe function",
    ),
    (
        "engine/src/distance/x86.rs",
        "AVX2 / AVX-512 intrinsics (loads)",
    ),
    (
        "engine/src/distance/sq8.rs",
        "the 8-bit dot product's AVX2 / AVX-512 intrinsics and their dispatch",
    ),
    (
        "engine/src/scheduler/priority.rs",
        "libc's nice(), lowering a background thread's priority (no safe wrapper in std)",
    ),
    (
        "engine/src/search/hnsw/huge_pages.rs",
        "libc's madvise(MADV_HUGEPAGE) on the graph's own vectors (no safe wrapper in std)",
    ),
];

/// The keyword, spelled so that this file does not hold it.
const KEYWORD: &str = concat!("un", "safe");

/// Whether `line` holds the keyword `unsafe` outside a `//` comment (`unsafe_code` and the
/// like are other words).
fn has_unsafe_keyword(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices(KEYWORD).any(|(at, word)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn unsafe_code_lives_only_in_the_listed_files() {
    let (root, files) = workspace_rust_files();
    let mut holding: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .any(has_unsafe_keyword)
        })
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect();
    holding.sort();
    let mut allowed: Vec<String> = UNSAFE_FILES.iter().map(|(f, _)| f.to_string()).collect();
    allowed.sort();
    let outside: Vec<&String> = holding.iter().filter(|f| !allowed.contains(f)).collect();
    assert!(
        outside.is_empty(),
        "`{KEYWORD}` outside the allowed files: {outside:?}. Put it behind a safe function \
         in store/mmap.rs (mappings) or the distance kernels, or add the file to UNSAFE_FILES \
         with its reason (and to ARCHITECTURE.md)"
    );
    // The list stays the truth: a file that no longer needs `unsafe` leaves it.
    let stale: Vec<&String> = allowed.iter().filter(|f| !holding.contains(f)).collect();
    assert!(
        stale.is_empty(),
        "listed in UNSAFE_FILES but holding no `{KEYWORD}`: {stale:?}"
    );
}

#[test]
fn the_unsafe_detector_sees_the_keyword_only() {
    let k = KEYWORD;
    assert!(has_unsafe_keyword(&format!("    {k} {{ f() }}")));
    assert!(has_unsafe_keyword(&format!("pub {k} fn f() {{}}")));
    assert!(has_unsafe_keyword(&format!("let x = {k}{{ y }};")));
    assert!(!has_unsafe_keyword(&format!("#![forbid({k}_code)]")));
    assert!(!has_unsafe_keyword(&format!("{k}_op_in_{k}_fn = 1")));
    assert!(!has_unsafe_keyword(&format!("// SAFETY: this {k} block")));
    assert!(!has_unsafe_keyword(&format!("//! no `{k}` here")));
}

/// The code of a source file as the layering check reads it: up to its `#[cfg(test)]` module
/// (a unit test may build a whole database), without comments (docs may name the database).
fn code_outside_tests_and_comments(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `code` names the database layer: the `db` module as a path (`crate::db::`,
/// `super::db::`, ...), `Database` or `DbInner`.
fn names_of_the_database_layer(code: &str) -> Vec<&'static str> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let word_at = |word: &str, i: usize| {
        code[..i].chars().next_back().is_none_or(|c| !is_ident(c))
            && code[i + word.len()..]
                .chars()
                .next()
                .is_none_or(|c| !is_ident(c))
    };
    let mut found = Vec::new();
    for (word, label) in [
        ("db", "the `db` module"),
        ("Database", "`Database`"),
        ("DbInner", "`DbInner`"),
    ] {
        let hit = code.match_indices(word).any(|(i, _)| {
            word_at(word, i) && (word != "db" || code[i + word.len()..].starts_with("::"))
        });
        if hit {
            found.push(label);
        }
    }
    found
}

#[test]
fn the_layering_check_sees_what_it_forbids() {
    assert_eq!(
        names_of_the_database_layer("use crate::db::DbInner;"),
        ["the `db` module", "`DbInner`"]
    );
    assert_eq!(
        names_of_the_database_layer("use crate::{Database, db};\nsuper::db::x()"),
        ["the `db` module", "`Database`"]
    );
    assert!(names_of_the_database_layer("self.db.sidecar; DbShared::new(); my_db::f()").is_empty());
    assert!(
        names_of_the_database_layer(&code_outside_tests_and_comments(
            "/// [`Database`](crate::Database)\nfn f() {} // Database\n#[cfg(test)]\nuse crate::db;"
        ))
        .is_empty()
    );
}

/// `db.rs` opens collections and holds their per-process state; a collection handle gets
/// what it needs of the database (`DbShared`) when it is made, so `collection/` never reaches
/// back into `db`: the two would otherwise be one tangle that changes together.
#[test]
fn collection_code_never_reaches_back_into_the_database() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collection");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("mod.rs")),
        "no collection module under {}",
        dir.display()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let code = code_outside_tests_and_comments(&std::fs::read_to_string(f).unwrap());
            let names = names_of_the_database_layer(&code);
            let file = f.file_name().unwrap().to_string_lossy();
            (!names.is_empty()).then(|| format!("collection/{file} names {}", names.join(", ")))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "collection/ must not depend on db.rs (move the code into collection/ or hand the \
         collection what it needs through `DbShared`): {offenders:?}"
    );
}

/// The SQLite words a file names when it reaches the sidecar: the driver or the module that
/// wraps it.
fn names_of_sqlite(code: &str) -> Vec<&'static str> {
    [
        "rusqlite",
        "crate::meta",
        "super::meta",
        "Transaction",
        "Connection",
    ]
    .into_iter()
    .filter(|word| code.contains(word))
    .collect()
}

#[test]
fn the_sqlite_check_sees_what_it_forbids() {
    let code = code_outside_tests_and_comments("use rusqlite::Transaction;\n// crate::meta\n");
    assert_eq!(names_of_sqlite(&code), ["rusqlite", "Transaction"]);
}

/// `filter/` is chromadb's filter language (parse, validate, evaluate); `meta/sql` executes it
/// against SQLite. Keeping SQLite out of `filter/` keeps its evaluator an independent oracle
/// for the SQL execution.
#[test]
fn the_filter_language_knows_nothing_of_sqlite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/filter");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("parse.rs")),
        "no filter parser under {}",
        dir.display()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let code = code_outside_tests_and_comments(&std::fs::read_to_string(f).unwrap());
            let names = names_of_sqlite(&code);
            let file = f.file_name().unwrap().to_string_lossy();
            (!names.is_empty()).then(|| format!("filter/{file} names {}", names.join(", ")))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "filter/ must not know SQLite (SQL belongs in meta/sql): {offenders:?}"
    );
}
