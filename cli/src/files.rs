//! Private files: written whole (temp file + rename, so a reader never sees half a token) and
//! readable by the owner only.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::CliError;

/// Mode of every file holding a token.
pub const PRIVATE: u32 = 0o600;

/// Replaces `path` with `contents`: writes a temp file next to it with `mode`, syncs it and
/// renames it over `path`. Creates the parent directory (0700) when missing.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = open_new(&tmp, mode)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(CliError::io(format!("cannot write {}", path.display())))
}

/// The mode of an existing file, to keep it when the file is rewritten.
pub fn existing_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

pub fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(CliError::io(format!("cannot create {}", dir.display())))
}

fn open_new(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(path)?;
    // The umask may have taken bits away; set exactly what was asked for.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// An exclusive lock on `<path>.lock`, held until dropped. Refresh tokens are single use (the
/// identity provider revokes the whole grant when one is presented twice), so two processes
/// sharing a session (token-file and credential-process) must not refresh at the same time.
pub struct Lock(#[allow(dead_code)] File);

pub fn lock(path: &Path) -> Result<Lock, CliError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = Path::new(&lock_path);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE);
    }
    let file = options
        .open(lock_path)
        .map_err(CliError::io(format!("cannot open {}", lock_path.display())))?;
    file.lock()
        .map_err(CliError::io(format!("cannot lock {}", lock_path.display())))?;
    Ok(Lock(file))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_creates_the_directory_and_sets_the_mode_despite_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/token");
        write_atomic(&path, b"Bearer x", PRIVATE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"Bearer x");
        assert_eq!(existing_mode(&path), Some(0o600));
        write_atomic(&path, b"Bearer y", PRIVATE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"Bearer y");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file is left behind");
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        let first = lock(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let t = std::thread::spawn(move || {
            let _second = lock(&p).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }
}
