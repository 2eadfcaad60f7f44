//! Repository hygiene: every Rust file opens with a `//!` line saying what it holds, and
//! `unsafe` code lives only in the files named here.

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
        "engine/src/distance/x86.rs",
        "AVX2 / AVX-512 intrinsics (loads)",
    ),
    (
        "engine/src/distance/sq8.rs",
        "the 8-bit dot product's AVX2 / AVX-512 intrinsics and their dispatch",
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
