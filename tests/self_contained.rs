//! The repository stands alone: a clone with nothing beside it builds, passes its tests and
//! explains itself. This test fails, naming file and line, when a file of the repository
//! refers to something outside it (a sibling folder, or a design document the repository
//! does not hold), and checks that the captured SDK requests the tests replay are inside
//! the crate.
//!
//! The files checked are those git tracks, plus new files git would track (`git ls-files
//! --cached --others --exclude-standard`, run in the crate's directory); without git, every
//! file under the crate's directory except `target/` and `.git/`.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What must not appear in the repository. Assembled at run time, so this file's source
/// holds none of them (it is skipped anyway).
fn needles() -> Vec<String> {
    let shared = ["shared", "/"].concat();
    vec![
        // The team's reference folder beside the checkout.
        ["..", "/", &shared].concat(),
        [shared.as_str(), "fixtures"].concat(),
        // Documents that live in that folder, not in the repository.
        ["SPEC", ".md"].concat(),
        ["ARCHITECTURE", ".md"].concat(),
        ["SPEC", " §"].concat(),
        // A path built from the crate's directory that climbs out of it.
        ["CARGO_MANIFEST_DIR", "\"), \"/.."].concat(),
    ]
}

/// The repository's files, relative to [`ROOT`].
fn repository_files() -> Vec<PathBuf> {
    let git = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(ROOT)
        .output();
    match git {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(Path::new(ROOT), Path::new(""), &mut files);
            files
        }
    }
}

/// Every file below `dir`, skipping build output, git's own folder and what the fuzzer
/// writes (fuzz/.gitignore).
fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if dir.as_os_str().is_empty() && (name == "target" || name == ".git") {
            continue;
        }
        let fuzz_output = ["target", "corpus", "artifacts", "coverage", "logs"];
        if dir == Path::new("fuzz") && fuzz_output.iter().any(|o| name == *o) {
            continue;
        }
        let rel = dir.join(&name);
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(root, &rel, files),
            Ok(t) if t.is_file() => files.push(rel),
            _ => {}
        }
    }
}

/// `path:line: text` for every line of `bytes` holding one of `needles`.
fn offending_lines(path: &Path, bytes: &[u8], needles: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if needles
            .iter()
            .any(|n| line.windows(n.len()).any(|w| w == n.as_bytes()))
        {
            let text = String::from_utf8_lossy(line);
            found.push(format!("{}:{}: {}", path.display(), i + 1, text.trim()));
        }
    }
    found
}

#[test]
fn no_file_refers_outside_the_repository() {
    let needles = needles();
    let this_file = Path::new(file!());
    let files = repository_files();
    assert!(
        files.iter().any(|f| f == Path::new("Cargo.toml")),
        "the file list of {ROOT} looks wrong (no Cargo.toml)"
    );
    let mut offending = Vec::new();
    for rel in &files {
        if rel == this_file || rel.ends_with("tests/self_contained.rs") {
            continue;
        }
        // A tracked file deleted in the working tree has nothing to check.
        let Ok(bytes) = std::fs::read(Path::new(ROOT).join(rel)) else {
            continue;
        };
        offending.extend(offending_lines(rel, &bytes, &needles));
    }
    assert!(
        offending.is_empty(),
        "{} line(s) refer to something outside the repository (a clone alone has none of \
         it); point to docs/ or tests/fixtures/ instead:\n{}",
        offending.len(),
        offending.join("\n")
    );
}

#[test]
fn the_sdk_captures_are_inside_the_crate() {
    let root = Path::new(ROOT).canonicalize().unwrap();
    let dir = root.join("tests/fixtures/sentry-sdk");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    // Not a link to somewhere else either.
    let real = dir.canonicalize().unwrap();
    assert!(
        real.starts_with(&root),
        "{} resolves to {}, outside {}",
        dir.display(),
        real.display(),
        root.display()
    );
    for sdk in ["python-2.75-br", "python-2.75-gzip", "node-11.12"] {
        for n in 1..=4 {
            for ext in ["request.json", "body", "envelope"] {
                let file = real.join(format!("{sdk}/{n:03}.{ext}"));
                assert!(file.is_file(), "{} is missing", file.display());
            }
        }
    }
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let needles = needles();
    // "see <sibling folder><design document> here" on line 2.
    let sample = format!("fine\nsee {}{} here\nfine too\n", needles[0], needles[2]);
    let found = offending_lines(Path::new("x.md"), sample.as_bytes(), &needles);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("x.md:2: "), "{found:?}");
    assert!(offending_lines(Path::new("x.md"), b"docs/architecture.md", &needles).is_empty());
}
