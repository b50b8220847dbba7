//! The crate's folders import only downward, along the request path, and no two modules import
//! each other. This reads `src/` and fails naming every import that breaks either rule, so a
//! change that makes `config` reach up into `auth`, or `aws` into `store`, fails the build's
//! tests rather than a review.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level folders of `src/`, highest first. A module may import one ranked lower (a larger
/// number) or anything inside its own folder; never one ranked the same or higher.
const LAYERS: &[(&str, u8)] = &[
    ("app", 0),
    ("http", 1),
    ("usecase", 2),
    ("ops", 2),
    ("provision", 3),
    ("aws", 4),
    ("store", 4),
    ("auth", 5),
    ("policy", 5),
    ("runtime", 6),
    ("config", 7),
    ("identity", 8),
];

fn rank(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == top).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`: `src/usecase/vend/keys.rs` -> [usecase, vend, keys].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

/// Every `crate::a::b` a file names outside comments, as [a, b] (b when it is a module-like
/// lower-case name).
fn imports(text: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            let path: Vec<String> = tail
                .split("::")
                .map(|seg| {
                    seg.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|seg| !seg.is_empty() && seg.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .take(2)
                .collect();
            if !path.is_empty() {
                found.insert(path);
            }
            rest = tail;
        }
    }
    found
}

#[test]
fn imports_point_down_the_request_path_and_no_two_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut unranked = BTreeSet::new();
    // Edges between second-level modules inside one folder (usecase::admin -> usecase::vend).
    let mut inner: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(top) = module.first().cloned() else { continue };
        if top == "bin" {
            continue; // the command line sits above everything, like app
        }
        let text = fs::read_to_string(file).expect("a readable source file");
        let Some(from) = rank(&top) else {
            unranked.insert(top);
            continue;
        };
        for target in imports(&text) {
            let to_top = &target[0];
            if *to_top == top {
                if let (Some(a), Some(b)) = (module.get(1), target.get(1))
                    && a != b
                {
                    inner
                        .entry(format!("{top}::{a}"))
                        .or_default()
                        .insert(format!("{top}::{b}"));
                }
                continue;
            }
            match rank(to_top) {
                Some(to) if to > from => {}
                Some(_) => upward.push(format!("{} imports crate::{}", file.display(), target.join("::"))),
                None => {
                    unranked.insert(to_top.clone());
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for (a, targets) in &inner {
        for b in targets {
            if a < b && inner.get(b).is_some_and(|back| back.contains(a)) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        unranked.is_empty(),
        "folders missing from LAYERS in tests/layers.rs: {unranked:?}"
    );
    assert!(
        upward.is_empty() && cycles.is_empty(),
        "imports against the layer order (tests/layers.rs):\n{}\nmodules importing each other:\n{}",
        upward.join("\n"),
        cycles.join("\n")
    );
}

/// Files under `src/` (relative paths) whose code, outside comments, contains `needle`.
fn files_naming(needle: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut hits: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = fs::read_to_string(file).expect("a readable source file");
            text.lines()
                .any(|line| line.split("//").next().unwrap_or("").contains(needle))
        })
        .map(|file| file.strip_prefix(&src).expect("under src/").display().to_string())
        .collect();
    hits.sort();
    hits
}

#[test]
fn only_the_aws_folder_names_an_aws_sdk_type() {
    let mut outside = Vec::new();
    for sdk in [
        "aws_sdk_",
        "aws_smithy_",
        "aws_config",
        "aws_sigv4",
        "aws_credential_types",
    ] {
        for file in files_naming(sdk) {
            if !file.starts_with("aws/") {
                outside.push(format!("{file} names {sdk}*"));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "AWS SDK types outside src/aws/:\n{}",
        outside.join("\n")
    );
}

#[test]
fn the_http_edge_reaches_the_rest_only_through_the_use_cases() {
    // Besides its own modules, http may use the use cases and the leaf layers (parsed values,
    // settings, metrics and clock): never the store, AWS, provisioning, tokens or templates.
    let allowed = ["http", "usecase", "runtime", "config", "identity"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("http"), &mut files);
    let mut reached = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("a readable source file");
        for target in imports(&text) {
            if !allowed.contains(&target[0].as_str()) {
                reached.push(format!("{} imports crate::{}", file.display(), target.join("::")));
            }
        }
    }
    assert!(
        reached.is_empty(),
        "http reaching past the use cases:\n{}",
        reached.join("\n")
    );
}

#[test]
fn the_store_speaks_domain_types_not_the_wire_format() {
    let schemas: Vec<String> = files_naming("utoipa")
        .into_iter()
        .filter(|file| file.starts_with("store/"))
        .collect();
    assert!(schemas.is_empty(), "API schemas derived in the store: {schemas:?}");
}
