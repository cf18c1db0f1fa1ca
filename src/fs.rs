//! Writing files that hold secrets: staged in a temporary file beside the
//! target (mode 0600 from the first byte), then renamed into place, so a reader
//! sees the old file or the whole new one, never a part. A file that also holds
//! the user's own data (a shared AWS profile file, the config, the token store)
//! is synced to disk before the rename ([`stage`]); one that aws-oidc makes
//! whole and can make again (an env file, a cache entry of credentials that
//! expire within hours) is not ([`stage_remakeable`]): an `fsync` costs
//! 3-12 ms on a CI disk, more than the rest of the job.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file written to a temporary name, waiting to be renamed into place.
/// Dropped without [`Staged::commit`], it removes itself.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
}

impl Staged {
    /// Renames the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Ok(k @ (DestKind::Stream(_) | DestKind::Other(_) | DestKind::Symlink)) =
            fs::symlink_metadata(&self.dest).map(|m| classify(m.file_type()))
        {
            return Err(io::Error::other(format!(
                "{} became {}; refusing to replace it",
                self.dest.display(),
                k.describe()
            )));
        }
        fs::rename(&self.tmp, &self.dest)?;
        self.done = true;
        Ok(())
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// What a destination path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestKind {
    Absent,
    Regular,
    /// A character device or a fifo (`/dev/stderr`, a named pipe, bash's `>(…)`), directly or
    /// through symbolic links: written straight through, never replaced.
    Stream(&'static str),
    /// A symbolic link to anything else.
    Symlink,
    /// A directory, socket or block device.
    Other(&'static str),
}

impl DestKind {
    /// "a directory", "a fifo"… for messages.
    pub fn describe(self) -> &'static str {
        match self {
            DestKind::Absent => "missing",
            DestKind::Regular => "a file",
            DestKind::Stream(k) | DestKind::Other(k) => k,
            DestKind::Symlink => "a symbolic link",
        }
    }
}

fn classify(ft: fs::FileType) -> DestKind {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return DestKind::Stream("a character device");
        }
        if ft.is_fifo() {
            return DestKind::Stream("a fifo");
        }
        if ft.is_socket() {
            return DestKind::Other("a socket");
        }
        if ft.is_block_device() {
            return DestKind::Other("a block device");
        }
    }
    if ft.is_file() {
        DestKind::Regular
    } else if ft.is_dir() {
        DestKind::Other("a directory")
    } else if ft.is_symlink() {
        DestKind::Symlink
    } else {
        DestKind::Other("not a regular file")
    }
}

/// What `path` names now (a link is followed only to find a device or fifo behind it).
pub fn dest_kind(path: &Path) -> io::Result<DestKind> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DestKind::Absent),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(match fs::metadata(path).map(|m| classify(m.file_type())) {
            Ok(k @ DestKind::Stream(_)) => k,
            _ => DestKind::Symlink,
        });
    }
    Ok(classify(meta.file_type()))
}

/// Writes `content` into the device or fifo at `path` as it is: no new file, no rename, no
/// truncation (a fifo blocks until its reader opens it).
pub fn write_through(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    if !matches!(classify(file.metadata()?.file_type()), DestKind::Stream(_)) {
        return Err(io::Error::other(format!(
            "{} changed while being written: it is no longer a device or fifo",
            path.display()
        )));
    }
    file.write_all(content)?;
    file.flush()
}

/// Writes `content` to a private temporary file next to `dest` and syncs it to disk, for a
/// file whose loss in a crash would lose the user's data.
pub fn stage(dest: &Path, content: &[u8]) -> io::Result<Staged> {
    stage_with(dest, content, true)
}

/// [`stage`] without the sync: for a file aws-oidc writes whole and can write again (the
/// rename still makes it appear whole or not at all to a reader).
pub fn stage_remakeable(dest: &Path, content: &[u8]) -> io::Result<Staged> {
    stage_with(dest, content, false)
}

/// Refuses a symlink at `dest`: a link could point the secrets somewhere else; and anything
/// else that is not a regular file (a device, a fifo, a directory): renaming a file over it
/// would replace it.
fn stage_with(dest: &Path, content: &[u8], sync: bool) -> io::Result<Staged> {
    match fs::symlink_metadata(dest).map(|m| classify(m.file_type())) {
        Ok(DestKind::Symlink) => {
            return Err(io::Error::other(format!(
                "{} is a symbolic link; refusing to write credentials through it",
                dest.display()
            )));
        }
        Ok(k @ (DestKind::Stream(_) | DestKind::Other(_))) => {
            return Err(io::Error::other(format!(
                "{} is {}, not a file; refusing to replace it",
                dest.display(),
                k.describe()
            )));
        }
        _ => {}
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} is not a file path", dest.display())))?
        .to_string_lossy();
    sweep_stale(&dir, &name);
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    let staged = Staged {
        tmp,
        dest: dest.to_path_buf(),
        done: false,
    };
    file.write_all(content)?;
    if sync {
        file.sync_all()?;
    }
    Ok(staged)
}

