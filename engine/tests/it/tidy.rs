//! Repository hygiene: every Rust file opens with a `//!` line saying what it holds, and the
//! engine's layers point one way (the database stands on its collections, never the reverse).

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

#[test]
fn every_rust_file_starts_with_a_module_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for crate_dir in ["engine", "server", "python", "benches"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
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
