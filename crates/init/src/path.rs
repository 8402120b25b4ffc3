//! The PATH search of execvp(3), with the exec itself injected so the rules are unit-tested.

use core::ffi::CStr;

use crate::sys::Errno;

/// Used when the environment has no PATH: Docker's default for Linux containers.
// Ref: moby's oci.DefaultPathEnv (glibc would use confstr(_CS_PATH), "/bin:/usr/bin").
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest path tried, with its NUL (Linux PATH_MAX).
const PATH_MAX: usize = 4096;

/// Executes `file` as execvp(3) does: directly when it contains a slash, otherwise from each
/// directory of `path` in turn (an empty entry means the current directory). `exec` is called
/// with each candidate and returns only on failure. Returns the error to report: the first
/// that is not "not here" (ENOENT and the like), else EACCES if any candidate was denied, else
/// ENOENT.
///
/// Unlike glibc, a file the kernel cannot execute (ENOEXEC) is not handed to /bin/sh, as with
/// musl, runc and Docker.
// Ref: glibc posix/execvpe.c __execvpe_common().
pub fn exec_search<F>(file: &[u8], path: &[u8], mut exec: F) -> Errno
where
    F: FnMut(&CStr) -> Errno,
{
    let mut buf = [0u8; PATH_MAX];
    if file.is_empty() {
        return Errno(libc::ENOENT);
    }
    if file.contains(&b'/') {
        return match join(&mut buf, &[], file) {
            Some(candidate) => exec(candidate),
            None => Errno(libc::ENAMETOOLONG),
        };
    }
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        // A candidate too long for the kernel is skipped, as glibc does.
        let Some(candidate) = join(&mut buf, dir, file) else {
            continue;
        };
        match exec(candidate) {
            Errno(libc::EACCES) => denied = true,
            Errno(libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT) => {}
            other => return other,
        }
    }
    Errno(if denied { libc::EACCES } else { libc::ENOENT })
}

/// `dir/file` (just `file` when `dir` is empty), NUL-terminated in `buf`; `None` if it does not
/// fit or holds a NUL byte.
fn join<'b>(buf: &'b mut [u8; PATH_MAX], dir: &[u8], file: &[u8]) -> Option<&'b CStr> {
    let slash = usize::from(!dir.is_empty());
    let len = dir.len() + slash + file.len();
    if len >= buf.len() {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir);
    buf[dir.len()..dir.len() + slash].copy_from_slice(&b"/"[..slash]);
    buf[dir.len() + slash..len].copy_from_slice(file);
    buf[len] = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search with a fake exec that fails with `errors` in turn (ENOENT after them)
    /// and records what was tried.
    fn search(file: &str, path: &str, errors: &[i32]) -> (Errno, Vec<String>) {
        let mut tried = Vec::new();
        let result = exec_search(file.as_bytes(), path.as_bytes(), |candidate| {
            let errno = errors.get(tried.len()).copied().unwrap_or(libc::ENOENT);
            tried.push(candidate.to_str().unwrap().to_owned());
            Errno(errno)
        });
        (result, tried)
    }

    #[test]
    fn tries_each_directory_in_order() {
        let (result, tried) = search("ls", "/a:/b/:/c", &[]);
        assert_eq!(result, Errno(libc::ENOENT));
        assert_eq!(tried, ["/a/ls", "/b//ls", "/c/ls"]);
    }

    #[test]
    fn empty_entry_is_current_directory() {
        let (_, tried) = search("ls", "/a::/b:", &[]);
        assert_eq!(tried, ["/a/ls", "ls", "/b/ls", "ls"]);
    }

    #[test]
    fn slash_means_no_search() {
        let (result, tried) = search("./run.sh", "/a:/b", &[libc::EACCES]);
        assert_eq!(result, Errno(libc::EACCES));
        assert_eq!(tried, ["./run.sh"]);
    }

    #[test]
    fn denied_is_reported_when_nothing_else_is_found() {
        let (result, tried) = search("x", "/a:/b:/c", &[libc::EACCES, libc::ENOTDIR]);
        assert_eq!(result, Errno(libc::EACCES));
        assert_eq!(tried.len(), 3);
    }

    #[test]
    fn other_errors_stop_the_search() {
        let (result, tried) = search("x", "/a:/b:/c", &[libc::ENOENT, libc::ENOEXEC]);
        assert_eq!(result, Errno(libc::ENOEXEC));
        assert_eq!(tried, ["/a/x", "/b/x"]);
    }

    #[test]
    fn empty_file_is_not_found() {
        let (result, tried) = search("", "/a", &[]);
        assert_eq!(result, Errno(libc::ENOENT));
        assert!(tried.is_empty());
    }

    #[test]
    fn too_long_candidates_are_skipped() {
        let long_dir = "/d".repeat(PATH_MAX / 2);
        let path = format!("{long_dir}:/bin");
        let (_, tried) = search("sh", &path, &[]);
        assert_eq!(tried, ["/bin/sh"]);
        let long_file = "f/".repeat(PATH_MAX / 2);
        let (result, tried) = search(&long_file, "/bin", &[]);
        assert_eq!(result, Errno(libc::ENAMETOOLONG));
        assert!(tried.is_empty());
    }
}
