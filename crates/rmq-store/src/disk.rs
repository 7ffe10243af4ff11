//! Disk space: the used-space ratio of the partition holding a path (docs/store/cleanup.md,
//! `UtilAll.getDiskPartitionSpaceUsedPercent`) and real space reservation for new files.
//!
//! Segments are read (and, after the append-path rewrite, written) through mappings. A sparse
//! file made with `set_len` has no blocks behind it, so on a full file system (tmpfs in
//! particular) a later store into the mapping dies with SIGBUS. [`reserve`] allocates the
//! blocks with `fallocate` before any store into them, so a full disk fails as an error the put
//! path can turn into a refused write, and never as a signal. Segments reserve in chunks ahead of
//! the writer ([`reserve_range`], `MappedFile::ensure_reserved`), not whole at creation: 1 024
//! consume queues would otherwise hold 5.7 GiB of blocks for a few entries each.

use std::fs::File;
use std::io;
use std::path::Path;

/// Fraction (0.0-1.0) of the partition holding `path` that is in use, rounded up to whole
/// percents as Java does: `ceil(used × 100 / (used + usable)) / 100` with `used = total − free`
/// and `usable` the space available to unprivileged users. `None` if the path cannot be
/// examined (Java's −1).
pub fn used_ratio(path: &Path) -> Option<f64> {
    let st = rustix::fs::statvfs(path).ok()?;
    let unit = if st.f_frsize > 0 { st.f_frsize } else { st.f_bsize };
    let total = st.f_blocks.checked_mul(unit)?;
    if total == 0 {
        return None;
    }
    let used = total.saturating_sub(st.f_bfree.saturating_mul(unit));
    let entire = used + st.f_bavail.saturating_mul(unit);
    if entire == 0 {
        return None;
    }
    let percent = (used as u128 * 100).div_ceil(entire as u128);
    Some(percent as f64 / 100.0)
}

/// (total bytes, bytes available to unprivileged users) of the partition holding `path`
/// (`File.getTotalSpace` / `getUsableSpace`).
pub fn space(path: &Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    let unit = if st.f_frsize > 0 { st.f_frsize } else { st.f_bsize };
    Some((st.f_blocks.checked_mul(unit)?, st.f_bavail.checked_mul(unit)?))
}

/// Allocate blocks for `[offset, offset + len)` of `file` (within its length, which does not
/// change). Where the file system cannot preallocate (`EOPNOTSUPP`) this is a no-op: the file
/// stays sparse, as before. `ENOSPC` comes back as an error.
pub fn reserve_range(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, offset, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => Ok(()),
        Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error())),
    }
}

/// True for "no space left on device" (and "disk quota exceeded"), anywhere in a store error.
pub fn is_out_of_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error()
        || code == rustix::io::Errno::DQUOT.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_of_a_real_path_is_a_fraction() {
        let dir = tempfile::tempdir().unwrap();
        let r = used_ratio(dir.path()).expect("statvfs of a temp dir");
        assert!((0.0..=1.0).contains(&r), "{r}");
        assert!(used_ratio(&dir.path().join("missing/dir")).is_none());
    }

    #[test]
    fn reserve_allocates_blocks() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("f")).unwrap();
        f.set_len(4 << 20).unwrap();
        reserve_range(&f, 0, 1 << 20).unwrap();
        let m = f.metadata().unwrap();
        assert_eq!(m.len(), 4 << 20, "the length is unchanged");
        // 512-byte blocks; a sparse file would have (almost) none.
        assert!(m.blocks() * 512 >= 1 << 20, "blocks {}", m.blocks());
        assert!(
            m.blocks() * 512 < 4 << 20,
            "only the range is allocated: blocks {}",
            m.blocks()
        );
        assert!(is_out_of_space(&io::Error::from_raw_os_error(28)));
        assert!(!is_out_of_space(&io::Error::from(io::ErrorKind::NotFound)));
    }
}
