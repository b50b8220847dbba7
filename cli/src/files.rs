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

/// The directory holding the session: created 0700 when missing, and refused when it exists
/// and group or others have any access to it (as ssh treats `~/.ssh`).
pub fn ensure_private_dir(dir: &Path) -> Result<(), CliError> {
    create_private_dir(dir)?;
    check_private_dir(dir)
}

/// Refuses a directory that group or others can read, enter or write. A missing one passes:
/// reading from it fails on its own, and writing creates it private.
pub fn check_private_dir(dir: &Path) -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match fs::metadata(dir) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CliError::io(format!("cannot inspect {}", dir.display()))(e)),
        };
        if mode & 0o077 != 0 {
            return Err(CliError::SharedDirectory {
                dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates `dir` and any missing parent with mode 0700; an existing directory is left as it is
/// (the token file's and the AWS config's directories are the user's to choose).
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

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_session_directory_is_created_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config/stsvend");
        ensure_private_dir(&config).unwrap();
        assert_eq!(existing_mode(&config), Some(0o700));
        assert_eq!(existing_mode(config.parent().unwrap()), Some(0o700));
        ensure_private_dir(&config).unwrap();
    }

    #[test]
    fn a_session_directory_with_group_or_other_bits_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("stsvend");
        fs::create_dir(&config).unwrap();
        for mode in [0o755, 0o750, 0o701, 0o710, 0o702, 0o770, 0o777] {
            set_mode(&config, mode);
            match ensure_private_dir(&config) {
                Err(CliError::SharedDirectory { dir, mode: seen }) => {
                    assert_eq!((dir, seen), (config.clone(), mode));
                }
                other => panic!("{mode:o}: {other:?}"),
            }
            assert!(check_private_dir(&config).is_err(), "{mode:o}");
        }
        for mode in [0o700, 0o500] {
            set_mode(&config, mode);
            check_private_dir(&config).unwrap();
        }
        set_mode(&config, 0o700);
        assert!(check_private_dir(&dir.path().join("missing")).is_ok());
    }

    #[test]
    fn other_directories_are_created_private_but_not_judged() {
        // The token file's directory may be shared with the container that reads it.
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        set_mode(&run, 0o755);
        write_atomic(&run.join("token"), b"Bearer x", PRIVATE).unwrap();
        assert_eq!(existing_mode(&run), Some(0o755));
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
