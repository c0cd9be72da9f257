//! Files and directories only the user upkeep runs as may read: the state database (PR links,
//! hold reasons, cached registry answers), the cache of upstream clones and the email outbox.
//! Created `0700` (directories) and `0600` (files) whatever the umask; on other platforms,
//! as the platform creates them.

use std::io;
use std::path::Path;

/// `mkdir -p` with every directory it creates `0700`. Existing directories are left as they are:
/// they may be shared on purpose (e.g. a volume's mount point).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Write `bytes` to `path`, creating it `0600` (an existing file is truncated and keeps its
/// mode).
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// Make `path` readable by its owner only when it is readable by others (a file made by an
/// older version, or under a loose umask). Returns whether it changed anything.
pub fn restrict_to_owner(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_private_and_loose_ones_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("f");
        write_private(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(restrict_to_owner(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(!restrict_to_owner(&file).unwrap());
    }
}