/// Removes temporary files that an earlier run, killed between writing and renaming, left
/// beside `name` (they hold credentials). Only old ones: a concurrent run's file is young.
fn sweep_stale(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let is_ours = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if is_ours && old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `dir` (and parents) private to the user when it does not exist.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if dir.exists() {
        return Err(io::Error::other(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// An exclusive lock on `<file>.lock` beside a shared file, held until dropped: the
/// read-merge-replace of that file by concurrent runs then happens one run at a time.
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

/// Takes the lock of `path` (creating `<path>.lock`, mode 0600, never through a symbolic
/// link), waiting at most `wait` for another holder.
pub fn lock(path: &Path, wait: std::time::Duration) -> io::Result<Lock> {
    let mut name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} is not a file path", path.display())))?
        .to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32,
        );
    }
    let file = options.open(&lock_path).map_err(|e| {
        if fs::symlink_metadata(&lock_path).is_ok_and(|m| m.file_type().is_symlink()) {
            io::Error::other(format!(
                "{} is a symbolic link; refusing to use it as a lock",
                lock_path.display()
            ))
        } else {
            io::Error::new(e.kind(), format!("{}: {e}", lock_path.display()))
        }
    })?;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "another process has held the lock {} for over {} s",
                        lock_path.display(),
                        wait.as_secs_f32()
                    ),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Appends `content` in one write (for runner-owned files such as `GITHUB_ENV`).
pub fn append(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    file.write_all(content)?;
    file.flush()
}

/// Special files for tests: a private device node and fifos (never the system's /dev/null).
#[cfg(test)]
pub(crate) mod test_nodes {
    use std::path::{Path, PathBuf};

    #[cfg(unix)]
    pub fn private_null(dir: &Path) -> Option<PathBuf> {
        let p = dir.join("null");
        let status = std::process::Command::new("mknod")
            .args(["-m", "666"])
            .arg(&p)
            .args(["c", "1", "3"])
            .status();
        match status {
            Ok(s) if s.success() => Some(p),
            other => {
                eprintln!(
                    "skipped: mknod {} failed ({other:?}); it needs root",
                    p.display()
                );
                None
            }
        }
    }

    #[cfg(unix)]
    pub fn mkfifo(p: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {}", p.display());
    }

    #[cfg(unix)]
    pub fn is_char_device(p: &Path) -> bool {
        use std::os::unix::fs::FileTypeExt;
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_atomically_with_private_mode() {
        type Stage = fn(&Path, &[u8]) -> io::Result<Staged>;
        for (name, stage) in [("stage", stage as Stage), ("remakeable", stage_remakeable)] {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("aws.env");
            fs::write(&dest, "old").unwrap();
            let staged = stage(&dest, b"new").unwrap();
            assert_eq!(fs::read_to_string(&dest).unwrap(), "old", "{name}");
            staged.commit().unwrap();
            assert_eq!(fs::read_to_string(&dest).unwrap(), "new", "{name}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{name}"
                );
            }
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "{name}");
        }
    }

    #[test]
    fn dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("aws.env");
        drop(stage(&dest, b"x").unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &dest).unwrap();
        assert!(stage(&dest, b"x").is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }

    #[cfg(unix)]
    #[test]
    fn never_renames_over_a_fifo_or_device() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        test_nodes::mkfifo(&fifo);
        let err = stage(&fifo, b"x").expect_err("a fifo is not a file");
        assert!(err.to_string().contains("not a file"), "{err}");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        if let Some(null) = test_nodes::private_null(dir.path()) {
            assert!(stage(&null, b"x").is_err());
            assert!(test_nodes::is_char_device(&null));
        }
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2 - usize::from(!dir.path().join("null").exists())
        );
    }

    #[test]
    fn lock_waits_then_times_out_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("config");
        let held = lock(&dest, std::time::Duration::from_secs(1)).unwrap();
        let start = std::time::Instant::now();
        let err = lock(&dest, std::time::Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("config.lock"), "{err}");
        assert!(start.elapsed() >= std::time::Duration::from_millis(200));
        drop(held);
        lock(&dest, std::time::Duration::from_millis(200)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("config.lock"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn lock_refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("config");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("config.lock"))
            .unwrap();
        let err = lock(&dest, std::time::Duration::from_millis(100)).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!dir.path().join("elsewhere").exists());
    }
}
